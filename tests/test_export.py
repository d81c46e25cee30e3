"""``mewb export flowimages``: SynthME out as flow images, back in through the flowimages reader."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mewb.cli import main
from mewb.data.export import flow_to_image
from mewb.data.readers import read_dataset


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from mewb.synth import SynthConfig, generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth") / "s",
                            SynthConfig(subjects=2, clips_per_subject=3, size=32, frames=48, seed=2, workers=1))


def test_flow_to_image_keeps_direction_and_states_its_scales():
    flow = np.zeros((3, 1, 4, 4), np.float32)
    flow[0, 0, 1, 1], flow[1, 0, 2, 2], flow[2, 0, 3, 3] = 0.5, -0.25, 0.1
    rgb, uv_scale, strain_scale = flow_to_image(flow)
    assert (uv_scale, strain_scale) == (0.5, pytest.approx(0.1))
    assert rgb[1, 1, 0] == 255 and rgb[0, 0, 0] == 128 and rgb[2, 2, 1] == 64 and rgb[3, 3, 2] == 255
    back = (rgb[..., 0].astype(np.float32) / 127.5 - 1.0) * uv_scale  # the manifest's stated inverse
    assert abs(back[1, 1] - 0.5) < 1e-6 and abs(back[0, 0]) < 0.5 / 127


def test_export_then_read_back_gives_the_same_samples_and_labels(synth, tmp_path, capsys):
    out = tmp_path / "flow28"
    assert main(["export", "flowimages", "--dataset", "synth", "--data-root", str(synth), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "6 flow images at 28 px" in capsys.readouterr().out
    original, _ = read_dataset("synth", synth)
    exported, _ = read_dataset("flowimages", out)
    key = lambda s: (s.dataset, s.subject, s.clip, s.label)  # noqa: E731
    assert sorted(map(key, exported)) == sorted(map(key, original))
    manifest = pd.read_csv(out / "manifest.csv")
    assert list(manifest.columns[:4]) == ["dataset", "sub", "filename_o", "label"] and (manifest.uv_scale > 0).all()
    settings = json.loads((out / "export.json").read_text())
    assert settings["preprocess"]["flow_mode"] == "onset_apex" and "uv_scale" in settings["normalisation"]
    # never over a user's folder
    assert main(["export", "flowimages", "--dataset", "synth", "--data-root", str(synth), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_flow_images_train_at_their_own_size_unless_told(synth, tmp_path):
    from mewb.train import run_recipe

    out = tmp_path / "flow28"
    main(["export", "flowimages", "--dataset", "synth", "--data-root", str(synth), "--out", str(out),
          "--cache-dir", str(tmp_path / "cache")])
    common = dict(dataset="flowimages", data_root=out, variant="flow_only", recipe="quick",
                  overrides=["train.epochs=1", "train.batch_size=2"], folds=["sub01"], progress=False,
                  cache_dir=tmp_path / "cache")
    assert run_recipe(out=tmp_path / "run", **common).config.preprocess.size == 32  # the quick recipe says 32
    common["recipe"] = None
    assert run_recipe(out=tmp_path / "run2", **common).config.preprocess.size == 28  # silent: the images' size
