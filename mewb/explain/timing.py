"""How long each attribution method takes on one clip (median of a few runs), for ``mewb.bench``."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from mewb.explain.adapter import prepare
from mewb.explain.base import attribute

TIMED_METHODS = ("integrated_gradients", "saliency", "gradcam", "guided_gradcam", "attention")


def demo_inputs(model: nn.Module, *, frames: int = 8, size: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random clip shaped like the SynthME demo (``PreprocessConfig()``: 8 frames of 64x64)."""
    g = torch.Generator().manual_seed(seed)
    steps = {"frames": frames, "flow": frames - 1}
    return {m: torch.randn(1, 3, steps[m], size, size, generator=g) for m in model.modalities}


def time_methods(
    model: nn.Module,
    inputs: Mapping[str, torch.Tensor],
    *,
    methods: Sequence[str] = TIMED_METHODS,
    options: Mapping[str, dict] | None = None,
    repeats: int = 3,
    warmup: int = 1,
) -> pd.DataFrame:
    """Seconds per call of each method on ``inputs``: ``method, median_s, min_s, cpu_s, repeats, threads``.

    The methods run side by side (interleaved per repeat), so load from other processes hits
    them alike. ``cpu_s`` is the median CPU time of this process per call divided by the torch
    threads: on a shared machine it estimates the wall time the call would take alone. The
    model is prepared once (the adapter copy is not timed, as in a loop over clips).
    """
    adapter = prepare(model)
    options = {"integrated_gradients": {"n_steps": 32}, **(options or {})}
    base = adapter.model
    has_attention = bool(getattr(base, "attention_modules", lambda: [])())
    methods = [m for m in methods if m != "attention" or has_attention]
    times: dict[str, list[float]] = {m: [] for m in methods}
    cpu: dict[str, list[float]] = {m: [] for m in methods}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for round_ in range(warmup + repeats):
            for method in methods:
                start, start_cpu = time.perf_counter(), time.process_time()
                attribute(adapter, inputs, method, **options.get(method, {}))
                if round_ >= warmup:
                    times[method].append(time.perf_counter() - start)
                    cpu[method].append(time.process_time() - start_cpu)
    return pd.DataFrame(
        [
            {
                "method": m,
                "median_s": statistics.median(t),
                "min_s": min(t),
                "cpu_s": statistics.median(cpu[m]) / max(1, torch.get_num_threads()),
                "repeats": repeats,
                "threads": torch.get_num_threads(),
            }
            for m, t in times.items()
        ]
    )
