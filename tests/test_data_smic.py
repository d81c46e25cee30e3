"""SMIC reader against a generated copy of SMIC_all_cropped (HS, VIS, NIR)."""

from __future__ import annotations

import re

import pytest
from fixtures.mer_layouts import SMIC_CLIPS, build_smic, write_frames

from mewb.data import smic
from mewb.data.common import DatasetError, DatasetWarning, ReadReport


@pytest.fixture
def root(tmp_path):
    return build_smic(tmp_path / "smic")


def test_hs_labels_from_folders_and_megc_ids(root):
    samples = smic.read(root)
    assert [s.key for s in samples] == [
        "smic/s01/s01_ne_01", "smic/s01/s01_po_02", "smic/s02/s02_sur_01", "smic/s03/s03_ne_03"]
    assert [s.label for s in samples] == [0, 1, 2, 0]
    first = samples[0]
    assert (first.onset, first.apex, first.offset) == (46869, 46871, 46873) and first.apex_estimated
    assert first.fps == 100.0 and first.extra["cropped"] and first.extra["disk_subject"] == "s1"
    assert first.frames[0].name == "reg_image046869.bmp"


@pytest.mark.parametrize("modality", ["VIS", "NIR"])
def test_vis_nir_at_25_fps_without_non_micro(root, modality):
    samples = smic.read(root, modality=modality)
    assert len(samples) == len(SMIC_CLIPS) and {s.fps for s in samples} == {25.0}
    assert all("non_micro" not in str(s.frames[0]) for s in samples)


def test_root_variants(root):
    keys = [s.key for s in smic.read(root)]
    assert [s.key for s in smic.read(root / "SMIC_all_cropped")] == keys
    assert [s.key for s in smic.read(root / "SMIC_all_cropped" / "HS")] == keys
    with pytest.raises(DatasetError, match="no SMIC HS frames"):
        smic.read(root / "SMIC_all_cropped" / "VIS")


def _unknown_emotion_folder(hs):
    write_frames(hs / "s4/micro/angry/s4_an_01", ["reg_image000001.bmp"])


def _empty_clip_folder(hs):
    (hs / "s4/micro/negative/s4_ne_01").mkdir(parents=True)


def _duplicate_clip(hs):
    write_frames(hs / "s1/micro/positive/s01_ne_01", ["reg_image000001.bmp"])  # s1_ne_01 as MEGC writes it


def _no_micro_folder(hs):
    (hs / "s9").mkdir()


BAD = {  # how to break the fixture, and the message expected
    "unknown emotion folder": (_unknown_emotion_folder, r"micro/angry: unknown emotion 'angry'"),
    "empty clip folder": (_empty_clip_folder, "s4_ne_01: no image frames"),
    "duplicate clip": (_duplicate_clip, "duplicate clip s01_ne_01"),
    "no micro folder": (_no_micro_folder, "s9/micro: subject folder has no micro/ folder"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input(root, case):
    make, message = BAD[case]
    make(root / "SMIC_all_cropped" / "HS")
    with pytest.raises(DatasetError, match=message):
        smic.read(root)
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="skipped"):
        samples = smic.read(root, strict=False, report=report)
    assert len(samples) == 4 and len(report.skipped) == 1 and re.search(message, report.skipped[0])


def test_unknown_modality(root):
    with pytest.raises(ValueError, match="valid: HS, VIS, NIR"):
        smic.read(root, modality="IR")
