"""Benchmarks: ratios against r3d18, memory accounting, reports that never overwrite."""

from __future__ import annotations

import json

import pytest
import torch

from mewb.bench import (
    BenchConfig,
    add_ratios,
    format_markdown,
    measure_models,
    training_memory_bytes,
    write_report,
)
from mewb.models import create_model
from mewb.models.complexity import example_inputs


def _row(model, input_="8x64x64", device="cpu", **figures):
    base = dict(params=1.0, flops=1.0, train_memory_bytes=1.0, forward_ms_per_clip=1.0, forward_backward_ms_per_clip=1.0,
                inference_clips_per_s=1.0, train_clips_per_s=1.0)
    return {"model": model, "input": input_, "device": device, **{**base, **figures}}


def test_ratios_are_taken_against_r3d18_of_the_same_input_and_device():
    rows = add_ratios(
        [
            _row("r3d18", params=100, forward_backward_ms_per_clip=30.0),
            _row("full", params=15, forward_backward_ms_per_clip=10.0),
            _row("r3d18", input_="16x112x112", params=100, forward_backward_ms_per_clip=300.0),
            _row("full", input_="16x112x112", params=15, forward_backward_ms_per_clip=200.0),
        ]
    )
    assert rows[0]["params_ratio"] == 1.0 and rows[0]["forward_backward_speedup"] == 1.0
    assert rows[1]["params_ratio"] == pytest.approx(0.15)
    assert rows[1]["forward_backward_speedup"] == pytest.approx(3.0)
    assert rows[3]["forward_backward_speedup"] == pytest.approx(1.5)  # not mixed with the 8x64x64 reference


def test_ratios_and_best_layouts_never_mix_precisions_or_layouts():
    from mewb.bench import best_layout_speedups

    big = "16x112x112"
    rows = add_ratios([
        _row("r3d18", input_=big, precision="fp32", memory_format="contiguous", forward_backward_ms_per_clip=1300.0),
        _row("full", input_=big, precision="fp32", memory_format="contiguous", forward_backward_ms_per_clip=1100.0),
        _row("r3d18", input_=big, precision="fp32", memory_format="channels_last", forward_backward_ms_per_clip=1200.0),
        _row("full", input_=big, precision="fp32", memory_format="channels_last", forward_backward_ms_per_clip=800.0),
        _row("r3d18", input_=big, precision="bf16", memory_format="contiguous", forward_backward_ms_per_clip=600.0),
        _row("full", input_=big, precision="bf16", memory_format="contiguous", forward_backward_ms_per_clip=500.0),
    ])
    assert rows[1]["forward_backward_speedup"] == pytest.approx(1300 / 1100)  # same layout only
    assert rows[3]["forward_backward_speedup"] == pytest.approx(1.5)
    assert rows[5]["forward_backward_speedup"] == pytest.approx(1.2)  # bf16 against bf16
    best = {r["precision"]: r for r in best_layout_speedups(rows)}
    assert set(best) == {"fp32", "bf16"} and all(r["model"] == "full" for r in best.values())
    assert best["fp32"]["memory_format"] == "channels_last" and best["fp32"]["reference_memory_format"] == "channels_last"
    assert best["fp32"]["forward_backward_speedup"] == pytest.approx(1200 / 800)
    assert best["bf16"]["forward_backward_speedup"] == pytest.approx(1.2)
    markdown = format_markdown({"started": "now", "environment": {"processor": "x", "threads": 2, "cuda": None,
                                                                   "versions": {"torch": "2.13.0"}},
                                "models": rows, "best_layout": list(best.values())})
    assert "| full | cpu | fp32 | 16x112x112 | channels_last | 800.0 | channels_last | 1200.0 | 1.50x |" in markdown


def test_bench_batch_follows_the_input_size():
    config = BenchConfig()
    assert config.batch_for(16, 112) == 4 and config.batch_for(2, 32) == config.batch


def test_measured_rows_carry_their_layout_and_keep_it_in_the_model():
    rows = measure_models(["r3d18"], frames=2, size=16, batch=2, repeats=1, device=torch.device("cpu"),
                          memory_format="channels_last")
    assert rows[0]["memory_format"] == "channels_last" and rows[0]["forward_backward_ms_per_clip"] > 0


