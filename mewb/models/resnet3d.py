"""The 3D ResNet18 backbone, shaped like torchvision's R3D-18 and written here.

Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition" (CVPR 2018,
https://arxiv.org/abs/1711.11248): a stem (3x7x7 convolution, spatial stride 2), four stages of
two BasicBlocks with widths 64-128-256-512 (stages 2-4 halve T, H and W), global average pooling.

IM3DR-MFER's changes are arguments, so the dense reference and the improved network are the same
code: ``groups`` makes every 3x3x3 block convolution grouped, with a channel shuffle between the
two convolutions of a block; ``attention`` puts a block (CASANet) on the residual branch of a
stage's last block, before the addition, as CBAM does.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from mewb.models.layers.conv import Conv3d
from mewb.models.layers.shuffle import ChannelShuffle, conv3x3x3

WIDTHS = (64, 128, 256, 512)  # R3D-18 stage widths


class BasicBlock(nn.Module):
    """Two 3x3x3 convolutions with a residual path; ``(N, C_in, T, H, W) -> (N, C_out, T', H', W')``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        groups: int = 1,
        attention: nn.Module | None = None,
        norm: Callable[[int], nn.Module] = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3x3(in_channels, out_channels, stride=stride, groups=groups)
        self.bn1 = norm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # Shuffle so that conv2's groups read from every group of conv1 (ShuffleNet).
        self.shuffle = ChannelShuffle(self.conv1.groups) if self.conv1.groups > 1 else nn.Identity()
        self.conv2 = conv3x3x3(out_channels, out_channels, groups=groups)
        self.bn2 = norm(out_channels)
        self.attention = attention or nn.Identity()
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False), norm(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.shuffle(self.relu(self.bn1(self.conv1(x))))
        out = self.attention(self.bn2(self.conv2(out)))
        return self.relu(out + self.downsample(x))


class Stem(nn.Sequential):
    """R3D-18's stem: 3x7x7 convolution, stride (1, 2, 2); ``(N, C, T, H, W) -> (N, 64, T, H/2, W/2)``."""

    def __init__(self, in_channels: int, width: int = WIDTHS[0], norm: Callable[[int], nn.Module] = nn.BatchNorm3d):
        super().__init__(
            Conv3d(in_channels, width, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            norm(width),
            nn.ReLU(inplace=True),
        )


def make_stage(
    index: int,
    in_channels: int,
    out_channels: int,
    *,
    blocks: int = 2,
    groups: int = 1,
    attention: Callable[[int], nn.Module] | None = None,
) -> nn.Sequential:
    """Stage ``index`` (1-4) of the backbone; stages 2-4 halve T, H and W in their first block.

    ``attention(channels)``, when given, builds the block placed in the stage's last block.
    """
    stride = 1 if index == 1 else 2
    layers = []
    for b in range(blocks):
        last = b == blocks - 1
        layers.append(
            BasicBlock(
                in_channels if b == 0 else out_channels,
                out_channels,
                stride=stride if b == 0 else 1,
                groups=groups,
                attention=attention(out_channels) if (attention and last) else None,
            )
        )
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """torchvision's video ResNet initialisation: Kaiming for convolutions, unit BatchNorm."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm3d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
