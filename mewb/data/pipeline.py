"""The clip pipeline: one object from a ``Sample`` to arrays and to model inputs.

Training (:class:`mewb.data.dataset.ClipDataset`), explaining, the robustness probes and
``mewb predict`` all go through :class:`ClipPipeline`, so a clip is turned into tensors in one
place and the same settings always give the same inputs.

The pipeline is a few *stages*, each producing one cached array:

=============  =================================================================  ==========================
stage          output                                                             reads
=============  =================================================================  ==========================
``frames``     the face clip ``(T, H, W, 3)`` uint8 (EVM-magnified when ``evm``)  ``FramesStage.settings``
``flow``       ``(3, T', H, W)`` float32 (u, v, strain), computed on the frames   ``FlowStage.settings``
               of ``flow_size`` when set, then area-resized to ``size``
``flow_image`` a precomputed flow image ``(3, 1, H, W)`` float32                  ``FlowImageStage.settings``
=============  =================================================================  ==========================

Each stage *declares* the settings it reads (``settings(config)``, a dict) and the annotation
of the sample it reads (onset, apex, offset, frame rate). Its cache key is derived from exactly
that, plus the source files' identity: change any of them and the key changes, so an edited
annotation sheet or setting never serves a stale array (tested property, ``tests/test_pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mewb.data.cache import PreprocessCache
from mewb.data.preprocess import (
    PreprocessConfig,
    flow_frames_config,
    flow_from_frames,
    flow_image_to_flow,
    frames_to_tensor_array,
    load_frames,
    resize_flow,
)
from mewb.data.sample import Sample

MODALITIES = ("frames", "flow")


def annotation(sample: Sample) -> dict:
    """The parts of a sample's annotation that choose and shape its frames (part of every key)."""
    return {"onset": sample.onset, "apex": sample.apex, "offset": sample.offset, "fps": sample.fps,
            "frame_numbers": list(sample.frame_numbers)}


def _sources(sample: Sample) -> list:
    return [sample.flow_image] if sample.flow_image is not None else list(sample.frames)


class FramesStage:
    """The face clip at ``config.size`` (``(T, H, W, 3)`` uint8)."""

    name = "frames"

    @staticmethod
    def settings(config: PreprocessConfig) -> dict:
        keys = ["clip_length", "size", "sampling", "colour", "align", "evm"]
        if config.evm:  # the magnification's own settings matter only when it runs
            keys += ["evm_alpha", "evm_low_hz", "evm_high_hz", "evm_levels"]
        return {k: getattr(config, k) for k in keys}

    @staticmethod
    def build(sample: Sample, config: PreprocessConfig, pipeline: "ClipPipeline") -> np.ndarray:
        return load_frames(sample, config)


class FlowStage:
    """Optical flow ``(3, T', size, size)`` of the frames at ``flow_size`` (or ``size``)."""

    name = "flow"
    READS = ("flow_backend", "flow_mode", "flow_normalise", "flow_scale", "flow_stabilise", "flow_size")

    @classmethod
    def settings(cls, config: PreprocessConfig) -> dict:
        source = FramesStage.settings(flow_frames_config(config))  # the frames the flow is computed on
        return {"source": source, "size": config.size, **{k: getattr(config, k) for k in cls.READS}}

    @staticmethod
    def build(sample: Sample, config: PreprocessConfig, pipeline: "ClipPipeline") -> np.ndarray:
        return pipeline.flow_of(pipeline.flow_source_frames(sample))


class FlowImageStage:
    """A precomputed onset-apex flow image read as flow ``(3, 1, size, size)``."""

    name = "flow_image"

    @staticmethod
    def settings(config: PreprocessConfig) -> dict:
        return {"size": config.size}

    @staticmethod
    def build(sample: Sample, config: PreprocessConfig, pipeline: "ClipPipeline") -> np.ndarray:
        return flow_image_to_flow(load_frames(sample, config))


STAGES = (FramesStage, FlowStage, FlowImageStage)


