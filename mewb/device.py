"""Device choice, CPU thread sizing, precision and memory layout, shared by training, explaining and benchmarks."""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; any other value is passed to ``torch.device``.

    Asking for CUDA on a machine without it raises instead of silently running on the CPU.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here")
    return resolved


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AMX-BF16 or AVX512-BF16).

    Read from ``/proc/cpuinfo`` (Linux); elsewhere False, so ``auto`` stays fp32. Without these
    instructions bf16 autocast is emulated and slower than fp32.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"amx_bf16", "avx512_bf16"} & flags)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device: str | torch.device = "auto") -> str:
    """``auto`` -> ``fp16`` on CUDA, ``bf16`` on a CPU with native bf16, else ``fp32``; others checked."""
    device = resolve_device(device)
    if precision == "auto":
        if device.type == "cuda":
            return "fp16"
        return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs CUDA (CPUs autocast to bf16: use precision bf16 or auto)")
    return precision


def autocast(device: torch.device, precision: str):
    """The autocast context of a concrete ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast(device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def cpu_threads() -> int:
    """Threads this process may use: the CPU affinity mask, not the host's core count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_torch_threads(threads: int | None = None) -> int:
    """Size torch's intra-op pool to the machine (2 on the 2-core CI box) and return it."""
    threads = threads or cpu_threads()
    torch.set_num_threads(threads)
    return threads


def configure_worker_threads(_worker_id: int = 0) -> None:
    """``DataLoader(worker_init_fn=...)``: one thread per worker for torch and OpenCV.

    Without this every worker starts a full-size OpenCV and torch pool, and a 2-core machine
    runs 2 x workers x cores threads and slows down.
    """
    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(0)
    except ImportError:  # OpenCV is a core dependency; this only guards odd installs
        pass


def memory_layout(memory_format: str) -> torch.memory_format:
    """The torch layout of a ``train.memory_format`` value: ``channels_last`` -> ``(N, T, H, W, C)``."""
    return torch.channels_last_3d if memory_format == "channels_last" else torch.contiguous_format


def use_memory_format(model: torch.nn.Module, memory_format: str) -> torch.nn.Module:
    """Lay out ``model``'s 5-D weights as ``memory_format`` (``contiguous`` | ``channels_last``), in place.

    ``nn.Module.to(memory_format=...)`` refuses models with weights of other ranks (CASANet's
    spatial convolution), so only rank-5 tensors move; the values are unchanged.
    """
    layout = memory_layout(memory_format)
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=layout)
    return model
