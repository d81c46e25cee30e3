"""``Conv3d`` with an exact fast path for single-frame inputs (``T = 1``).

A 3x3x3 convolution on a clip of one frame (an onset-apex flow image, or any clip after the
stages have halved T down to 1) multiplies two of its three temporal taps by zero padding. When
the input has ``T = 1`` and only one temporal tap can reach it, this layer convolves with that
tap alone as a ``(1, kH, kW)`` kernel: the same numbers (the other taps' products are zeros) and
the same gradients (the other taps' weight gradients are zero either way), at about a third of
the work. Weights, ``state_dict`` keys and every other input shape behave as ``nn.Conv3d``.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


_FAST_PATH = [True]


@contextmanager
def padded_single_frames():
    """Within this block every ``Conv3d`` computes ``T = 1`` inputs the padded way, as ``nn.Conv3d``
    does (``mewb bench`` profiles the step before and after the fast path with it)."""
    _FAST_PATH.append(False)
    try:
        yield
    finally:
        _FAST_PATH.pop()


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that skips the zero-padding taps on ``T = 1`` inputs (exact; see the module docstring)."""

    def single_frame_tap(self, frames: int) -> int | None:
        """The one temporal tap that sees data for an input of ``frames`` frames, or None (no fast path)."""
        k, p, d, s = self.kernel_size[0], self.padding[0], self.dilation[0], self.stride[0]
        if frames != 1 or k == 1 or self.padding_mode != "zeros" or isinstance(self.padding, str):
            return None
        out = (1 + 2 * p - d * (k - 1) - 1) // s + 1
        if out != 1 or p % d:
            return None
        tap = p // d  # output frame 0 reads input frame -p + tap * d == 0
        return tap if 0 <= tap < k else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tap = self.single_frame_tap(x.shape[2]) if x.dim() == 5 and _FAST_PATH[-1] else None
        if tap is None:
            return super().forward(x)
        weight = self.weight[:, :, tap:tap + 1]  # (C_out, C_in / g, 1, kH, kW)
        return F.conv3d(x, weight, self.bias, self.stride, (0, *self.padding[1:]), self.dilation, self.groups)
