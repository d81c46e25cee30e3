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
    assert main(["info", "--dataset", "casme2", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "samples: 4" in out and "subjects: 2" in out and "fps: 200 (4 samples)" in out
    assert "  0 happiness: 1" in out and "  6 others: 0" in out
    assert "skipped: 1" in out and "row 6 (sub17/EP19_05f): onset frame 100 is named in the sheet but absent" in out
    assert "no ApexFrame ('/'); using the midpoint 9" in out
    assert main(["info", "--dataset", "casme2", "--data-root", str(root), "--strict"]) == 2
    assert "onset frame 100" in capsys.readouterr().err


def test_info_options_and_bad_names(tmp_path, capsys):
    root = build_smic(tmp_path / "smic", modalities=("VIS",))
    assert main(["info", "--dataset", "smic", "--data-root", str(root), "--modality", "VIS"]) == 0
    assert "fps: 25 (4 samples)" in capsys.readouterr().out
    assert main(["info", "--dataset", "smic", "--data-root", str(root), "--layout", "raw"]) == 2
    assert "dataset 'smic' takes no option layout; its options: modality" in capsys.readouterr().err
    assert main(["info", "--dataset", "nope", "--data-root", str(root)]) == 2
    assert "unknown dataset 'nope'; valid names" in capsys.readouterr().err
    with pytest.raises(ValueError):
        read_dataset("smic", root, layout="raw")


def test_cross_dataset_samples_share_one_vocabulary(tmp_path):
    from fixtures.mer_layouts import build_casme2, build_samm

    from mewb.data.labels import MEGC3_CLASSES, VOCABULARIES
    from mewb.data.readers import combine_datasets, read_dataset

    casme2, _ = read_dataset("casme2", build_casme2(tmp_path / "CASME2"))
    samm, _ = read_dataset("samm", build_samm(tmp_path / "release"))
    samples, classes, dropped = combine_datasets([("casme2", casme2), ("samm", samm)])
    assert classes == MEGC3_CLASSES
    # Every kept label means the same emotion whichever dataset it came from ...
    meaning = {"happiness": "positive", "surprise": "surprise", "disgust": "negative", "repression": "negative",
               "anger": "negative", "contempt": "negative", "fear": "negative", "sadness": "negative"}
    assert samples and all(classes[s.label] == meaning[s.emotion.lower()] for s in samples)
    # ... and the clips with no MEGC2019 class are counted, not relabelled.
    others = sum(s.emotion.lower() in ("others", "other") for s in casme2 + samm)
    assert others > 0 and sum(dropped.values()) == others == len(casme2) + len(samm) - len(samples)
    same, names, none = combine_datasets([("casme2", casme2), ("casme2", casme2[:2])])
    assert names == VOCABULARIES["casme2"] and not none and len(same) == len(casme2) + 2  # one vocabulary: kept
