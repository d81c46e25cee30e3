"""ToyClips: tiny in-memory clips with a learnable signal, for tests and smoke runs of the trainer.

Each clip is generated from its sample key alone (a seeded RNG), so any process (a DataLoader
worker, a process-pool or Dask worker) rebuilds exactly the same tensors without files. Class
``c`` puts a Gaussian blob of flow into the clip pointing one way per class (right, down, left,
...), and a faint blob of brightness at a class-dependent place in the frames; everything else is
noise. A motion model learns it in an epoch or two at 16x16.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mewb.data.sample import Sample


def toy_samples(subjects: int = 4, clips_per_subject: int = 6, num_classes: int = 3, *, dataset: str = "toy") -> list[Sample]:
    """``subjects * clips_per_subject`` samples, labels cycling over the classes within each subject."""
    return [
        Sample(dataset=dataset, subject=f"s{s + 1:02d}", clip=f"c{c + 1:02d}", label=(s + c) % num_classes, emotion=f"class{(s + c) % num_classes}")
        for s in range(subjects)
        for c in range(clips_per_subject)
    ]


def _seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def toy_clip(sample: Sample, *, frames: int, size: int, num_classes: int = 3, signal: float = 1.0) -> dict:
    """``{"frames": (3, T, S, S), "flow": (3, max(T-1, 1), S, S)}`` float32 tensors for ``sample``."""
    rng = np.random.default_rng(_seed(sample.key))
    label = sample.label
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = size / 2 + rng.normal(0, size / 16, 2)
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * (size / 6) ** 2))  # (S, S)
    angle = 2 * math.pi * label / num_classes
    t_flow = max(frames - 1, 1)
    ramp = np.linspace(1.0 / t_flow, 1.0, t_flow, dtype=np.float32)[:, None, None]  # onset -> frame t grows
    u = signal * math.cos(angle) * ramp * blob
    v = signal * math.sin(angle) * ramp * blob
    strain = np.abs(u) * 0.5 + np.abs(v) * 0.5
    flow = np.stack([u, v, strain]) + rng.normal(0, 0.1, (3, t_flow, size, size))
    # frames: faint brightness blob whose place depends on the class, plus noise
    spot = np.exp(-((xx - size * (label + 1) / (num_classes + 1)) ** 2 + (yy - size / 2) ** 2) / (2 * (size / 8) ** 2))
    clip = 0.3 * signal * spot[None, None] + rng.normal(0, 0.3, (3, frames, size, size))
    return {"frames": torch.tensor(clip, dtype=torch.float32), "flow": torch.tensor(flow, dtype=torch.float32)}


class ToyClipDataset(Dataset):
    """``ds[i]`` -> ``{"frames": (3, T, S, S), "flow": (3, T-1, S, S), "label": (), "index": i}`` (asked modalities)."""

    def __init__(self, samples: Sequence[Sample], *, frames: int = 2, size: int = 16, modalities=("frames", "flow"),
                 num_classes: int = 3) -> None:
        self.samples = list(samples)
        self.frames, self.size, self.modalities, self.num_classes = frames, size, tuple(modalities), num_classes

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        clip = toy_clip(sample, frames=self.frames, size=self.size, num_classes=self.num_classes)
        item = {m: clip[m] for m in self.modalities}
        item.update(label=torch.tensor(sample.label, dtype=torch.long), index=index)
        return item


def toy_dataset(samples: Sequence[Sample], preprocess_config, modalities: Sequence[str], cache_dir=None) -> ToyClipDataset:
    """A ``dataset_factory`` for :func:`mewb.train.run_loso` (``clip_length`` and ``size`` from the config)."""
    num_classes = max([s.label for s in samples] + [2]) + 1
    return ToyClipDataset(samples, frames=preprocess_config.clip_length, size=preprocess_config.size,
                          modalities=modalities, num_classes=max(num_classes, 3))
