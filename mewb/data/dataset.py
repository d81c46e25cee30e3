"""The torch ``Dataset``: samples -> dicts of tensors, only the modalities a model reads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from mewb.data.cache import PreprocessCache
from mewb.data.preprocess import PreprocessConfig, frames_to_tensor_array, preprocess_sample
from mewb.data.sample import Sample


class ClipDataset(Dataset):
    """``ds[i]`` -> ``{"frames": (3, T, H, W), "flow": (3, T', H, W), "label": (), "index": i}``.

    Only the requested ``modalities`` are produced. Arrays come from the preprocessing cache
    when one is given (build it once with :meth:`warm`), so DataLoader workers only read files.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        config: PreprocessConfig,
        *,
        modalities: Sequence[str] = ("frames", "flow"),
        cache: PreprocessCache | None = None,
    ) -> None:
        unknown = set(modalities) - {"frames", "flow"}
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of ('frames', 'flow'), got {tuple(modalities)}")
        self.samples = list(samples)
        self.config = config
        self.modalities = tuple(modalities)
        self.cache = cache

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        arrays = preprocess_sample(sample, self.config, self.modalities, self.cache)
        item: dict = {"label": torch.tensor(sample.label, dtype=torch.long), "index": index}
        if "frames" in arrays:
            item["frames"] = torch.from_numpy(frames_to_tensor_array(arrays["frames"]))
        if "flow" in arrays:
            item["flow"] = torch.from_numpy(arrays["flow"].astype("float32", copy=False))
        return item

    def warm(self, *, progress: bool = True) -> None:
        """Preprocess every sample into the cache (a no-op for samples already cached)."""
        if self.cache is None:
            raise ValueError("warm() needs a cache: ClipDataset(..., cache=PreprocessCache(root))")
        for sample in tqdm(self.samples, desc="preprocess", unit="clip", disable=not progress):
            preprocess_sample(sample, self.config, self.modalities, self.cache)
