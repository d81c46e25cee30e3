"""SAMM reader against a generated copy of the published layout and FACS-code sheet."""

from __future__ import annotations

import re
import shutil

import pytest
from fixtures.mer_layouts import build_samm, samm_rows, write_sheet

from mewb.data import samm
from mewb.data.common import DatasetError, DatasetWarning, ReadReport

pytestmark = pytest.mark.filterwarnings("ignore:.*(no Apex Frame|outside onset)")


@pytest.fixture
def root(tmp_path):
    return build_samm(tmp_path / "release")


def test_header_on_row_14_and_varying_padding(root):
    samples = samm.read(root)
    assert [s.key for s in samples] == [
        "samm/006/006_1_2", "samm/006/006_1_5", "samm/007/007_3_1",
        "samm/011/011_2_3", "samm/011/011_2_4",
    ]
    first = samples[0]
    assert first.extra["sheet_row"] == 15  # the first row under the header on Excel row 14
    assert first.frames[0].name == "006_05562.jpg" and first.frame_numbers[0] == 5562
    assert (first.onset, first.apex, first.offset, first.fps) == (5562, 5588, 5632, 200.0)
    assert (first.label, first.emotion, first.action_units) == (2, "Disgust", "R12+R15")
    assert first.extra["cropped"] is False and first.extra["objective_class"] == "4"
    assert samples[1].frames[0].name == "006_1024.jpg"  # no padding in this clip


def test_missing_and_out_of_span_apex(root):
    report = ReadReport()
    samples = {s.clip: s for s in samm.read(root, report=report)}
    assert samples["007_3_1"].apex == 207 and samples["007_3_1"].apex_estimated
    assert samples["011_2_3"].apex == 3010 and samples["011_2_3"].apex_estimated
    assert not samples["006_1_2"].apex_estimated
    assert len(report.notes) == 2 and "apex 3500 is outside onset..offset 3000..3020" in report.notes[1]
    with pytest.raises(DatasetError, match="row 18.*apex 3500 is outside"):
        samm.read(root, bad_apex="error")


def test_root_may_be_the_samm_folder(root):
    assert len(samm.read(root / "SAMM")) == 5


def _edit(tmp_path, index, **changes):
    rows = samm_rows()
    rows[index].update(changes)
    return build_samm(tmp_path / "edited", rows=rows)


def _onset_after_offset(tmp, root):
    return _edit(tmp, 4, onset=4012, offset=4000)


def _frame_absent(tmp, root):
    (root / "SAMM/006/006_1_2/006_05588.jpg").unlink()
    return root


def _missing_folder(tmp, root):
    shutil.rmtree(root / "SAMM/007")
    return root


def _unknown_emotion(tmp, root):
    return _edit(tmp, 1, emotion="Angry")


def _bad_frame_cell(tmp, root):
    return _edit(tmp, 1, sheet_onset="10x24")


BAD = {  # how to break the fixture, and the message expected
    "onset after offset": (_onset_after_offset, "row 19.*onset 4012 is after offset 4000"),
    "frame absent": (_frame_absent, "row 15.*apex frame 5588 is named in the sheet but absent"),
    "missing folder": (_missing_folder, "row 17.*007_3_1 not found"),
    "unknown emotion": (_unknown_emotion, "row 16.*unknown emotion 'Angry'.*did you mean 'anger'"),
    "bad frame cell": (_bad_frame_cell, "row 16.*Onset Frame '10x24' is not a frame number"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input(tmp_path, root, case):
    make, message = BAD[case]
    broken = make(tmp_path, root)
    with pytest.raises(DatasetError, match=message):
        samm.read(broken)
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="skipped"):
        assert len(samm.read(broken, strict=False, report=report)) == 4
    assert len(report.skipped) == 1 and re.search(message, report.skipped[0])


def test_duplicate_and_headerless_sheet(tmp_path):
    rows = samm_rows()
    root = build_samm(tmp_path / "dup", rows=rows + [rows[0]])
    with pytest.raises(DatasetError, match="row 20.*duplicate clip, already on row 15"):
        samm.read(root)
    write_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", [["no header here"], [1, 2, 3]])
    with pytest.raises(DatasetError, match="no header row with Subject and Filename"):
        samm.read(root)
