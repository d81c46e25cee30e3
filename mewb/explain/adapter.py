"""Captum-facing adapter: a dict-input model as a module of positional tensors.

mewb models take ``{"frames": (N, 3, T, H, W), "flow": (N, 3, T-1, H, W)}``; Captum passes a
tuple of tensors. :class:`PositionalModel` takes them in ``model.modalities`` order.

The backbone uses ``nn.ReLU(inplace=True)`` (and reuses one ReLU module twice per block). Guided
backprop (inside Guided Grad-CAM) hooks the ReLU modules' backward pass, and a module that
overwrites its input in place cannot be hooked that way (PyTorch raises "Output 0 of
BackwardHookFunctionBackward is a view and is being modified inplace"). Rather than flip the
flag on the caller's model, :func:`prepare` works on a deep copy with every in-place activation
turned off: same weights, same outputs, and the caller's model is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn


class PositionalModel(nn.Module):
    """``forward(*tensors)`` -> logits ``(N, K)``, tensors in ``modalities`` order."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.modalities: tuple[str, ...] = tuple(model.modalities)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        if len(tensors) != len(self.modalities):
            raise ValueError(f"expected {len(self.modalities)} inputs {self.modalities}, got {len(tensors)}")
        return self.model(dict(zip(self.modalities, tensors)))

    def as_tuple(self, inputs: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The model's inputs from a dict (extra keys such as ``label`` are ignored)."""
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise ValueError(f"this model reads {list(self.modalities)}; missing {missing} (got {sorted(inputs)})")
        return tuple(inputs[m] for m in self.modalities)

    def as_dict(self, tensors: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(zip(self.modalities, tensors))


def without_inplace(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with ``inplace=False`` on every activation that has the flag."""
    clone = copy.deepcopy(model)
    for module in clone.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False
    return clone


def prepare(model: nn.Module) -> PositionalModel:
    """The Captum-ready form of ``model``: an eval-mode, in-place-free copy behind :class:`PositionalModel`.

    A :class:`PositionalModel` is returned as is, so callers explaining many clips prepare once.
    """
    if isinstance(model, PositionalModel):
        return model
    adapter = PositionalModel(without_inplace(model))
    adapter.eval()
    for p in adapter.parameters():
        p.requires_grad_(False)  # attributions need input gradients only
    return adapter


MIN_CAM_SIDE = 4  # a class-activation map needs at least this many cells per side to localise anything


def resolve_layer(model: nn.Module, layer: str | nn.Module | None, inputs: tuple[torch.Tensor, ...] | None = None,
                  *, min_side: int = MIN_CAM_SIDE) -> nn.Module:
    """A layer of ``model`` by dotted name relative to the mewb model (``"trunk.2"``, ``"streams.flow.2"``).

    ``None`` picks the last stage (``trunk[-1]``, stage 4: the last 3D convolutional layer before
    pooling, where Grad-CAM is usually taken). Given the ``inputs``, ``None`` picks the deepest
    stage after fusion whose output is at least ``min_side`` cells high and wide: at the demo's
    32 px, stage 4 is 2x2 and upsamples to a featureless blob (Grad-CAM then scored exactly the
    region's area share on SynthME), stage 3 is 4x4. A module is returned unchanged.
    """
    base = model.model if isinstance(model, PositionalModel) else model
    if isinstance(layer, nn.Module):
        return layer
    if layer is None:
        candidates = list(base.trunk) if len(base.trunk) else [list(base.streams.values())[0][-1]]
        if inputs is not None and len(candidates) > 1:
            sides: dict[int, int] = {}
            hooks = [m.register_forward_hook(lambda mod, _i, out, key=i: sides.__setitem__(key, min(out.shape[-2:])))
                     for i, m in enumerate(candidates)]
            try:
                with torch.no_grad():
                    model(*inputs)
            finally:
                for hook in hooks:
                    hook.remove()
            wide = [i for i in sides if sides[i] >= min_side]
            return candidates[max(wide)] if wide else candidates[0]
        return candidates[-1]
    try:
        return base.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in base.named_children()]
        raise ValueError(f"no layer {layer!r} in the model; top-level children: {names}") from None
