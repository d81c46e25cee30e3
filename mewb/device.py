"""Device choice and CPU thread sizing, shared by training, explaining and benchmarks."""

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
