"""Leave-one-subject-out folds and an inner validation split drawn from training subjects only.

Subjects are keyed ``dataset/subject`` (``casme2/sub01``, ``samm/006``, ``smic/s01``), so the
composite's subjects stay distinct even where two datasets reuse an id.

Model selection (early stopping, epoch choice) must use ``inner_validation_split`` on a fold's
training indices: choosing on the LOSO test subject inflates UF1/UAR.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mewb.data.frames import natural_key
from mewb.data.sample import Sample


def subject_key(sample: Sample) -> str:
    """``dataset/subject``: unique across datasets."""
    return f"{sample.dataset}/{sample.subject}"


def loso_folds(samples: Sequence[Sample]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One fold per subject: ``(test_subject, train_idx, test_idx)``, in natural subject order.

    Indices are int64 arrays into ``samples``; every sample is tested exactly once and never
    trained on in its own fold.
    """
    keys = np.array([subject_key(s) for s in samples], dtype=object)
    folds = []
    for subject in sorted(set(keys.tolist()), key=natural_key):
        test = keys == subject
        folds.append((subject, np.flatnonzero(~test), np.flatnonzero(test)))
    return folds


def inner_validation_split(
    samples: Sequence[Sample],
    train_idx: Sequence[int],
    *,
    fraction: float = 0.2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training indices by subject into ``(fit_idx, val_idx)``.

    About ``fraction`` of the *training* subjects (at least one, and never all) go to validation,
    chosen with ``seed``; the test subject cannot appear because only ``train_idx`` is used.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    train_idx = np.asarray(train_idx, dtype=np.int64)
    keys = np.array([subject_key(samples[i]) for i in train_idx], dtype=object)
    subjects = sorted(set(keys.tolist()), key=natural_key)
    if len(subjects) < 2:
        raise ValueError(f"an inner validation split needs at least 2 training subjects, got {len(subjects)}")
    n_val = min(len(subjects) - 1, max(1, round(fraction * len(subjects))))
    chosen = set(np.random.default_rng(seed).choice(subjects, size=n_val, replace=False).tolist())
    val = np.array([k in chosen for k in keys], dtype=bool)
    return train_idx[~val], train_idx[val]
