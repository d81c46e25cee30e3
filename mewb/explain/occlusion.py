"""Occlusion with 3D windows (Zeiler and Fergus, ECCV 2014, https://arxiv.org/abs/1311.2901) via Captum.

A ``(C, t, h, w)`` window slides over each input in turn (the other input is left intact) and
is replaced by the baseline 0: mid-grey for the standardised frames, no motion for flow. The
attribution of a voxel is the mean drop of the target logit over the windows covering it.
Windows are clamped to the clip, and a stride that does not tile the clip's length is reduced
so that every voxel is covered (Captum leaves uncovered voxels at 0).
"""

from __future__ import annotations

import torch
from captum.attr import Occlusion

from mewb.explain.adapter import PositionalModel
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution


def _tiling(size: int, window: int, stride: int) -> tuple[int, int]:
    """``(window, stride)`` clamped to ``size``, stride reduced until the windows reach the end."""
    window = min(window, size)
    stride = max(1, min(stride, window))
    while (size - window) % stride:
        stride -= 1
    return window, stride


@ATTRIBUTION_METHODS.register("occlusion")
def occlusion(
    adapter: PositionalModel,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    *,
    window: tuple[int, int, int] = (2, 16, 16),  # (t, h, w) of the occluding block
    stride: tuple[int, int, int] = (2, 8, 8),  # step of the block along (T, H, W)
    perturbations_per_eval: int = 16,  # occluded clips per forward pass
) -> Attribution:
    """Maps ``(N, C, T_m, H, W)`` per input (the same value on every channel of a voxel)."""
    windows, strides = [], []
    for x in inputs:
        c = x.shape[1]
        tiles = [_tiling(size, w, s) for size, w, s in zip(x.shape[2:], window, stride)]
        windows.append((c, *[t[0] for t in tiles]))
        strides.append((c, *[t[1] for t in tiles]))
    attributions = Occlusion(adapter).attribute(
        inputs,
        sliding_window_shapes=tuple(windows),
        strides=tuple(strides),
        baselines=tuple(0.0 for _ in inputs),
        target=target,
        perturbations_per_eval=perturbations_per_eval,
    )
    return Attribution("occlusion", adapter.as_dict(attributions), target, options={"window": window, "stride": stride})
