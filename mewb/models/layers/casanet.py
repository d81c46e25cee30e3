"""CASANet: channel-time and spatial-time attention for 3D feature maps.

IM3DR-MFER's attention (the paper's CASANet), built like CBAM (Woo et al., ECCV 2018,
https://arxiv.org/abs/1807.06521) applied in sequence, channel first, but in 3D and over time:

* **Channel-time attention (CAM)**: one weight per (channel, time step). Average and max over
  ``(H, W)`` give two ``(C, T)`` maps; a small 2D convolution slides over the channel and time
  axes together and a sigmoid gives the weights. As in ECA-Net (Wang et al., CVPR 2020,
  https://arxiv.org/abs/1910.03151) there is no bottleneck: no dimensionality reduction, only a
  local cross-channel (and here cross-time) interaction whose channel extent ``k`` follows ECA's
  ``k = |log2(C) / 2 + 1/2|`` rounded to odd.
* **Spatial-time attention (SAM)**: max and mean over channels give ``(2, T, H, W)``; a 3D
  convolution (default 3x7x7) and a sigmoid give one weight per voxel.

The maps of the last forward pass are kept (detached) in ``channel_time_map`` ``(N, C, T)`` and
``spatial_time_map`` ``(N, T, H, W)``, both in [0, 1], for visualisation without hooks.
What the paper leaves open (kernel sizes, order) is chosen here as CBAM and ECA do.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def eca_kernel_size(channels: int, gamma: float = 2.0, beta: float = 1.0) -> int:
    """ECA-Net's adaptive kernel size: odd, grows with log2 of the channel count (5 for 512)."""
    k = int(abs(math.log2(channels) / gamma + beta / gamma))
    return k if k % 2 else k + 1


class ChannelTimeAttention(nn.Module):
    """Weights over channel x time for ``(N, C, T, H, W)``; returns the map ``(N, C, T, 1, 1)``."""

    def __init__(self, channels: int, *, time_kernel: int = 3) -> None:
        super().__init__()
        k = eca_kernel_size(channels)
        self.conv = nn.Conv2d(2, 1, kernel_size=(k, time_kernel), padding=(k // 2, time_kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.stack([x.mean(dim=(3, 4)), x.amax(dim=(3, 4))], dim=1)  # (N, 2, C, T)
        weights = torch.sigmoid(self.conv(pooled))  # (N, 1, C, T)
        return weights.squeeze(1)[..., None, None]  # (N, C, T, 1, 1)


class SpatialTimeAttention(nn.Module):
    """Weights per voxel for ``(N, C, T, H, W)``; returns the map ``(N, 1, T, H, W)``."""

    def __init__(self, *, kernel_size: tuple[int, int, int] = (3, 7, 7)) -> None:
        super().__init__()
        self.conv = nn.Conv3d(2, 1, kernel_size=kernel_size, padding=tuple(k // 2 for k in kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)  # (N, 2, T, H, W)
        return torch.sigmoid(self.conv(pooled))  # (N, 1, T, H, W)


class CASANet(nn.Module):
    """Channel-time then spatial-time attention on ``(N, C, T, H, W)``; same shape out."""

    def __init__(
        self,
        channels: int,
        *,
        time_kernel: int = 3,  # extent over time of the channel-time convolution
        spatial_kernel: tuple[int, int, int] = (3, 7, 7),  # (T, H, W) kernel of the spatial-time conv
    ) -> None:
        super().__init__()
        self.channel_time = ChannelTimeAttention(channels, time_kernel=time_kernel)
        self.spatial_time = SpatialTimeAttention(kernel_size=spatial_kernel)
        self.channel_time_map: torch.Tensor | None = None
        self.spatial_time_map: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel_time = self.channel_time(x)  # (N, C, T, 1, 1)
        x = x * channel_time
        spatial_time = self.spatial_time(x)  # (N, 1, T, H, W)
        self.channel_time_map = channel_time.detach()[..., 0, 0]  # (N, C, T)
        self.spatial_time_map = spatial_time.detach()[:, 0]  # (N, T, H, W)
        return x * spatial_time
