"""Metrics: pooled MEGC2019 UF1/UAR against the pooled-count formulas, absent classes, slices, MEGC log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mewb.train.metrics import compute_metrics, format_table, read_megc_log, scores, write_megc_log


def megc_by_hand(y, p, classes):
    """UF1 and UAR from pooled TP/FP/FN counts, the MEGC2019 definition, over ``classes``."""
    y, p = np.asarray(y), np.asarray(p)
    f1, rec = [], []
    for c in classes:
        tp = np.sum((y == c) & (p == c))
        fp = np.sum((y != c) & (p == c))
        fn = np.sum((y == c) & (p != c))
        f1.append(2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0)
        rec.append(tp / np.sum(y == c))
    return float(np.mean(f1)), float(np.mean(rec))


def fold_frame():
    """Three folds; fold b has no class 2 and fold c no class 0 (typical LOSO folds)."""
    rows = [
        ("a", "casme2", 0, 0), ("a", "casme2", 1, 1), ("a", "casme2", 2, 1), ("a", "casme2", 0, 2),
        ("b", "casme2", 0, 0), ("b", "casme2", 1, 0), ("b", "casme2", 1, 1),
        ("c", "samm", 1, 1), ("c", "samm", 2, 2), ("c", "samm", 2, 2), ("c", "samm", 2, 0),
    ]
    frame = pd.DataFrame(rows, columns=["fold", "dataset", "label", "pred"])
    frame["subject"] = frame["fold"]
    frame["clip"] = [f"clip{i}" for i in range(len(frame))]
    return frame


def test_pooled_scores_match_the_megc_pooled_count_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = np.where(rng.random(200) < 0.6, y, rng.integers(0, 3, 200))
    s = scores(y, p, 3)
    uf1, uar = megc_by_hand(y, p, [0, 1, 2])
    assert s["uf1"] == pytest.approx(uf1)
    assert s["uar"] == pytest.approx(uar)
    assert s["accuracy"] == pytest.approx(np.mean(y == p))
    assert np.array(s["confusion"]).sum() == 200
    assert np.trace(np.array(s["confusion"])) == np.sum(y == p)


def test_pooled_over_folds_is_not_the_mean_of_fold_scores():
    frame = fold_frame()
    metrics = compute_metrics(frame, 3, protocol="fixed epochs")
    uf1, uar = megc_by_hand(frame["label"], frame["pred"], [0, 1, 2])
    assert metrics["pooled"]["uf1"] == pytest.approx(uf1)
    assert metrics["pooled"]["uar"] == pytest.approx(uar)
    # each fold is scored over its own present classes
    b = frame[frame.fold == "b"]
    assert metrics["per_fold"]["b"]["classes_absent"] == [2]
    assert metrics["per_fold"]["b"]["uf1"] == pytest.approx(megc_by_hand(b.label, b.pred, [0, 1])[0])
    mean_of_folds = np.mean([metrics["per_fold"][f]["uf1"] for f in "abc"])
    assert metrics["fold_mean"]["uf1"] == pytest.approx(mean_of_folds)
    assert metrics["pooled"]["uf1"] != pytest.approx(mean_of_folds)


def test_class_absent_everywhere_is_left_out_of_the_means_but_its_predictions_count():
    y = [0, 0, 1, 1]
    p = [0, 2, 1, 1]  # one clip of class 0 predicted as class 2, which never occurs
    s = scores(y, p, 3)
    assert s["classes_absent"] == [2]
    assert s["uar"] == pytest.approx((0.5 + 1.0) / 2)
    assert s["uf1"] == pytest.approx(megc_by_hand(y, p, [0, 1])[0])
    assert s["f1_per_class"][2] is None and s["recall_per_class"][2] is None
    assert s["confusion"][0][2] == 1


def test_per_dataset_slices_and_empty_input():
    frame = fold_frame()
    metrics = compute_metrics(frame, 3, protocol="fixed epochs", class_names=["neg", "pos", "sur"])
    assert set(metrics["per_dataset"]) == {"casme2", "samm"}
    samm = frame[frame.dataset == "samm"]
    assert metrics["per_dataset"]["samm"]["uf1"] == pytest.approx(megc_by_hand(samm.label, samm.pred, [1, 2])[0])
    assert metrics["per_dataset"]["samm"]["classes_absent"] == [0]
    empty = scores([], [], 3)
    assert empty["uf1"] is None and empty["n"] == 0
    text = format_table(metrics, title="x")
    assert "pooled" in text and "samm" in text and "fixed epochs" in text


def test_leaky_protocol_is_flagged_in_metrics_and_table():
    metrics = compute_metrics(fold_frame(), 3, protocol="test-selected (leaky)")
    assert metrics["leaky"] is True
    assert "LEAKY" in format_table(metrics)


def test_megc_log_round_trip(tmp_path):
    frame = fold_frame()
    path = write_megc_log(frame, tmp_path / "megc_log.txt", protocol="fixed epochs")
    text = path.read_text()
    assert text.startswith("# protocol: fixed epochs") and "Subject: a" in text
    back = read_megc_log(path)
    assert back["pred"].tolist() == frame["pred"].tolist()
    assert back["label"].tolist() == frame["label"].tolist()
    assert back["fold"].tolist() == frame["fold"].tolist()
