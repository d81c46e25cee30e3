"""Model size: parameters and FLOPs of each variant next to the dense ``r3d18`` reference.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts as 2
FLOPs) over one forward pass of a single clip; the benchmarks reuse these functions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

REFERENCE = "r3d18"


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def example_inputs(model: nn.Module, *, batch: int = 1, frames: int = 16, size: int = 112) -> dict[str, torch.Tensor]:
    """Random inputs for every modality the model reads: ``(batch, 3, T, size, size)``; flow has T-1 steps."""
    steps = {"frames": frames, "flow": max(1, frames - 1)}
    return {m: torch.randn(batch, model.in_channels, steps[m], size, size) for m in model.modalities}


def count_flops(model: nn.Module, inputs: dict[str, torch.Tensor]) -> int:
    """FLOPs of one forward pass (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def complexity_table(names: list[str] | None = None, *, frames: int = 16, size: int = 112) -> list[dict]:
    """One row per model: ``name, params, flops, params_ratio, flops_ratio`` (ratios to r3d18)."""
    from mewb.models.registry import create_model, list_models

    names = names or [REFERENCE] + [n for n in list_models() if n != REFERENCE]
    rows = []
    for name in names:
        model = create_model(name)
        rows.append(
            {
                "name": name,
                "params": count_parameters(model),
                "flops": count_flops(model, example_inputs(model, frames=frames, size=size)),
            }
        )
    reference = next((r for r in rows if r["name"] == REFERENCE), None)
    if reference is None:
        reference = {"params": count_parameters(create_model(REFERENCE))}
        reference["flops"] = count_flops(create_model(REFERENCE), example_inputs(create_model(REFERENCE), frames=frames, size=size))
    for row in rows:
        row["params_ratio"] = row["params"] / reference["params"]
        row["flops_ratio"] = row["flops"] / reference["flops"]
        row["input"] = f"{frames}x{size}x{size}"
    return rows


def format_complexity_table(rows: list[dict]) -> str:
    """Markdown table of :func:`complexity_table` rows."""
    lines = [
        f"Input {rows[0]['input']} (T x H x W), one clip; ratios to {REFERENCE}.",
        "",
        "| model | parameters | GFLOPs | params / r3d18 | FLOPs / r3d18 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['params'] / 1e6:.2f} M | {r['flops'] / 1e9:.2f} | "
            f"{r['params_ratio']:.1%} | {r['flops_ratio']:.1%} |"
        )
    return "\n".join(lines)
