"""Guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM map, via Captum.

Guided backpropagation hooks every ReLU module; this works because the adapter is a copy of the
model with in-place ReLUs turned off (see ``adapter.py``).
"""

from __future__ import annotations

import warnings

import torch
from captum.attr import GuidedGradCam

from mewb.explain.adapter import PositionalModel, resolve_layer
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution


@ATTRIBUTION_METHODS.register("guided_gradcam")
def guided_gradcam(
    adapter: PositionalModel,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    *,
    layer: str | None = None,  # dotted layer name; None = the deepest stage after fusion at least 4x4 (adapter.resolve_layer)
) -> Attribution:
    """Maps ``(N, C, T_m, H, W)`` per input."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")  # expected, and removed after
        attributions = GuidedGradCam(adapter, resolve_layer(adapter, layer, inputs)).attribute(
            inputs, target=target, interpolate_mode="trilinear"
        )
    return Attribution("guided_gradcam", adapter.as_dict(attributions), target, options={"layer": layer})
