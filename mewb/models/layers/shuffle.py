"""Channel shuffle and the grouped 3D convolution it pairs with.

ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile Devices
(Zhang et al., CVPR 2018, https://arxiv.org/abs/1707.01083), used in 3D as IM3DR-MFER does.

A grouped convolution with ``g`` groups costs ``1/g`` of the dense one's parameters and FLOPs, but
each output group only sees its own input group. Shuffling the channels between two grouped
convolutions lets the second one read from every group of the first, so information crosses
groups again at no parameter cost.
"""

from __future__ import annotations

import torch
from torch import nn

from mewb.models.layers.conv import Conv3d


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channel groups of ``x`` of shape ``(N, C, *spatial)`` (any number of axes).

    Channel ``i * (C // groups) + j`` moves to ``j * groups + i``: a fixed permutation in which
    every run of ``groups`` consecutive output channels takes one channel from each input group.
    A channels-last ``(N, C, T, H, W)`` input stays channels-last (same values).
    """
    if groups == 1:
        return x
    n, c = x.shape[:2]
    if c % groups:
        raise ValueError(f"channel_shuffle: {c} channels do not split into {groups} groups")
    rest = x.shape[2:]
    if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        # Keep the (N, T, H, W, C) layout: shuffle the innermost axis of the memory, no reorder.
        y = x.permute(0, 2, 3, 4, 1).reshape(n, *rest, groups, c // groups).transpose(-1, -2)
        return y.reshape(n, *rest, c).permute(0, 4, 1, 2, 3)
    x = x.reshape(n, groups, c // groups, *rest)  # (N, g, C/g, ...)
    x = x.transpose(1, 2)  # (N, C/g, g, ...)
    return x.reshape(n, c, *rest)


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle` (shows up in ``print(model)``)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def conv3x3x3(
    in_channels: int, out_channels: int, *, stride: int = 1, groups: int = 1, dilation: tuple[int, int, int] = (1, 1, 1)
) -> Conv3d:
    """A 3x3x3 convolution without bias (a BatchNorm follows), padded to keep size at stride 1
    (with the exact single-frame fast path of :class:`mewb.models.layers.conv.Conv3d`).

    ``groups`` is reduced to the largest divisor of both channel counts that does not exceed
    it, so one ``groups`` setting serves every stage width.
    """
    groups = _fitting_groups(in_channels, out_channels, groups)
    return Conv3d(
        in_channels,
        out_channels,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        groups=groups,
        bias=False,
    )


def _fitting_groups(in_channels: int, out_channels: int, groups: int) -> int:
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    while in_channels % groups or out_channels % groups:
        groups -= 1
    return groups
