"""The attribution contract: ``attribute(model, inputs, method)`` -> :class:`Attribution`.

Every method is a function registered in ``ATTRIBUTION_METHODS`` (one per file, as Captum has
one class per file) with the signature ``fn(adapter, inputs, target, **options) -> Attribution``,
where ``adapter`` is the Captum-ready :class:`~mewb.explain.adapter.PositionalModel`, ``inputs``
a tuple of ``(N, C, T_m, H, W)`` tensors in ``adapter.modalities`` order and ``target`` a
``(N,)`` long tensor of class indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from mewb.explain.adapter import PositionalModel, prepare
from mewb.registry import Registry

ATTRIBUTION_METHODS: Registry = Registry("attribution method")


@dataclass
class Attribution:
    """Attributions of one batch of clips.

    ``maps[modality]`` has the input's shape ``(N, C, T_m, H, W)`` (``C = 1`` for layer maps such
    as Grad-CAM, which are upsampled to each input); ``target`` ``(N,)`` is the class explained;
    ``delta`` ``(N,)`` is Integrated Gradients' convergence delta (``None`` for other methods);
    ``shared`` is True when every modality's map is the same layer map resampled (then the
    per-frame volume averages the modalities instead of adding them).
    """

    method: str
    maps: dict[str, torch.Tensor]
    target: torch.Tensor
    delta: torch.Tensor | None = None
    shared: bool = False
    options: dict = field(default_factory=dict)

    def __getitem__(self, modality: str) -> torch.Tensor:
        return self.maps[modality]


def list_methods() -> list[str]:
    return ATTRIBUTION_METHODS.names()


def resolve_target(adapter: PositionalModel, inputs: tuple[torch.Tensor, ...], target) -> torch.Tensor:
    """``(N,)`` long class indices: ``None`` -> the model's prediction; an int -> that class for all."""
    n = inputs[0].shape[0]
    if target is None:
        with torch.no_grad():
            return adapter(*inputs).argmax(dim=1)
    if isinstance(target, int):
        return torch.full((n,), target, dtype=torch.long)
    target = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if target.numel() == 1:
        target = target.expand(n)
    if target.numel() != n:
        raise ValueError(f"target has {target.numel()} entries for a batch of {n}")
    return target.clone()


def _layer_name(model: nn.Module, layer) -> str | None:
    """A layer given as a module of the caller's model, as its dotted name (the adapter is a copy)."""
    if layer is None or isinstance(layer, str):
        return layer
    base = model.model if isinstance(model, PositionalModel) else model
    for name, module in base.named_modules():
        if module is layer:
            return name
    raise ValueError("the layer module is not part of this model; give its dotted name instead")


def attribute(
    model: nn.Module,
    inputs: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
    method: str = "integrated_gradients",
    *,
    target=None,
    **options,
) -> Attribution:
    """Attribute the ``target`` class (default: predicted) of ``model`` to its inputs.

    Args:
        model: a mewb model (dict input) or a :func:`~mewb.explain.adapter.prepare`-d adapter
            (prepare once when explaining many clips: it copies the model).
        inputs: ``{"frames": (N, 3, T, H, W), "flow": (N, 3, T-1, H, W)}`` (extra keys ignored) or
            a tuple in ``model.modalities`` order. Never modified.
        method: a name in ``ATTRIBUTION_METHODS`` (``list_methods()``).
        target: ``None`` (predicted class), an int, or ``(N,)`` class indices.
        options: passed to the method (``n_steps``, ``layer``, ``sliding_window``, ...).
    """
    fn = ATTRIBUTION_METHODS.get(method)
    if "layer" in options:
        options["layer"] = _layer_name(model, options["layer"])
    adapter = prepare(model)
    tensors = adapter.as_tuple(inputs) if isinstance(inputs, Mapping) else tuple(inputs)
    # Copies, so the caller's tensors are never modified nor given requires_grad (Captum sets it).
    tensors = tuple(t.detach().float().clone().requires_grad_(True) for t in tensors)
    target_t = resolve_target(adapter, tensors, target)
    result = fn(adapter, tensors, target_t, **options)
    result.maps = {m: a.detach() for m, a in result.maps.items()}
    return result
