"""CASANet's attention maps (the ``full`` variant), upsampled to the clip the model saw.

Not gradients: the maps are what the model computed in its forward pass (channel-time weights
``(N, C, T')`` and spatial-time weights ``(N, T', H', W')`` of stage 4's last block, in [0, 1]).
Registered as the attribution method ``"attention"`` so that they are scored like any other map.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from mewb.explain.adapter import PositionalModel
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution


def attention_maps(model: nn.Module, inputs: Mapping[str, torch.Tensor], *, frames: int | None = None) -> dict[str, torch.Tensor]:
    """CASANet's maps for ``inputs``, upsampled to the frames.

    Returns ``{"spatial_time": (N, T, H, W)`` (trilinear), ``"channel_time": (N, C, T)`` (linear
    over time), ``"time": (N, T)`` (channel-time weight averaged over channels), ``"logits": (N, K)}``,
    where ``T`` is ``frames`` or the length of the first input (``frames`` for dual models) and
    ``(H, W)`` the input's size. The model is run in eval mode and left in its previous mode.
    """
    base = model.model if isinstance(model, PositionalModel) else model
    was_training = base.training
    base.eval()
    try:
        with torch.no_grad():
            logits = base({m: inputs[m] for m in base.modalities})
        maps = base.attention_maps()
    finally:
        base.train(was_training)
    first = inputs[base.modalities[0]]
    t = frames or first.shape[2]
    h, w = first.shape[3:]
    spatial = F.interpolate(maps["spatial_time"][:, None], size=(t, h, w), mode="trilinear", align_corners=False)[:, 0]
    channel = F.interpolate(maps["channel_time"], size=t, mode="linear", align_corners=False)  # (N, C, T)
    return {"spatial_time": spatial, "channel_time": channel, "time": channel.mean(dim=1), "logits": logits}


@ATTRIBUTION_METHODS.register("attention")
def attention(adapter: PositionalModel, inputs: tuple[torch.Tensor, ...], target: torch.Tensor) -> Attribution:
    """CASANet's spatial-time map as ``(N, 1, T_m, H, W)`` per input (class-agnostic: ``target`` is ignored)."""
    spatial = attention_maps(adapter, adapter.as_dict(inputs))["spatial_time"][:, None]  # (N, 1, T, H, W)
    maps = {
        modality: F.interpolate(spatial, size=tuple(x.shape[2:]), mode="trilinear", align_corners=False)
        for modality, x in zip(adapter.modalities, inputs)
    }
    return Attribution("attention", maps, target, shared=True)
