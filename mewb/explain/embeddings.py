"""Feature distributions: each sample's embedding from the fold model that tested it, in 2D.

``fold_embeddings`` runs ``model.features`` (the pooled ``(N, 512)`` embedding before the
classifier) of the fold whose test subject the sample is, so no point is placed by a model that
trained on it. ``umap_2d`` (umap-learn, fixed seed) and ``pca_2d`` (scikit-learn; fast and
deterministic, no numba compile) project to 2D; both standardise the features first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample


def fold_embeddings(
    fold_models: Mapping[str, nn.Module],
    samples: Sequence[Sample],
    config: PreprocessConfig,
    *,
    cache=None,
    batch_size: int = 16,
    progress: bool = False,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Embeddings ``(N, D)`` float32 and one metadata row per sample.

    Metadata columns: ``dataset, subject, clip, label, emotion, pred, prob`` (the fold model's
    prediction and its probability), in the order of ``samples``. ``fold_models`` is a
    :class:`~mewb.explain.runs.FoldModels` or a dict keyed by test subject; a sample with no
    fold model raises ``KeyError``.
    """
    from tqdm.auto import tqdm

    from mewb.data.pipeline import ClipPipeline

    features = [None] * len(samples)
    preds = np.zeros(len(samples), int)
    probs = np.zeros(len(samples), np.float32)
    from mewb.explain.runs import fold_key

    order: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        order.setdefault(fold_key(fold_models, s), []).append(i)
    missing = sorted(k for k in order if k not in fold_models)
    if missing:
        raise KeyError(f"no fold model for {missing}")
    with torch.no_grad():
        for key in tqdm(sorted(order), desc="embed", unit="fold", disable=not progress):
            model = fold_models[key]
            was_training = model.training
            model.eval()
            try:
                indices = order[key]
                for start in range(0, len(indices), batch_size):
                    chunk = indices[start : start + batch_size]
                    items = [ClipPipeline(config, model.modalities, cache).inputs(samples[i]) for i in chunk]
                    x = {m: torch.cat([it[m] for it in items]) for m in model.modalities}
                    f = model.features(x)  # (n, D)
                    p = torch.softmax(model.classifier(f), dim=1)  # dropout is identity in eval
                    for j, i in enumerate(chunk):
                        features[i] = f[j].numpy()
                        preds[i] = int(p[j].argmax())
                        probs[i] = float(p[j].max())
            finally:
                model.train(was_training)
    meta = pd.DataFrame(
        {
            "dataset": [s.dataset for s in samples],
            "subject": [s.subject for s in samples],
            "clip": [s.clip for s in samples],
            "label": [s.label for s in samples],
            "emotion": [s.emotion for s in samples],
            "pred": preds,
            "prob": probs,
        }
    )
    return np.stack(features).astype(np.float32), meta


def _standardise(features: np.ndarray) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(np.asarray(features, dtype=np.float64))


def pca_2d(features: np.ndarray, *, standardise: bool = True) -> np.ndarray:
    """``(N, D) -> (N, 2)`` by PCA (deterministic: full SVD, sign fixed by scikit-learn)."""
    from sklearn.decomposition import PCA

    x = _standardise(features) if standardise else np.asarray(features, dtype=np.float64)
    return PCA(n_components=2, svd_solver="full").fit_transform(x).astype(np.float32)


def umap_2d(
    features: np.ndarray,
    *,
    seed: int = 0,
    n_neighbors: int = 15,  # local neighbourhood; clamped to N - 1 for small sets
    min_dist: float = 0.1,  # how tightly points pack
    standardise: bool = True,
) -> np.ndarray:
    """``(N, D) -> (N, 2)`` by UMAP with a fixed seed (reproducible; single-threaded as a result)."""
    import umap

    x = _standardise(features) if standardise else np.asarray(features, dtype=np.float64)
    reducer = umap.UMAP(
        n_components=2, n_neighbors=max(2, min(n_neighbors, len(x) - 1)), min_dist=min_dist, random_state=seed
    )
    return reducer.fit_transform(x).astype(np.float32)


def project_2d(features: np.ndarray, method: str = "umap", **options) -> np.ndarray:
    """``umap`` or ``pca``."""
    if method == "umap":
        return umap_2d(features, **options)
    if method == "pca":
        return pca_2d(features, **options)
    raise ValueError(f"unknown projection {method!r}; valid: pca, umap")


def run_embeddings(run_dir: str, *, data_root: str | None = None, cache=None) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`fold_embeddings` of a LOSO run directory's test samples (metadata gets a ``variant`` column)."""
    from mewb.explain.runs import FoldModels, run_samples
    from mewb.rundir import RunDir

    run = RunDir.open(run_dir)
    features, meta = fold_embeddings(FoldModels(run), run_samples(run, data_root), run.preprocess, cache=cache)
    meta.insert(0, "variant", run.variant)
    return features, meta
