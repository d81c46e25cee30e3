"""CASME II reader against a generated copy of the published layouts and coding sheet."""

from __future__ import annotations

import re
import shutil
import warnings

import pytest
from fixtures.mer_layouts import build_casme2, casme2_rows

from mewb.data import casme2
from mewb.data.common import DatasetError, DatasetWarning, ReadReport
from mewb.data.labels import UnknownEmotionError


@pytest.fixture
def root(tmp_path):
    return build_casme2(tmp_path / "CASME2")


def _read(root, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return casme2.read(root, **kwargs)


def test_reads_cropped_layout_with_quirks(root):
    samples = _read(root)
    assert [s.key for s in samples] == [
        "casme2/sub01/EP02_01f", "casme2/sub01/EP03_02f", "casme2/sub02/EP01_11f",
        "casme2/sub02/EP07_04", "casme2/sub17/EP19_05f",
    ]
    first = samples[0]
    assert (first.onset, first.apex, first.offset, first.fps) == (46, 59, 86, 200.0)
    assert first.frames[0].name == "reg_img46.jpg" and first.frame_numbers == tuple(range(46, 87))
    assert first.extra["cropped"] is True
    assert (first.label, first.emotion) == (0, "happiness")
    # "EP03_02" in the sheet, "EP03_02f" on disk.
    assert samples[1].clip == "EP03_02f" and samples[1].action_units == "4+L10"
    # "/" apex: the midpoint, flagged; an int AU cell becomes text.
    slash = samples[2]
    assert slash.apex == 9 and slash.apex_estimated and slash.action_units == "4"
    # Natural order: img9 before img10.
    assert [p.name for p in slash.frames][4:6] == ["reg_img9.jpg", "reg_img10.jpg"]
    assert samples[4].label == 6 and samples[4].emotion == "others"


def test_raw_layout_and_direct_roots(root):
    raw = _read(root, layout="raw")
    assert raw[0].frames[0].name == "img46.jpg" and raw[0].extra["cropped"] is False
    # Root pointing at the folder holding subNN/ (the sheet is in its parent).
    direct = _read(root / "CASME2_RAW_selected")
    assert [s.key for s in direct] == [s.key for s in raw] and direct[0].extra["cropped"] is False
    assert _read(root / "CASME2_Cropped")[0].extra["cropped"] is True


def test_slash_apex_is_noted_not_silent(root):
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="no ApexFrame"):
        casme2.read(root, report=report)
    assert len(report.notes) == 1 and "row 4" in report.notes[0] and report.skipped == []


def _unlink(root, name):
    for layout in ("CASME2_RAW_selected", "CASME2_Cropped"):
        for path in root.glob(f"{layout}/sub01/EP02_01f/{name}"):
            path.unlink()


def _edit_row(tmp_path, index, **changes):
    rows = casme2_rows()
    rows[index].update(changes)
    return build_casme2(tmp_path / "edited", rows=rows)


def _onset_after_offset(tmp, root):
    return _edit_row(tmp, 1, onset=20, offset=10)


def _apex_outside_span(tmp, root):
    return _edit_row(tmp, 3, apex=40)


def _frame_absent(tmp, root):
    _unlink(root, "*img86.jpg")
    return root


def _missing_folder(tmp, root):
    shutil.rmtree(root / "CASME2_Cropped/sub17")
    return root


def _unknown_emotion(tmp, root):
    return _edit_row(tmp, 0, emotion="hapiness")


def _unreadable_image(tmp, root):
    (root / "CASME2_Cropped/sub01/EP02_01f/reg_img50.jpg").write_bytes(b"")
    return root


BAD = {  # how to break the fixture, and the message expected
    "onset after offset": (_onset_after_offset, "row 3.*onset 20 is after offset 10"),
    "apex outside span": (_apex_outside_span, "row 5.*apex 40 is outside onset..offset 1..6"),
    "frame absent": (_frame_absent, "row 2.*offset frame 86 is named in the sheet but absent"),
    "missing folder": (_missing_folder, "row 6.*clip folder .*sub17/EP19_05f not found"),
    "unknown emotion": (_unknown_emotion, "row 2.*unknown emotion 'hapiness'.*did you mean 'happiness'"),
    "unreadable image": (_unreadable_image, "reg_img50.jpg: unreadable image"),
}


@pytest.mark.filterwarnings("ignore:.*no ApexFrame")
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_strict_raises_lenient_skips(tmp_path, root, case):
    make, message = BAD[case]
    broken = make(tmp_path, root)
    with pytest.raises(DatasetError, match=message):
        _read(broken)
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="skipped"):
        samples = casme2.read(broken, strict=False, report=report)
    assert len(samples) == 4 and len(report.skipped) == 1
    assert re.search(message, report.skipped[0])


def test_unknown_emotion_is_its_own_error_type(tmp_path):
    with pytest.raises(UnknownEmotionError):
        _read(_edit_row(tmp_path, 0, emotion="joy"))


def test_duplicate_clip_names_both_rows(tmp_path):
    rows = casme2_rows()
    rows.append(dict(rows[1], filename="EP03_02f"))  # same clip, with and without the f
    root = build_casme2(tmp_path / "dup", rows=rows)
    with pytest.raises(DatasetError, match="row 7.*duplicate clip, already on row 3"):
        _read(root)
    assert len(_read(root, strict=False)) == 5


def test_missing_root_and_sheet(tmp_path, root):
    with pytest.raises(DatasetError, match="folder not found"):
        casme2.read(tmp_path / "nowhere")
    (root / "CASME2-coding-20140508.xlsx").unlink()
    with pytest.raises(DatasetError, match="no coding sheet CASME2-coding"):
        casme2.read(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no CASME II frames"):
        casme2.read(empty)
