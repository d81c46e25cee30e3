"""Precomputed flow images with a CSV manifest (MEGC ground-truth form and header form)."""

from __future__ import annotations

import re

import pytest
from fixtures.mer_layouts import FLOW_ROWS, build_flowimages

from mewb.data import flowimages
from mewb.data.common import DatasetError, DatasetWarning, ReadReport
from mewb.data.frames import load_clip


@pytest.mark.parametrize("header", [True, False])
def test_reads_both_manifest_forms(tmp_path, header):
    samples = flowimages.read(build_flowimages(tmp_path / "flow", header=header))
    assert [(s.dataset, s.subject, s.clip, s.label) for s in samples] == FLOW_ROWS
    assert all(s.flow_image is not None and not s.frames for s in samples)
    # "006_006_1_2 .png": stray whitespace before the extension.
    assert samples[1].flow_image.name == "006_006_1_2 .png"
    assert [s.emotion for s in samples] == ["positive", "negative", "negative", "surprise"]
    assert [s.fps for s in samples] == [200.0, 200.0, 100.0, 200.0]


def test_flow_image_is_a_one_frame_clip(tmp_path):
    sample = flowimages.read(build_flowimages(tmp_path / "flow"))[3]
    clip = load_clip(sample, frames=8, size=(14, 14), colour="grey")
    assert clip.shape == (1, 14, 14, 3) and clip.dtype.name == "uint8"
    assert tuple(clip[0, 7, 7]) == (120, 128, 200)  # (u, v, strain) channels kept, not greyed


def test_missing_image_and_bad_label(tmp_path):
    rows = list(FLOW_ROWS)
    root = build_flowimages(tmp_path / "flow", rows=rows)
    (root / "manifest.csv").write_text(
        (root / "manifest.csv").read_text() + "samm,7,007_3_1,1,0\nsmic,s02,s02_po_01,9,0\n"
    )
    with pytest.raises(DatasetError, match=r"manifest.csv row 6: flow image 7_007_3_1.png not found"):
        flowimages.read(root)
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="skipped"):
        assert len(flowimages.read(root, strict=False, report=report)) == 4
    assert len(report.skipped) == 2 and re.search("row 7: label '9' is not 0, 1 or 2", report.skipped[1])


def test_manifest_must_be_unambiguous(tmp_path):
    root = build_flowimages(tmp_path / "flow")
    (root / "other.csv").write_text("a,b,c,d\n")
    with pytest.raises(DatasetError, match="expected one CSV manifest, found manifest.csv, other.csv"):
        flowimages.read(root)
    assert len(flowimages.read(root, manifest=root / "manifest.csv")) == 4


def test_duplicate_rows(tmp_path):
    root = build_flowimages(tmp_path / "flow", rows=FLOW_ROWS + [FLOW_ROWS[0]])
    with pytest.raises(DatasetError, match="row 6: duplicate clip casme2/sub01/EP02_01f, already on row 2"):
        flowimages.read(root)
