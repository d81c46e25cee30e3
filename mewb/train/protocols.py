"""Evaluation protocols: which folds a run has. Each fold is a name and index arrays into the samples.

- ``loso``: one fold per subject, named ``dataset/subject`` (the composite's subjects stay distinct);
- ``dataset-holdout``: one fold per dataset of a multi-dataset set, trained on the others;
- ``cross-dataset``: train on some datasets, test on another (``casme2-to-samm``);
- ``all-subjects``: one fold ``all`` that trains on everything and tests nothing (a final model).

Inner-validation splits (for early stopping) are drawn from a fold's *training* subjects only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mewb.data.sample import Sample
from mewb.train.config import TrainConfig

ALL_SUBJECTS_FOLD = "all"  # the one fold of a final-model run: folds/all/checkpoint.pt


@dataclass
class FoldSpec:
    """One fold: its name (``dataset/subject`` for LOSO) and index arrays into the run's samples."""

    name: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    val_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def loso_folds(samples: Sequence[Sample]) -> list[FoldSpec]:
    """One fold per subject (``dataset/subject``), via ``mewb.data.splits``."""
    from mewb.data.splits import loso_folds as _loso

    return [FoldSpec(name, train, test) for name, train, test in _loso(samples)]


def holdout_folds(samples: Sequence[Sample], *, test_datasets: Sequence[str] | None = None,
                  train_datasets: Sequence[str] | None = None) -> list[FoldSpec]:
    """Dataset-level folds.

    - ``test_datasets=None``: the composite's per-dataset holdout, one fold per dataset, trained on
      all the others (fold ``holdout/<dataset>``).
    - otherwise cross-dataset: one fold per test dataset, trained on ``train_datasets`` (default:
      every dataset not tested), fold ``<train+train>-to-<test>``.
    """
    names = np.array([s.dataset for s in samples], dtype=object)
    present = sorted(set(names.tolist()))
    for wanted in list(test_datasets or []) + list(train_datasets or []):
        if wanted not in present:
            raise ValueError(f"dataset {wanted!r} has no samples here; present: {', '.join(present)}")
    folds = []
    if test_datasets is None:
        if len(present) < 2:
            raise ValueError(f"a per-dataset holdout needs at least 2 datasets, got {present}")
        for name in present:
            folds.append(FoldSpec(f"holdout/{name}", np.flatnonzero(names != name), np.flatnonzero(names == name)))
        return folds
    for test in test_datasets:
        sources = [d for d in (train_datasets or present) if d != test]
        if not sources:
            raise ValueError(f"nothing to train on when testing on {test!r}")
        if test in (train_datasets or []):
            raise ValueError(f"dataset {test!r} is both a training and a test dataset")
        train = np.flatnonzero(np.isin(names, sources))
        folds.append(FoldSpec(f"{'+'.join(sources)}-to-{test}", train, np.flatnonzero(names == test)))
    return folds


def all_subjects_fold(samples: Sequence[Sample]) -> list[FoldSpec]:
    """The final-model protocol: train on every sample, test none."""
    return [FoldSpec(ALL_SUBJECTS_FOLD, np.arange(len(samples)), np.zeros(0, dtype=np.int64))]


def with_validation(samples: Sequence[Sample], folds: list[FoldSpec], config: TrainConfig) -> list[FoldSpec]:
    """Folds with an inner validation split of training subjects when ``selection='inner-val'``
    or a ``grid`` is searched (nested LOSO)."""
    if config.selection != "inner-val" and not config.grid:
        return folds
    from mewb.data.splits import inner_validation_split

    out = []
    for fold in folds:
        fit, val = inner_validation_split(samples, fold.train_idx, fraction=config.val_fraction, seed=config.seed)
        out.append(FoldSpec(fold.name, fit, fold.test_idx, val))
    return out


def select_folds(folds: list[FoldSpec], wanted: Sequence[str] | None) -> list[FoldSpec]:
    """Folds by name; a bare subject id (``sub01``) is accepted when it names one fold."""
    if not wanted:
        return folds
    by_name = {f.name: f for f in folds}
    chosen: dict[str, FoldSpec] = {}
    for w in wanted:
        if w in by_name:
            chosen.setdefault(w, by_name[w])
            continue
        matches = [f for f in folds if f.name.rsplit("/", 1)[-1] == w]
        if len(matches) != 1:
            why = "is ambiguous" if matches else "is not a fold"
            raise ValueError(f"fold {w!r} {why}; folds: {', '.join(by_name)}")
        chosen.setdefault(matches[0].name, matches[0])
    return list(chosen.values())
