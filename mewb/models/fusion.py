"""Fusing the frames and flow streams: L2 normalisation along channels, then concatenation.

IM3DR-MFER fuses its two modalities at an intermediate stage. Each stream's feature map is
L2-normalised over channels at every voxel (as ParseNet does before fusing features of different
scales, Liu et al. 2015, https://arxiv.org/abs/1506.04579), so neither modality dominates by
magnitude; the normalised maps are concatenated along channels. The BatchNorm after the next
convolution learns the scale back, so no learnable scale is added here.

The flow stream usually has one time step less than the frames (T-1 flows for T frames), which
can leave the two maps one step apart after strided stages; the maps are then resampled
trilinearly to the largest (T, H, W) among the streams before concatenation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class L2NormConcat(nn.Module):
    """``[(N, C_i, T_i, H_i, W_i), ...] -> (N, sum C_i, T, H, W)`` with per-voxel unit-norm streams."""

    def forward(self, streams: list[torch.Tensor]) -> torch.Tensor:
        size = tuple(max(s.shape[axis] for s in streams) for axis in (2, 3, 4))
        aligned = [
            s if tuple(s.shape[2:]) == size else F.interpolate(s, size=size, mode="trilinear", align_corners=False)
            for s in streams
        ]
        return torch.cat([F.normalize(s, p=2, dim=1) for s in aligned], dim=1)
