"""Explaining models: Captum attributions, CASANet attention, localisation against ground truth.

    >>> from mewb.explain import attribute, saliency_volume, overlay, list_methods
    >>> a = attribute(model, {"frames": x, "flow": f}, "gradcam")   # maps per input, (N, C, T, H, W)
    >>> vol = saliency_volume(a)                                     # (N, T, H, W), flow on frames 1..T-1

Methods (``ATTRIBUTION_METHODS``): integrated_gradients, saliency, gradcam, guided_gradcam,
occlusion, attention. Everything here returns arrays, tensors or DataFrames; figures live in
``mewb.viz``. Modules: ``adapter`` (dict model -> Captum), ``base`` (``attribute``), one file per
method, ``attention`` (CASANet maps), ``volume`` (per-frame volumes, overlays, error heatmaps),
``localisation`` (ground truth, energy share, pointing game, deletion), ``evaluate`` (the
method x variant table), ``runs`` (fold models of LOSO runs), ``embeddings`` (UMAP/PCA),
``robustness`` (test-time perturbations), ``timing``.
"""

from mewb.explain import attention as _attention  # noqa: F401  (registers "attention")
from mewb.explain import gradcam as _gradcam  # noqa: F401
from mewb.explain import guided_gradcam as _guided_gradcam  # noqa: F401
from mewb.explain import integrated_gradients as _integrated_gradients  # noqa: F401
from mewb.explain import occlusion as _occlusion  # noqa: F401
from mewb.explain import saliency as _saliency  # noqa: F401
from mewb.explain.adapter import PositionalModel, prepare, without_inplace
from mewb.explain.attention import attention_maps
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution, attribute, list_methods
from mewb.explain.embeddings import fold_embeddings, pca_2d, project_2d, run_embeddings, umap_2d
from mewb.explain.evaluate import localisation_findings, localisation_table, score_fold_models, score_runs
from mewb.explain.localisation import (
    deletion_curve,
    deletion_scores,
    energy_share,
    ground_truth,
    localisation_scores,
    pointing_game,
    region_volume,
)
from mewb.explain.robustness import PERTURBATIONS, perturb, robustness_table, run_robustness
from mewb.explain.runs import FoldModels
from mewb.explain.timing import time_methods
from mewb.explain.volume import (
    display_overlay,
    error_heatmaps,
    frames_from_tensor,
    normalise_saliency,
    overlay,
    saliency_volume,
)

__all__ = [
    "ATTRIBUTION_METHODS",
    "PERTURBATIONS",
    "Attribution",
    "FoldModels",
    "PositionalModel",
    "attention_maps",
    "attribute",
    "deletion_curve",
    "deletion_scores",
    "energy_share",
    "error_heatmaps",
    "fold_embeddings",
    "frames_from_tensor",
    "ground_truth",
    "list_methods",
    "localisation_scores",
    "localisation_findings",
    "localisation_table",
    "normalise_saliency",
    "overlay",
    "display_overlay",
    "pca_2d",
    "perturb",
    "pointing_game",
    "prepare",
    "project_2d",
    "region_volume",
    "robustness_table",
    "run_embeddings",
    "run_robustness",
    "saliency_volume",
    "score_fold_models",
    "score_runs",
    "time_methods",
    "umap_2d",
    "without_inplace",
]
