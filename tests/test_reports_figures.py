"""Figure functions behind the notebooks (mewb.viz.tour, mewb.viz.runs) and the run tables
(mewb.reports.runs): shapes, traces and the numbers they show, without a kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mewb.reports.runs import ablation_table, find_runs
from mewb.synth import AU_NAMES, example_clip
from mewb.viz import runs as run_figures
from mewb.viz import tour


@pytest.fixture(scope="module")
def clip():
    return example_clip(seed=1, emotion="surprise", size=32)


def test_tour_figures_from_a_synth_clip(clip):
    figures = [
        tour.clip_strip(clip.frames, clip.onset, clip.apex, clip.offset),
        tour.motion_timeline(clip.motion, clip.onset, clip.apex, clip.offset),
        tour.action_unit_overlay(clip.frames[clip.apex - 1], clip.motion[clip.apex - 1], clip.mask, clip.action_units, AU_NAMES),
        tour.flow_panels(clip.frames[clip.apex - 1], np.random.default_rng(0).normal(size=(3, 32, 32)).astype(np.float32)),
        tour.evm_comparison(clip.frames, clip.frames.astype(np.float32) * 1.1, clip.onset, clip.apex, alpha=4),
        tour.loso_folds(["a", "b", "c"]),
    ]
    assert all(isinstance(f, go.Figure) and f.data for f in figures)
    assert "onset" in "".join(str(a.text) for a in figures[1].layout.annotations)
    strip_titles = [a.text for a in figures[0].layout.annotations]
    assert any(t.startswith("apex") for t in strip_titles) and any(t.startswith("onset") for t in strip_titles)
    assert "AU" in figures[2].layout.title.text
    grid = np.array(figures[5].data[0].z)
    assert (np.diag(grid) == 0).all() and grid.sum() == 6  # each subject tested once


def test_flow_to_rgb_encodes_direction_and_speed():
    flow = np.zeros((2, 4, 4), np.float32)
    flow[0, :, 2:] = 1.0  # right half moves right
    rgb = tour.flow_to_rgb(flow)
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    assert rgb[:, :2].max() == 0 and rgb[:, 2:].max() == 255  # still = black, fastest = full brightness


def test_selection_on_the_test_subject_inflates_the_estimate():
    sim = tour.simulate_test_selection(0.6, test_size=12, folds=8, epochs=20, trials=400, seed=0)
    assert abs(sim.fixed.mean() - 0.6) < 0.02  # honest: unbiased
    assert sim.test_selected.mean() > 0.6 + 0.15  # best-of-20 noise on 12 clips
    assert sim.curves.shape == (8, 20)
    assert "points of nothing" in tour.selection_bias_figure(sim).layout.title.text
    with pytest.raises(ValueError):
        tour.simulate_test_selection(1.5)


class _Run:  # the slice of mewb.rundir.RunResult the tables read
    def __init__(self, tmp_path, variant, confusion, leaky=False):
        from mewb.rundir import DatasetIdentity, RunConfig

        self.run_dir = tmp_path / variant
        self.config = RunConfig(variant=variant, num_classes=2, protocol="loso", dataset=DatasetIdentity(name="synth"))
        pooled = {"n": 6, "accuracy": 0.5, "uf1": 0.4, "uar": 0.45, "confusion": confusion}
        self.metrics = {"protocol": "test-selected (leaky)" if leaky else "fixed epochs", "leaky": leaky,
                        "pooled": pooled, "per_dataset": {"synth": pooled}, "per_fold": {}}


def test_ablation_table_and_figures(tmp_path):
    runs = [_Run(tmp_path, "dual", [[2, 0], [1, 3]]), _Run(tmp_path, "full", [[1, 1], [0, 4]], leaky=True)]
    table = ablation_table(runs)
    assert list(table["variant"]) == ["dual", "full [leaky]"]
    assert list(table.columns) == ["variant", "selection", "dataset", "n", "accuracy", "UF1", "UAR"]
    seeds = [_Run(tmp_path / "seed0", "full", [[1, 1], [0, 4]]), _Run(tmp_path / "seed1", "full", [[2, 0], [0, 4]])]
    for run, folder in zip(seeds, ("full-seed0", "full-seed1")):
        run.run_dir = tmp_path / folder
    assert list(ablation_table(seeds)["variant"]) == ["full (full-seed0)", "full (full-seed1)"]  # two rows, told apart
    assert run_figures.ablation_bars(table).data
    grid = run_figures.confusion_grid({r.config.variant: r.metrics["pooled"]["confusion"] for r in runs}, ["a", "b"])
    assert len(grid.data) == 2 and np.allclose(np.array(grid.data[0].z).sum(axis=1), 1.0)  # rows are recall
    predictions = pd.DataFrame({"subject": ["s1", "s1", "s2"], "label": [0, 1, 1], "pred": [0, 0, 1]})
    heat = run_figures.error_heatmap({"dual": predictions}, by="label", class_names=["neg", "pos"])
    assert list(heat.data[0].x) == ["neg", "pos"] and np.allclose(heat.data[0].z, [[0.0, 0.5]])
    history = pd.DataFrame({"fold": ["f1", "f1"], "epoch": [1, 2], "loss": [1.0, 0.5], "val_uf1": [0.3, 0.6],
                            "selected": [False, True]})
    curves = run_figures.training_curves(history)
    assert "validation UF1" in [a.text for a in curves.layout.annotations]


def test_find_runs(tmp_path):
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
    (tmp_path / "unfinished").mkdir()
    assert [p.name for p in find_runs(tmp_path)] == ["a", "b"]
    assert [p.name for p in find_runs(tmp_path, "b,a")] == ["b", "a"]
    with pytest.raises(FileNotFoundError, match="unfinished"):
        find_runs(tmp_path, ["unfinished"])
