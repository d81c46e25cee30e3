"""Building blocks of IM3DR-MFER, one per file; every block takes the channel count first."""

from mewb.models.layers.casanet import CASANet, ChannelTimeAttention, SpatialTimeAttention
from mewb.models.layers.mscaf import MSCAF
from mewb.models.layers.shuffle import ChannelShuffle, channel_shuffle, conv3x3x3

__all__ = [
    "CASANet",
    "ChannelShuffle",
    "ChannelTimeAttention",
    "MSCAF",
    "SpatialTimeAttention",
    "channel_shuffle",
    "conv3x3x3",
]
