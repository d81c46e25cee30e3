"""LOSO folds keyed dataset/subject, and inner validation from training subjects only."""

from __future__ import annotations

import numpy as np
import pytest

from mewb.data.sample import Sample
from mewb.data.splits import inner_validation_split, loso_folds, subject_key


def _samples():
    spec = [("casme2", "sub01", 3), ("casme2", "sub02", 2), ("synth", "sub01", 2), ("samm", "006", 1),
            ("smic", "s10", 2), ("smic", "s02", 1)]
    return [Sample(dataset=d, subject=s, clip=f"c{i}", label=i % 3, emotion="x")
            for d, s, n in spec for i in range(n)]


def test_every_sample_is_tested_once_and_never_trained_on_in_its_fold():
    samples = _samples()
    folds = loso_folds(samples)
    assert [f[0] for f in folds] == ["casme2/sub01", "casme2/sub02", "samm/006", "smic/s02", "smic/s10", "synth/sub01"]
    tested = np.concatenate([test for _, _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(samples)))
    for subject, train, test in folds:
        assert {subject_key(samples[i]) for i in test} == {subject}
        assert subject not in {subject_key(samples[i]) for i in train}
        assert len(train) + len(test) == len(samples)
    # casme2/sub01 and synth/sub01 are different subjects.
    assert len(folds[0][2]) == 3


def test_inner_validation_uses_training_subjects_only():
    samples = _samples()
    for subject, train, test in loso_folds(samples):
        fit, val = inner_validation_split(samples, train, fraction=0.4, seed=1)
        fit_subjects = {subject_key(samples[i]) for i in fit}
        val_subjects = {subject_key(samples[i]) for i in val}
        assert sorted(np.concatenate([fit, val]).tolist()) == sorted(train.tolist())
        assert fit_subjects and val_subjects and not fit_subjects & val_subjects
        assert subject not in fit_subjects | val_subjects
        assert len(val_subjects) == 2  # 40% of 5 training subjects
    first = inner_validation_split(samples, loso_folds(samples)[0][1], seed=7)
    again = inner_validation_split(samples, loso_folds(samples)[0][1], seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_inner_validation_needs_two_subjects():
    samples = _samples()[:3]  # one subject
    with pytest.raises(ValueError, match="at least 2 training subjects"):
        inner_validation_split(samples, [0, 1, 2])
    with pytest.raises(ValueError, match="fraction"):
        inner_validation_split(_samples(), [0, 1], fraction=1.0)
