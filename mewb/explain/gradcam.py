"""Grad-CAM (Selvaraju et al., ICCV 2017, https://arxiv.org/abs/1610.02391) on a 3D layer via Captum.

``LayerGradCam`` weights the layer's channels by their gradient averaged over ``(T', H', W')``
and keeps the positive part; the ``(N, 1, T', H', W')`` map is upsampled trilinearly to each
input's ``(T_m, H, W)`` with ``LayerAttribution.interpolate(..., "trilinear")``. The default
layer is the deepest stage after fusion whose map is at least 4x4 (stage 4 from 112 px, stage 3 at
the demo's 32 px; see ``resolve_layer``); any layer is named by its dotted path, e.g.
``"trunk.0"`` (stage 3, twice the resolution) or ``"streams.flow.2"`` (stage 2 of the flow stream).
"""

from __future__ import annotations

import torch
from captum.attr import LayerAttribution, LayerGradCam

from mewb.explain.adapter import PositionalModel, resolve_layer
from mewb.explain.base import ATTRIBUTION_METHODS, Attribution


def layer_gradcam(
    adapter: PositionalModel, inputs: tuple[torch.Tensor, ...], target: torch.Tensor, layer=None, relu: bool = True
) -> torch.Tensor:
    """The layer map ``(N, 1, T', H', W')`` before upsampling."""
    return LayerGradCam(adapter, resolve_layer(adapter, layer, inputs)).attribute(
        inputs, target=target, relu_attributions=relu
    )


def upsample_to_inputs(layer_map: torch.Tensor, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """``(N, 1, T', H', W')`` -> one ``(N, 1, T_m, H, W)`` per input, trilinear."""
    return tuple(LayerAttribution.interpolate(layer_map, tuple(x.shape[2:]), "trilinear") for x in inputs)


@ATTRIBUTION_METHODS.register("gradcam")
def gradcam(
    adapter: PositionalModel,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    *,
    layer: str | None = None,  # dotted layer name; None = the deepest stage after fusion at least 4x4 (adapter.resolve_layer)
    relu: bool = True,  # keep only positive evidence (Grad-CAM's ReLU)
) -> Attribution:
    """Maps ``(N, 1, T_m, H, W)`` per input (one layer map, resampled)."""
    layer_map = layer_gradcam(adapter, inputs, target, layer, relu)
    maps = adapter.as_dict(upsample_to_inputs(layer_map, inputs))
    return Attribution("gradcam", maps, target, shared=True, options={"layer": layer})
