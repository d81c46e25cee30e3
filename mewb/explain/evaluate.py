"""The table "is the map right?": every attribution method on every variant, scored on SynthME.

For each run (one variant, LOSO), each test sample is explained by its fold model (see
``runs.py``) for the class it predicted; its per-frame saliency volume ``(T, H, W)`` is scored
against the ground-truth region (``localisation.py``) and by deletion against random deletion.

    >>> scores = score_runs(["runs/full", "runs/dual"], clips_per_subject=4)   # one row per clip x method
    >>> localisation_table(scores)                                             # method x variant means
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from mewb.data.pipeline import ClipPipeline
from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample
from mewb.explain.adapter import prepare
from mewb.explain.base import attribute
from mewb.explain.localisation import (
    DEFAULT_FRACTIONS,
    curve_auc,
    deletion_curve,
    ground_truth,
    localisation_scores,
    region_volume,
)
from mewb.explain.regions import face_regions, region_masks, region_shares
from mewb.explain.volume import saliency_volume

DEFAULT_METHODS = ("saliency", "integrated_gradients", "gradcam", "guided_gradcam", "occlusion", "attention")
# Cheaper settings for scoring many clips (the defaults of each method are for one clip).
TABLE_OPTIONS: dict[str, dict] = {
    "integrated_gradients": {"n_steps": 32},
    "occlusion": {"window": (4, 16, 16), "stride": (4, 16, 16)},  # 2 x 4 x 4 windows per input
}
TABLE_FRACTIONS = tuple(np.round(np.linspace(0.0, 1.0, 11), 4))


def supports(model: nn.Module, method: str) -> bool:
    """Whether ``method`` applies to ``model`` (``attention`` needs CASANet)."""
    base = getattr(model, "model", model)
    return method != "attention" or bool(getattr(base, "attention_modules", lambda: [])())


def score_clip(
    model: nn.Module,
    inputs: Mapping[str, torch.Tensor],
    gt: Mapping[str, np.ndarray],
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    method_options: Mapping[str, dict] | None = None,
    region: str = "mask",
    extra_regions: Sequence[str] = ("motion",),
    target: int | None = None,
    fractions: Sequence[float] = TABLE_FRACTIONS,
    deletion: bool = True,
    n_random: int = 3,
    seed: int = 0,
    face_masks: Mapping[str, np.ndarray] | None = None,
) -> list[dict]:
    """One row per method for one clip: localisation scores, deletion AUCs and the seconds taken.

    ``face_masks`` (:func:`mewb.explain.regions.region_masks`, ``(H, W)`` each) add the map's
    energy share per facial region as ``share_<region>`` columns (and ``share_other``).

    ``inputs`` has a batch of 1; ``gt`` is :func:`~mewb.explain.localisation.ground_truth`.
    Localisation columns score ``region``; each of ``extra_regions`` adds the same columns with
    a ``_<region>`` suffix (the attribution is computed once). The random-deletion curve is
    computed once per clip and shared by the methods.
    """
    adapter = prepare(model)
    inputs = {m: inputs[m] for m in adapter.modalities}
    options = {**TABLE_OPTIONS, **(method_options or {})}
    with torch.no_grad():
        probs = torch.softmax(adapter(*inputs.values()), dim=1)[0]
    target = int(probs.argmax()) if target is None else int(target)
    regions = {"": region_volume(gt, region)}
    regions.update({f"_{r}": region_volume(gt, r) for r in extra_regions if r != region})
    random_auc = np.nan
    if deletion:
        randoms = [
            deletion_curve(adapter, inputs, None, target=target, fractions=fractions, seed=seed + i) for i in range(n_random)
        ]
        random_auc = curve_auc(fractions, np.mean(randoms, axis=0))
    rows = []
    for method in methods:
        if not supports(adapter, method):
            continue
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Captum's notes on requires_grad and ReLU hooks
            result = attribute(adapter, inputs, method, target=target, **options.get(method, {}))
        seconds = time.perf_counter() - start
        volume = saliency_volume(result, channels="abs")[0]  # (T, H, W) energy per voxel
        row = {"method": method, "target": target, "prob": float(probs[target]), "seconds": seconds}
        for suffix, mask in regions.items():
            row.update({f"{k}{suffix}": v for k, v in localisation_scores(volume, mask, seed=seed).items()})
        if face_masks is not None:
            row.update({f"share_{k}": v for k, v in region_shares(volume, face_masks).items()})
        if deletion:
            curve = deletion_curve(adapter, inputs, volume, target=target, fractions=fractions, seed=seed)
            row["deletion_auc"] = curve_auc(fractions, curve)
            row["random_deletion_auc"] = random_auc
        rows.append(row)
    return rows


def score_fold_models(
    fold_models: Mapping[str, nn.Module],
    samples: Sequence[Sample],
    config: PreprocessConfig,
    *,
    variant: str = "",
    cache=None,
    clips_per_subject: int | None = None,
    progress: bool = True,
    **score_options,
) -> pd.DataFrame:
    """Score every sample with the fold model that tested it; one row per clip x method.

    ``fold_models`` maps a fold to its model: a :class:`~mewb.explain.runs.FoldModels` (whose
    ``key_of`` names each sample's fold) or a plain dict keyed by test subject. Samples without
    a fold model are skipped with a warning naming their folds. ``clips_per_subject`` limits
    the clips scored per subject (the first ones in ``samples`` order).
    """
    from tqdm.auto import tqdm

    from mewb.explain.runs import fold_key

    by_fold: dict[str, list[Sample]] = {}
    for s in samples:
        by_fold.setdefault(fold_key(fold_models, s), []).append(s)
    missing = sorted(k for k in by_fold if k not in fold_models)
    if missing:
        warnings.warn(f"{variant or 'run'}: no fold model for {missing}; their clips are skipped")
    todo = []
    for key in sorted(by_fold):
        if key not in fold_models:
            continue
        per_subject: dict[str, int] = {}
        for s in by_fold[key]:
            per_subject[s.subject] = per_subject.get(s.subject, 0) + 1
            if clips_per_subject is None or per_subject[s.subject] <= clips_per_subject:
                todo.append((key, s))
    rows = []
    current, adapter = None, None
    base_seed = score_options.pop("seed", 0)
    for index, (key, sample) in enumerate(tqdm(todo, desc=f"explain {variant}", unit="clip", disable=not progress)):
        if key != current:
            adapter, current = prepare(fold_models[key]), key
        inputs = ClipPipeline(config, adapter.modalities, cache).inputs(sample)
        size = tuple(next(iter(inputs.values())).shape[3:])
        gt = ground_truth(sample, config, size=size)
        landmarks, source = face_regions(sample, size[0])
        masks = region_masks(landmarks, size)
        # Each clip its own random maps and deletion orders (the same for every variant and method):
        # one seed for all would score every clip against the same 20 random peaks.
        for row in score_clip(adapter, inputs, gt, seed=base_seed + 1000 * index, face_masks=masks, **score_options):
            rows.append(
                {"variant": variant, "fold": key, "subject": sample.subject, "clip": sample.clip, "label": sample.label,
                 "landmarks": source, **row}
            )
    return pd.DataFrame(rows)


def score_runs(
    run_dirs: Sequence[str],
    *,
    data_root: str | None = None,
    cache=None,
    clips_per_subject: int | None = None,
    progress: bool = True,
    **score_options,
) -> pd.DataFrame:
    """:func:`score_fold_models` over LOSO run directories; rows of all runs.

    The ``variant`` column names each run by its variant; where several runs share a variant (two
    seeds, two CASANet placements) each is told apart by its folder, ``full (full-seed1)``, so that
    :func:`localisation_table` never averages two runs into one row.
    """
    from mewb.explain.runs import FoldModels, run_samples
    from mewb.rundir import RunDir, distinct_labels

    runs = [RunDir.open(run_dir) for run_dir in run_dirs]
    frames = []
    for run, label in zip(runs, distinct_labels([run.variant for run in runs], run_dirs)):
        samples = run_samples(run, data_root)
        frame = score_fold_models(
            FoldModels(run),
            samples,
            run.preprocess,
            variant=label,
            cache=cache,
            clips_per_subject=clips_per_subject,
            progress=progress,
            **score_options,
        )
        if not frame.empty:
            names = run.class_names
            frame.insert(frame.columns.get_loc("label") + 1, "class", [names[int(k)] for k in frame["label"]])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def localisation_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Method x variant means of :func:`score_runs` rows (``clips`` counts the clips scored).

    Columns: energy share next to its random baseline and the region's area share, pointing game
    next to its random baseline, deletion AUC next to random deletion (lower = more faithful),
    the median seconds per clip, and the spread over clips of the two localisation scores
    (``energy_share_sd``, ``pointing_sd``: standard deviation across the clips scored; with few
    clips a difference smaller than it means nothing).
    """
    base = ["energy_share", "random_energy_share", "area_share", "pointing", "random_pointing"]
    suffixes = sorted({c[len("energy_share"):] for c in scores.columns if c.startswith("energy_share")})
    columns = [f"{c}{s}" for s in suffixes for c in base] + ["deletion_auc", "random_deletion_auc"]
    columns = [c for c in columns if c in scores]
    grouped = scores.groupby(["method", "variant"], sort=True)
    table = grouped[columns].mean()
    for score in ("energy_share", "pointing"):
        if score in scores:
            table[f"{score}_sd"] = grouped[score].std(ddof=1)  # NaN for a single clip
    table["seconds"] = grouped["seconds"].median()
    table["clips"] = grouped.size()
    return table.reset_index()


def localisation_findings(table: pd.DataFrame) -> list[str]:
    """Sentences that say what a :func:`localisation_table` shows, computed from its rows.

    A map is "above a random map" when its mean energy share exceeds the random map's by more than
    two standard errors over the clips scored (``se = energy_share_sd / sqrt(clips)``); otherwise it
    is "no better than a random map". Per variant, the method with the largest energy share is
    named with its spread and its pointing game. Nothing here would still be printed if the numbers
    changed.
    """
    if table.empty:
        return ["No localisation scores."]
    out = []
    weak = []
    for variant, rows in table.groupby("variant", sort=False):
        for _, row in rows.iterrows():
            n = int(row["clips"])
            sd = float(row.get("energy_share_sd", np.nan))
            margin = 2 * sd / np.sqrt(n) if n > 1 and np.isfinite(sd) else np.nan
            if not np.isfinite(margin) or row["energy_share"] - row["random_energy_share"] <= margin:
                weak.append(f"{row['method']} on {variant} ({row['energy_share']:.3f} vs {row['random_energy_share']:.3f})")
        best = rows.loc[rows["energy_share"].idxmax()]
        n = int(best["clips"])
        ratio = best["energy_share"] / best["random_energy_share"] if best["random_energy_share"] > 0 else np.nan
        spread = f"sd {best['energy_share_sd']:.3f} over {n} clips" if n > 1 else "one clip, no spread"
        out.append(
            f"{variant}: {best['method']} localises best, with {best['energy_share']:.3f} of its energy inside the moving "
            f"region ({spread}), {ratio:.1f}x a random map's {best['random_energy_share']:.3f} (the region covers "
            f"{best['area_share']:.3f} of the clip); its peak falls inside the region on {best['pointing']:.0%} of the "
            f"clips (random maps: {best['random_pointing']:.0%})."
        )
    if weak:
        out.append("No better than a random map (energy share within two standard errors of the random map's, or a "
                   f"single clip): {', '.join(weak)}.")
    return out