class ClipPipeline:
    """``Sample`` -> ``{"frames": (T, H, W, 3) uint8, "flow": (3, T', H, W) float32}`` -> tensors.

    ``modalities``: what to produce (a model's ``modalities``). ``cache``: a
    :class:`~mewb.data.cache.PreprocessCache` (None: compute every time).
    """

    def __init__(self, config: PreprocessConfig, modalities: Sequence[str] = MODALITIES,
                 cache: PreprocessCache | None = None) -> None:
        unknown = set(modalities) - set(MODALITIES)
        if unknown or not modalities:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {tuple(modalities)}")
        self.config = config
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.cache = cache

    def __repr__(self) -> str:
        return f"ClipPipeline(modalities={self.modalities}, cache={self.cache!r})"

    # Keys and cached stages ----------------------------------------------------------------------
    def key(self, sample: Sample, stage=FramesStage, config: PreprocessConfig | None = None) -> str:
        """The cache key of ``stage`` for ``sample``: sources, annotation and the stage's settings."""
        config = config or self.config
        cache = self.cache or PreprocessCache()
        return cache.key(_sources(sample), {"stage": stage.name, "sample": sample.key,
                                            "annotation": annotation(sample), **stage.settings(config)})

    def _run(self, stage, sample: Sample, config: PreprocessConfig | None = None) -> np.ndarray:
        config = config or self.config
        if self.cache is None:
            return stage.build(sample, config, self)
        key = self.key(sample, stage, config)
        return self.cache.get_or_build(key, lambda: {stage.name: stage.build(sample, config, self)})[stage.name]

    # Arrays --------------------------------------------------------------------------------------
    def frames(self, sample: Sample) -> np.ndarray:
        """The face clip ``(T, H, W, 3)`` uint8 the model sees."""
        if sample.flow_image is not None:
            raise ValueError(f"{sample.key}: a precomputed flow image has no face frames; use a flow-only model")
        return self._run(FramesStage, sample)

    def flow_source_frames(self, sample: Sample) -> np.ndarray:
        """The frames flow is computed on ``(T, F, F, 3)`` uint8 (``F = flow_size or size``)."""
        return self._run(FramesStage, sample, flow_frames_config(self.config))

    def flow_of(self, clip: np.ndarray) -> np.ndarray:
        """Flow ``(3, T', size, size)`` of frames loaded at :meth:`flow_source_frames` settings
        (robustness probes pass perturbed frames here)."""
        source_config = flow_frames_config(self.config)
        return resize_flow(flow_from_frames(clip, source_config), self.config.size)

    def flow(self, sample: Sample) -> np.ndarray:
        if sample.flow_image is not None:
            return self._run(FlowImageStage, sample)
        return self._run(FlowStage, sample)

    def arrays(self, sample: Sample) -> dict[str, np.ndarray]:
        """Every modality asked for, as arrays (the cache's contents)."""
        out = {}
        if "frames" in self.modalities:
            out["frames"] = self.frames(sample)
        if "flow" in self.modalities:
            out["flow"] = self.flow(sample)
        return out

    # Tensors -------------------------------------------------------------------------------------
    @staticmethod
    def to_tensors(arrays: dict[str, np.ndarray], *, batch: bool = False) -> dict:
        """Arrays -> model inputs: frames ``(3, T, H, W)`` standardised, flow ``(3, T', H, W)``
        float32; ``batch`` adds the leading axis ``(1, ...)``. The one place this happens."""
        import torch

        out = {}
        if "frames" in arrays:
            out["frames"] = torch.from_numpy(frames_to_tensor_array(arrays["frames"]))
        if "flow" in arrays:
            out["flow"] = torch.from_numpy(np.ascontiguousarray(arrays["flow"], dtype=np.float32))
        return {k: v[None] for k, v in out.items()} if batch else out

    def tensors(self, sample: Sample) -> dict:
        """``{"frames": (3, T, H, W), "flow": (3, T', H, W)}`` for one sample (a dataset item)."""
        return self.to_tensors(self.arrays(sample))

    def inputs(self, sample: Sample) -> dict:
        """One sample as a batch of one: ``{"frames": (1, 3, T, H, W), "flow": (1, 3, T', H, W)}``."""
        return self.to_tensors(self.arrays(sample), batch=True)

    def warm(self, samples: Iterable[Sample], *, progress: bool = True) -> None:
        """Preprocess every sample into the cache (a no-op for samples already cached)."""
        from tqdm.auto import tqdm

        if self.cache is None:
            raise ValueError("warm() needs a cache: ClipPipeline(..., cache=PreprocessCache(root))")
        samples = list(samples)
        for sample in tqdm(samples, desc="preprocess", unit="clip", disable=not progress):
            self.arrays(sample)
