"""The MEGC2019 composite: exact published counts, the ground-truth oracle, partial data."""

from __future__ import annotations

import shutil
import warnings
from collections import Counter

import pytest
from fixtures.mer_layouts import build_full_composite, write_gt_csv

from mewb.data import composite
from mewb.data.common import DatasetError, DatasetWarning, ReadReport
from mewb.data.splits import subject_key


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    root = tmp_path_factory.mktemp("megc")
    gt = build_full_composite(root / "data")
    return root / "data", gt, write_gt_csv(root / "combined_3class_gt.csv", gt)


def _counts(samples):
    return (
        len(samples),
        dict(Counter(s.dataset for s in samples)),
        len({subject_key(s) for s in samples}),
        tuple(Counter(s.label for s in samples)[i] for i in range(3)),
    )


EXPECTED = (442, {"casme2": 145, "samm": 133, "smic": 164}, 68, (250, 109, 83))


@pytest.mark.parametrize("with_gt", [False, True])
def test_full_composite_matches_the_published_counts(full, with_gt):
    root, gt, gt_csv = full
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)  # a difference would be a warning
        samples = composite.read(root, gt_csv=gt_csv if with_gt else None)
    assert _counts(samples) == EXPECTED
    truth = {(d, clip): label for d, _, clip, label in gt}
    assert all(truth[s.dataset, s.clip] == s.label for s in samples)
    # Samples keep their own dataset and emotion word; only the label is MEGC's.
    casme = next(s for s in samples if s.emotion == "repression")
    assert casme.dataset == "casme2" and casme.label == 0
    assert {s.emotion for s in samples if s.dataset == "samm" and s.label == 0} == {
        "Anger", "Contempt", "Disgust", "Fear", "Sadness"}
    assert not any(s.emotion.lower() in ("others", "other") for s in samples)


def test_header_form_of_the_ground_truth(full, tmp_path):
    root, gt, _ = full
    gt_csv = write_gt_csv(tmp_path / "gt.csv", [row + ("x",) for row in gt], header="dataset,sub,filename_o,label,notes")
    assert _counts(composite.read(root, gt_csv=gt_csv)) == EXPECTED


def test_ground_truth_decides_labels_and_membership(full, tmp_path):
    root, gt, _ = full
    rows = list(gt)
    d, s, c, label = rows[0]
    rows[0] = (d, s, c, (label + 1) % 3)  # the oracle disagrees with the emotion map
    removed = rows.pop(1)
    report = ReadReport()
    with pytest.warns(DatasetWarning) as caught:
        samples = composite.read(root, gt_csv=write_gt_csv(tmp_path / "gt.csv", rows), report=report)
    assert next(x for x in samples if x.clip == c).label == (label + 1) % 3
    assert all(x.clip != removed[2] for x in samples)
    assert any("in the ground truth; the ground truth is used" in n for n in report.notes)
    differences = report.notes[-1]
    assert "casme2: 144 samples, expected 145" in differences and "total: 441 samples" in differences
    assert any("differs from the published MEGC2019 composite" in str(w.message) for w in caught)


@pytest.mark.filterwarnings("ignore:.*(data found under|ground-truth clips not found)")
def test_partial_data_warns_listing_differences(full, tmp_path):
    root, gt, gt_csv = full
    partial = tmp_path / "partial"
    shutil.copytree(root / "SMIC", partial / "SMIC")
    shutil.rmtree(partial / "SMIC/SMIC_all_cropped/HS/s20")
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="composite differs"):
        samples = composite.read(partial, gt_csv=gt_csv, report=report)
    n_smic = len(samples)
    assert 0 < n_smic < 164 and {s.dataset for s in samples} == {"smic"}
    text = "\n".join(report.notes)
    assert "no casme2 data found" in text and "no samm data found" in text
    assert f"smic: {n_smic} samples, expected 164" in text and "smic: 15 subjects, expected 16" in text
    assert f"{164 - n_smic} ground-truth clips not found on disk: smic/s20/" in text


def test_bad_ground_truth_rows(full, tmp_path):
    root, gt, _ = full
    rows = list(gt[:3]) + [("casme3", "sub01", "EP01_01", 0), ("smic", "s01", "s01_ne_00", 7)]
    gt_csv = write_gt_csv(tmp_path / "gt.csv", rows)
    with pytest.raises(DatasetError, match="gt.csv row 4: unknown dataset 'casme3'"):
        composite.read(root, gt_csv=gt_csv)
    report = ReadReport()
    with pytest.warns(DatasetWarning):
        samples = composite.read(root, gt_csv=gt_csv, strict=False, report=report)
    assert len(samples) == 3
    # rows are named by the sheet's path, so a user with several copies knows which one
    assert report.skipped == [f"{gt_csv} row 4: unknown dataset 'casme3'; valid: casme2, samm, smic",
                              f"{gt_csv} row 5: label '7' is not 0, 1 or 2"]
    with pytest.raises(DatasetError, match="ground-truth CSV not found"):
        composite.read(root, gt_csv=tmp_path / "missing.csv")
