"""The torch ``Dataset``: samples -> dicts of tensors, only the modalities a model reads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from mewb.data.cache import PreprocessCache
from mewb.data.pipeline import ClipPipeline
from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample


class ClipDataset(Dataset):
    """``ds[i]`` -> ``{"frames": (3, T, H, W), "flow": (3, T', H, W), "label": (), "index": i}``.

    A torch view of :class:`mewb.data.pipeline.ClipPipeline` over ``samples``: only the requested
    ``modalities`` are produced, from the preprocessing cache when one is given (build it once
    with :meth:`warm`), so DataLoader workers only read files.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        config: PreprocessConfig,
        *,
        modalities: Sequence[str] = ("frames", "flow"),
        cache: PreprocessCache | None = None,
    ) -> None:
        self.samples = list(samples)
        self.pipeline = ClipPipeline(config, modalities, cache)

    @property
    def config(self) -> PreprocessConfig:
        return self.pipeline.config

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.pipeline.modalities

    @property
    def cache(self) -> PreprocessCache | None:
        return self.pipeline.cache

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        item: dict = {"label": torch.tensor(sample.label, dtype=torch.long), "index": index}
        item.update(self.pipeline.tensors(sample))
        return item

    def warm(self, *, progress: bool = True) -> None:
        """Preprocess every sample into the cache (a no-op for samples already cached)."""
        self.pipeline.warm(self.samples, progress=progress)
