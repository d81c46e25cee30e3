"""MSCAF: multi-scale context-aware fusion, an ASPP-like block of dilated 3D convolutions.

After DeepLabv3's Atrous Spatial Pyramid Pooling (Chen et al., "Rethinking Atrous Convolution for
Semantic Image Segmentation", https://arxiv.org/abs/1706.05587), as IM3DR-MFER inserts it between
the third and fourth residual stages.

Branches, each mapping ``channels -> branch_channels``:

* a 1x1x1 convolution (the point-wise view);
* one 3x3x3 convolution per rate ``r`` with dilation ``(1, r, r)``, grouped, for receptive fields
  of 3, 5, 7 ... pixels. Only space is dilated: after stage 3 a 16-frame clip has 4 time steps
  left, so a temporal dilation of 2 or 3 would mostly read zero padding;
* a global-context branch: average over ``(T, H, W)``, a 1x1x1 convolution, broadcast back.
  It has no BatchNorm (a single value per channel breaks BatchNorm at batch size 1).

The branches are concatenated, projected back to ``channels`` by a 1x1x1 convolution and added
to the input (residual path), so the block starts close to identity and costs about 3% of a
dense ResNet18's FLOPs at the default widths.

Differences from the paper, which gives no exact sizes: branch width ``channels // 4`` and grouped
dilated convolutions keep the block cheap; the residual connection is ours.
"""

from __future__ import annotations

import torch
from torch import nn

from mewb.models.layers.shuffle import conv3x3x3


class MSCAF(nn.Module):
    """Multi-scale context-aware fusion on ``(N, C, T, H, W)``; output has the same shape."""

    def __init__(
        self,
        channels: int,
        *,
        rates: tuple[int, ...] = (1, 2, 3),  # spatial dilation of each 3x3x3 branch
        branch_channels: int | None = None,  # width of each branch; default channels // 4
        groups: int = 4,  # groups of the dilated 3x3x3 branches
        norm: type[nn.Module] = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        width = branch_channels or max(1, channels // 4)

        def conv_bn_relu(conv: nn.Module) -> nn.Sequential:
            return nn.Sequential(conv, norm(width), nn.ReLU(inplace=True))

        self.branches = nn.ModuleList(
            [conv_bn_relu(nn.Conv3d(channels, width, kernel_size=1, bias=False))]
            + [
                conv_bn_relu(conv3x3x3(channels, width, groups=groups, dilation=(1, rate, rate)))
                for rate in rates
            ]
        )
        self.global_context = nn.Sequential(
            nn.AdaptiveAvgPool3d(1), nn.Conv3d(channels, width, kernel_size=1), nn.ReLU(inplace=True)
        )
        fused = width * (len(self.branches) + 1)
        self.project = nn.Sequential(nn.Conv3d(fused, channels, kernel_size=1, bias=False), norm(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [branch(x) for branch in self.branches]
        context = self.global_context(x).expand(-1, -1, *x.shape[2:])  # (N, width, T, H, W)
        fused = torch.cat(outputs + [context], dim=1)  # (N, width * branches, T, H, W)
        return self.relu(x + self.project(fused))
