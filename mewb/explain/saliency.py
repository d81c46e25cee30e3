"""Saliency: the absolute input gradient (Simonyan et al., 2013, https://arxiv.org/abs/1312.6034) via Captum."""

from __future__ import annotations

import torch
from captum.attr import Saliency

from mewb.explain.adapter import PositionalModel
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution


@ATTRIBUTION_METHODS.register("saliency")
def saliency(
    adapter: PositionalModel,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    *,
    absolute: bool = True,  # |gradient| (Simonyan's map); False keeps the sign
) -> Attribution:
    """Maps ``(N, C, T_m, H, W)`` per input."""
    grads = Saliency(adapter).attribute(inputs, target=target, abs=absolute)
    return Attribution("saliency", adapter.as_dict(grads), target, options={"absolute": absolute})