def test_training_memory_counts_weights_grads_and_saved_activations():
    model = create_model("full")
    small = example_inputs(model, batch=1, frames=4, size=32)
    large = example_inputs(model, batch=4, frames=4, size=32)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    one, four = training_memory_bytes(model, small), training_memory_bytes(model, large)
    assert one > 2 * weights
    activations_one, activations_four = one - 2 * weights, four - 2 * weights
    assert activations_four == pytest.approx(4 * activations_one, rel=0.05)  # activations scale with batch
    assert all(p.grad is None for p in model.parameters())  # leaves the model clean


def test_side_by_side_measurement_gives_every_figure():
    rows = add_ratios(measure_models(["r3d18", "improved"], frames=2, size=16, batch=2, repeats=2, device=torch.device("cpu")))
    assert [r["model"] for r in rows] == ["r3d18", "improved"]
    for r in rows:
        assert r["forward_ms_per_clip"] > 0 and r["forward_backward_ms_per_clip"] > 0
        assert r["inference_clips_per_s"] > 0 and r["train_clips_per_s"] > 0
    assert rows[1]["params_ratio"] < 0.2 and rows[1]["flops_ratio"] < 0.5


def test_report_is_written_once_and_never_overwritten(tmp_path):
    result = {
        "started": "now",
        "environment": {"processor": "x86_64", "threads": 2, "cuda": None, "versions": {"torch": "2.13.0"}},
        "config": BenchConfig.quick().__dict__,
        "models": add_ratios([_row("r3d18"), _row("full", params=0.15)]),
    }
    out = write_report(result, tmp_path / "bench")
    assert json.loads((out / "bench.json").read_text())["models"][1]["params_ratio"] == pytest.approx(0.15)
    assert "| full | cpu | fp32 | contiguous | 8x64x64 |" in (out / "bench.md").read_text()
    assert "<table>" in (out / "bench.html").read_text() and "<td>full</td>" in (out / "bench.html").read_text()
    with pytest.raises(FileExistsError, match="already holds a benchmark"):
        write_report(result, out)
    assert "| r3d18 |" in format_markdown(result)


@pytest.mark.slow
def test_quick_benchmark_runs_end_to_end(tmp_path):
    from mewb.cli import main

    assert main(["bench", "--quick", "--out", str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "b" / "bench.json").read_text())
    assert {r["model"] for r in result["models"]} >= {"r3d18", "full"}
    assert result["synth_preprocessing"]["speedup"] > 1
    assert set(result["flow_ms_per_pair"]) >= {"tvl1", "farneback", "dis"}
    folds = result["demo_folds"]["variants"]
    assert set(folds) == {"flow_only", "full"} and all(v["fold_s"] > 0 for v in folds.values())
    assert "## One LOSO fold per variant" in (tmp_path / "b" / "bench.md").read_text()
    profile = result["step_profile"]
    assert not profile["before"]["single_frame_fast_path"] and profile["after"]["single_frame_fast_path"]
    assert profile["before"]["ms_per_clip"] > 0 and "aten::convolution_backward" in profile["before"]["ops"]
    assert "## Profile of one composite training step" in (tmp_path / "b" / "bench.md").read_text()
    composite = result["composite"]
    assert composite["subjects"] == 6 and all(r["loso_s"] > 0 and 0 <= r["uf1"] <= 1 for r in composite["runs"].values())
    assert "## Composite-sized flow_only LOSO" in (tmp_path / "b" / "bench.md").read_text()


def test_last_demo_timings_come_from_the_newest_full_report(tmp_path):
    from mewb.bench import last_demo_timings

    def report(name, created, quick, timings):
        (tmp_path / name).mkdir()
        meta = {"created": created, "quick": quick, "timings": timings}
        (tmp_path / name / "report.json").write_text(json.dumps(meta))

    assert last_demo_timings(tmp_path) is None
    report("a", "2026-01-01T00:00:00+00:00", False, {"training_s": 300.0, "total_s": 400.0})
    report("b", "2026-02-01T00:00:00+00:00", True, {"training_s": 5.0, "total_s": 9.0})  # quick: not the demo
    last = last_demo_timings(tmp_path)
    assert last["report"].endswith("a") and last["total_s"] == 400.0
    result = {"started": "now", "config": {}, "models": add_ratios([_row("r3d18")]), "last_demo": last,
              "environment": {"processor": "x86_64", "threads": 2, "cuda": None, "versions": {"torch": "2.13.0"}}}
    assert "training 300 s, total 400 s" in format_markdown(result)
