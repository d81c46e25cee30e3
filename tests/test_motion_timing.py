"""The motion timing functions run and report what they claim (speed targets live in benchmarks)."""

from __future__ import annotations

import numpy as np

from mewb.data import timing


def test_synthetic_clip_moves():
    clip = timing.synthetic_clip(frames=6, size=32)
    assert clip.shape == (6, 32, 32) and clip.dtype == np.uint8
    assert np.abs(clip[1:].astype(int) - clip[0]).max() > 0  # not a still clip


def test_flow_and_evm_timings_report_every_backend_and_filter():
    flow = timing.flow_ms_per_pair(size=32, repeats=1)
    assert set(flow) == {"tvl1", "farneback", "dis", "liteflownet"} and all(v > 0 for v in flow.values())
    evm = timing.evm_ms_per_frame(size=32, frames=8, repeats=1)
    assert set(evm) == {"iir", "ideal"} and all(v > 0 for v in evm.values())


def test_cache_timing_hits_the_cache_when_warm():
    result = timing.cache_cold_warm(clips=2, frames=4, size=32, backend="farneback")
    assert result["entries"] == 2 and result["bytes"] > 0
    assert result["warm_ms"] < result["cold_ms"]  # warm reads, cold builds
