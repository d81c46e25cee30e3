"""SynthME output read through the CASME II reader, with its ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from mewb.data import synth
from mewb.data.common import DatasetError, DatasetWarning, ReadReport
from mewb.data.frames import load_clip
from mewb.synth.generator import SynthConfig, generate_dataset


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    config = SynthConfig(subjects=2, clips_per_subject=3, size=32, frames=44, seed=3)
    return generate_dataset(tmp_path_factory.mktemp("synth") / "OUT", config)


def test_reads_generator_output_with_ground_truth(out):
    samples = synth.read(out)
    assert len(samples) == 6 and {s.subject for s in samples} == {"sub01", "sub02"}
    for sample in samples:
        assert sample.dataset == "synth" and sample.extra["cropped"] and sample.fps == 200.0
        assert sample.ground_truth == out / "ground_truth" / sample.subject / f"{sample.clip}.npz"
        with np.load(sample.ground_truth) as truth:
            assert int(truth["label"]) == sample.label and str(truth["emotion"]) == sample.emotion
            assert (int(truth["onset"]), int(truth["apex"]), int(truth["offset"])) == (
                sample.onset, sample.apex, sample.offset)
            assert truth["mask"].shape == truth["motion"].shape[1:]
        assert sample.emotion in ("negative", "positive", "surprise")
        assert sample.frames[0].name == "img1.jpg" and len(sample.frames) == 44


def test_synth_clip_loads_without_face_detection(out):
    sample = synth.read(out)[0]
    clip = load_clip(sample, frames=4, size=(32, 32), sampling="interpolate")
    assert clip.shape == (4, 32, 32, 3)


def test_missing_ground_truth_is_an_error(out, tmp_path):
    import shutil

    copy = shutil.copytree(out, tmp_path / "copy")
    (copy / "ground_truth" / "sub02" / "EP01_01.npz").unlink()
    with pytest.raises(DatasetError, match=r"EP01_01.npz: ground-truth file of sub02/EP01_01 not found"):
        synth.read(copy)
    report = ReadReport()
    with pytest.warns(DatasetWarning, match="skipped"):
        assert len(synth.read(copy, strict=False, report=report)) == 5
