"""``mewb info``: the summary of a dataset, skips included."""

from __future__ import annotations

import pytest
from fixtures.mer_layouts import build_casme2, build_smic

from mewb.cli import main
from mewb.data.readers import DATASETS, read_dataset


def test_registry_lists_every_reader():
    assert DATASETS.names() == ["casme2", "composite", "flowimages", "samm", "smic", "synth"]
    with pytest.raises(ValueError, match="valid names: casme2, composite"):
        DATASETS.get("casme3")


def test_info_prints_counts_fps_and_skips(tmp_path, capsys):
    root = build_casme2(tmp_path / "CASME2")
    (root / "CASME2_Cropped/sub17/EP19_05f/reg_img100.jpg").unlink()
    assert main(["info", "--dataset", "casme2", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "samples: 4" in out and "subjects: 2" in out and "fps: 200 (4 samples)" in out
    assert "  0 happiness: 1" in out and "  6 others: 0" in out
    assert "skipped: 1" in out and "row 6 (sub17/EP19_05f): onset frame 100 is named in the sheet but absent" in out
    assert "no ApexFrame ('/'); using the midpoint 9" in out
    assert main(["info", "--dataset", "casme2", "--root", str(root), "--strict"]) == 2
    assert "onset frame 100" in capsys.readouterr().err


def test_info_options_and_bad_names(tmp_path, capsys):
    root = build_smic(tmp_path / "smic", modalities=("VIS",))
    assert main(["info", "--dataset", "smic", "--root", str(root), "--modality", "VIS"]) == 0
    assert "fps: 25 (4 samples)" in capsys.readouterr().out
    assert main(["info", "--dataset", "smic", "--root", str(root), "--layout", "raw"]) == 2
    assert "dataset 'smic' takes no option layout; its options: modality" in capsys.readouterr().err
    assert main(["info", "--dataset", "nope", "--root", str(root)]) == 2
    assert "unknown dataset 'nope'; valid names" in capsys.readouterr().err
    with pytest.raises(ValueError):
        read_dataset("smic", root, layout="raw")
