"""Timings of the motion preprocessing: flow backends, EVM, and the cache (cold vs warm).

Plain functions so ``mewb/bench.py`` (``make bench``) can call them; ``python -m
mewb.data.timing`` prints them. Inputs are synthetic (smoothed noise moved by a fraction of a
pixel), so timings do not depend on any dataset being present. Each figure is the median of
``repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from typing import Callable

import numpy as np


def synthetic_clip(frames: int = 16, size: int = 112, *, seed: int = 0, fps: float = 100.0) -> np.ndarray:
    """A (T, size, size) uint8 clip: smooth texture moving 0.5 px sinusoidally at 5 Hz."""
    import cv2

    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.standard_normal((size + 16, size + 16)).astype(np.float32), (0, 0), 2.0)
    big = (big - big.min()) / (big.max() - big.min()) * 200 + 20
    out = []
    for t in range(frames):
        dx = 0.5 * np.sin(2 * np.pi * 5.0 * t / fps)
        m = np.float32([[1, 0, dx], [0, 1, 0.3 * dx]])
        out.append(cv2.warpAffine(big, m, big.shape[::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)[8:-8, 8:-8])
    return np.clip(np.rint(np.stack(out)), 0, 255).astype(np.uint8)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _median_ms(fn: Callable[[], object], repeats: int, clock: str = "wall") -> float:
    """Median ms of ``fn()`` over ``repeats`` runs after a warm-up.

    ``clock="cpu"`` counts this process's CPU time instead of wall time: on a shared, loaded
    machine with one thread per library (``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``)
    it approximates the single-core wall time of an idle machine.
    """
    now = CLOCKS[clock]
    fn()  # warm-up: first-call allocations, lazy imports, OpenCV thread pool start
    times = []
    for _ in range(repeats):
        start = now()
        fn()
        times.append((now() - start) * 1000.0)
    return statistics.median(times)


def flow_ms_per_pair(
    backends: tuple[str, ...] = ("tvl1", "farneback", "dis", "liteflownet"),
    *,
    size: int = 112,
    repeats: int = 10,
    clock: str = "wall",
) -> dict[str, float]:
    """Median ms per (size x size) grey frame pair for each backend.

    ``liteflownet`` is timed with randomly initialised weights on the CPU (speed only: the
    weights do not change the cost), since no weights file is available to benchmarks.
    """
    from mewb.data.flow import compute_flow

    clip = synthetic_clip(2, size)
    result = {}
    for name in backends:
        if name == "liteflownet":
            import torch

            from mewb.data.liteflownet import LiteFlowNet, run_network

            torch.manual_seed(0)
            net = LiteFlowNet().eval()
            result[name] = _median_ms(lambda: run_network(net, clip[0], clip[1]), max(1, repeats // 3), clock)
        else:
            result[name] = _median_ms(lambda name=name: compute_flow(clip[0], clip[1], name), repeats, clock)
    return result


def evm_ms_per_frame(
    *, size: int = 112, frames: int = 32, repeats: int = 3, fps: float = 100.0, clock: str = "wall"
) -> dict[str, float]:
    """Median ms per frame of ``magnify`` on a (frames, size, size) clip, per temporal filter."""
    from mewb.data.evm import magnify

    clip = synthetic_clip(frames, size, fps=fps).astype(np.float32)
    return {
        filt: _median_ms(lambda filt=filt: magnify(clip, fps=fps, low_hz=2.0, high_hz=10.0, alpha=4.0, filter=filt), repeats, clock)
        / frames
        for filt in ("iir", "ideal")
    }


def cache_cold_warm(*, clips: int = 4, frames: int = 16, size: int = 112, backend: str = "tvl1") -> dict[str, float]:
    """Total ms for ``get_or_build`` over ``clips`` clips: cold (EVM + flow, then write) vs warm (read + verify)."""
    from mewb.data.cache import PreprocessCache
    from mewb.data.evm import magnify
    from mewb.data.flow import clip_flow

    with tempfile.TemporaryDirectory() as tmp:
        cache = PreprocessCache(tmp)
        sources = []
        for i in range(clips):
            path = f"{tmp}/clip{i}.npy"
            np.save(path, synthetic_clip(frames, size, seed=i))
            sources.append(path)
        config = {"evm": {"alpha": 4.0, "low_hz": 2.0, "high_hz": 10.0}, "flow": backend, "mode": "onset"}

        def build(path: str) -> dict[str, np.ndarray]:
            grey = np.load(path)
            magnified = magnify(grey.astype(np.float32), fps=100.0, low_hz=2.0, high_hz=10.0, alpha=4.0)
            flow = clip_flow(np.clip(magnified, 0, 255), backend=backend, mode="onset")
            return {"frames": grey, "magnified": magnified, "flow": flow}

        def run_all() -> float:
            start = time.perf_counter()
            for path in sources:
                cache.get_or_build(cache.key([path], config), lambda path=path: build(path))
            return (time.perf_counter() - start) * 1000.0

        cold = run_all()
        warm = statistics.median(run_all() for _ in range(5))
        info = cache.info()
    return {"cold_ms": cold, "warm_ms": warm, "speedup": cold / warm, "entries": info["entries"], "bytes": info["bytes"]}


def motion_benchmarks(*, size: int = 112) -> dict[str, dict[str, float]]:
    """All three figures, for ``mewb/bench.py``."""
    return {
        "flow_ms_per_pair": flow_ms_per_pair(size=size),
        "evm_ms_per_frame": evm_ms_per_frame(size=size),
        "cache": cache_cold_warm(size=size),
    }


if __name__ == "__main__":  # pragma: no cover
    from mewb import jsonio

    print(jsonio.dumps(motion_benchmarks(), indent=2))
