"""The composite-shaped SynthME and the shifted style (mewb.synth.presets), and what they rest on:
uneven clips per subject, grey frames, AU mixtures."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from mewb.data.readers import read_dataset
from mewb.synth import SynthConfig, make_clip
from mewb.synth.emotions import draw_expression
from mewb.synth.generator import class_counts, clips_per_subject
from mewb.synth.presets import (COMPOSITE_PARTS, composite_configs, generate_composite, identity_seeds, shifted)


def test_the_composite_preset_has_the_composites_shape():
    configs = composite_configs(0)
    assert {p: c.subjects for p, c in configs.items()} == {"smic": 16, "casme2": 24, "samm": 28}
    assert {p: c.total_clips for p, c in configs.items()} == {"smic": 164, "casme2": 145, "samm": 133}
    totals = np.sum([class_counts(c) for c in configs.values()], axis=0)
    assert totals.tolist() == [250, 109, 83]
    assert {p: c.fps for p, c in configs.items()} == {"smic": 100.0, "casme2": 200.0, "samm": 200.0}
    assert configs["samm"].grayscale and not configs["casme2"].grayscale
    assert len({c.size for c in configs.values()}) == 3 and len({c.noise_sigma for c in configs.values()}) == 3
    assert len({c.seed for c in configs.values()}) == 3  # parts never share identities
    for c in configs.values():
        c.validate()


def test_clips_spread_unevenly_over_subjects_but_every_subject_has_one():
    config = SynthConfig(subjects=16, clips=164, seed=3)
    counts = clips_per_subject(config)
    assert sum(counts) == 164 and min(counts) >= 1 and max(counts) > 2 * min(counts)
    assert counts == clips_per_subject(config)  # deterministic
    assert clips_per_subject(SynthConfig(subjects=3, clips_per_subject=5)) == [5, 5, 5]
    with pytest.raises(ValueError, match="cannot give each"):
        SynthConfig(subjects=10, clips=5).validate()


def test_a_small_composite_reads_as_three_datasets_with_their_own_fps(tmp_path):
    root = generate_composite(tmp_path / "comp", seed=1, scale=0.125, workers=1)
    samples, _ = read_dataset("synth", root)
    per_dataset = Counter(s.dataset for s in samples)
    configs = composite_configs(1, scale=0.125)
    assert per_dataset == {f"synth-{p}": c.total_clips for p, c in configs.items()}
    assert {s.dataset: s.fps for s in samples} == {"synth-smic": 100.0, "synth-casme2": 200.0, "synth-samm": 200.0}
    assert len({s.key for s in samples}) == len(samples)
    assert all(s.ground_truth is not None and s.ground_truth.is_file() for s in samples)
    subjects = {(s.dataset, s.subject) for s in samples}
    assert len(subjects) == sum(c.subjects for c in configs.values())
    assert identity_seeds(root) == {c.seed for c in configs.values()}
    # SAMM-like frames are grey: three equal channels
    from mewb.data.frames import read_image

    samm = read_image(next(s for s in samples if s.dataset == "synth-samm").frames[0])
    assert samm.ndim == 3 and np.abs(samm.astype(int) - samm[..., :1].astype(int)).max() <= 2  # JPEG chroma rounding


def test_a_bad_parts_manifest_is_one_clear_error(tmp_path):
    from mewb.data.common import DatasetError

    (tmp_path / "manifest.json").write_text('{"parts": {"smic": {"folder": "smic"}}}')
    with pytest.raises(DatasetError, match="part 'smic' lists folder 'smic', which is not there"):
        read_dataset("synth", tmp_path)


def test_the_shifted_style_changes_looks_motion_and_aus_not_the_shape():
    base = SynthConfig(subjects=4, clips=20, seed=2, noise_sigma=2.0)
    shift = shifted(base)
    changed = {f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(shift, f.name)}
    assert {"texture_scale", "shading", "head_drift_px", "extra_au_prob", "amplitude_px", "noise_sigma"} <= changed
    assert not changed & {"subjects", "clips", "fps", "frames", "size", "seed", "balance"}
    a = make_clip("positive", seed=5, config=base)
    b = make_clip("positive", seed=5, config=shift)
    assert a.onset == b.onset and a.offset == b.offset  # same timing stream
    assert b.amplitude_px < a.amplitude_px  # weaker expressions
    assert np.abs(a.frames[0].astype(int) - b.frames[0].astype(int)).mean() > 3  # another look


def test_au_mixtures_add_one_weak_au_of_another_class_and_cost_nothing_when_off():
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert draw_expression("positive", rng_a) == draw_expression("positive", rng_b, extra_au_prob=0.0)
    for seed in range(20):
        expr = draw_expression("positive", np.random.default_rng(seed), extra_au_prob=1.0)
        extra = set(expr.aus) - {6, 12}
        assert len(extra) == 1
        assert expr.aus[extra.pop()][1] <= 0.6 and expr.aus[12][1] >= 0.6


def test_composite_cli_refuses_shape_flags(tmp_path, capsys):
    from mewb.cli import main

    assert main(["synth", str(tmp_path / "x"), "--preset", "composite", "--subjects", "3"]) != 0
    assert "--preset composite sets its own shape; drop --subjects" in capsys.readouterr().err
    assert set(COMPOSITE_PARTS) == {"smic", "casme2", "samm"}
