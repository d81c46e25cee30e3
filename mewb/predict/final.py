"""A run's *final* model: the same variant and settings, trained once on every subject.

LOSO folds estimate how well a recipe generalises; the model to apply to a new person's video is
the recipe trained on all subjects, with no held-out fold (there is nothing left to test it on,
so its run directory has no test predictions and its ``metrics.json`` reports none; the LOSO
run next to it is the estimate). ``mewb train --all-subjects --run-config runs/X/config.yaml
--out runs/X-final`` calls :func:`train_final`, which goes through the same runner as
``mewb loso`` (:func:`mewb.train.loso.run_protocol`) with one fold named ``all``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mewb.predict.models import FINAL_FOLD, FINAL_PROTOCOL


def train_final(
    run_config: str | Path,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    train_overrides: dict | None = None,
    samples=None,
    dataset_factory: Callable | None = None,
    cache_root: str | Path | None = None,
    progress: bool = True,
):
    """Train the variant of ``run_config`` (a run's ``config.yaml``) on all its dataset's subjects into ``out``.

    Args:
        run_config: the LOSO run's ``config.yaml`` (variant, model kwargs, ``train``,
            ``preprocess``, ``dataset`` name, root and class names are taken from it).
        out: a new run directory (never overwritten: :class:`mewb.train.RunExistsError`).
        data_root: the dataset folder when it moved since the run (default: the stored root).
        train_overrides: ``TrainConfig`` fields to change (e.g. ``{"device": "cpu"}``).
        samples: the samples to train on instead of reading the dataset (tests).
        dataset_factory, cache_root, progress: as in :func:`mewb.train.run_loso`.

    Returns:
        the :class:`mewb.train.RunResult` of the new run; its model is
        ``out/folds/all/checkpoint.pt``.
    """
    from mewb.data.preprocess import PreprocessConfig
    from mewb.train.config import TrainConfig, load_yaml
    from mewb.train.loso import FoldSpec, run_protocol

    path = Path(run_config)
    if path.is_dir():
        path = path / "config.yaml"
    doc = load_yaml(path)
    if "variant" not in doc or "train" not in doc:
        raise ValueError(f"{path}: not a run's config.yaml (needs 'variant' and 'train')")
    if doc.get("protocol") == FINAL_PROTOCOL:
        raise ValueError(f"{path}: already a final-model run; give the LOSO run's config.yaml")
    dataset = doc.get("dataset") or {}
    name = dataset.get("name")
    root = data_root or dataset.get("root")
    if samples is None:
        from mewb.data.readers import read_dataset

        if not name or not root:
            raise ValueError(f"{path}: the run records no dataset name and root; pass --data-root")
        if not Path(root).exists():
            raise FileNotFoundError(f"{root}: the run's dataset folder is not there; pass --data-root")
        samples, _report = read_dataset(name, root)
    samples = list(samples)
    if not samples:
        raise ValueError(f"{name} at {root}: no samples to train on")
    train = TrainConfig.from_dict({**(doc.get("train") or {}), **(train_overrides or {})})
    if train.selection == "test-leaky":
        raise ValueError(f"{path}: selection 'test-leaky' needs a test subject; a final model has none")
    every = np.arange(len(samples))
    result = run_protocol(
        samples,
        [FoldSpec(FINAL_FOLD, every, np.zeros(0, dtype=np.int64))],
        protocol=FINAL_PROTOCOL,
        variant=doc["variant"],
        train_config=train,
        preprocess_config=PreprocessConfig.from_dict(doc.get("preprocess") or {}),
        out=out,
        dataset_name=name or "",
        dataset_root=root,
        class_names=dataset.get("class_names") or (),
        num_classes=doc.get("num_classes"),
        model_kwargs=doc.get("model_kwargs") or {},
        dataset_factory=dataset_factory,
        cache_root=cache_root,
        progress=progress,
    )
    note = {
        "trained_from": str(path),
        "what": "one model on every subject of the dataset; no held-out fold, so no test metrics here",
        "estimate": "the LOSO run of the same config",
    }
    (Path(out) / "final.json").write_text(json.dumps(note, indent=2) + "\n")
    return result
