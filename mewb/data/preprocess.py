"""The preprocessing settings and the functions the clip pipeline's stages call.

One ``PreprocessConfig`` describes everything that shapes the arrays a model sees; it is stored
in every run directory, and the stages of :class:`mewb.data.pipeline.ClipPipeline` (which owns
caching and the conversion to tensors) derive their cache keys from the settings they read, so a
run's preprocessing can be replayed exactly (``mewb predict`` does).

* the face clip ``(T, H, W, 3)`` uint8 (EVM-magnified when ``evm`` is on): :func:`load_frames`;
* flow ``(3, T-1, H, W)`` float32 channels (u, v, optical strain) computed from those frames,
  or ``(3, 1, H, W)`` in the onset->apex single-flow mode: :func:`flow_from_frames`.

EVM runs on every frame of the onset..offset span at the recorded frame rate (a temporal filter
needs the real sampling rate), before the span is sampled down to ``T`` frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

from mewb.configs import strict_from_dict
from mewb.data.sample import Sample

EVM_MAX_SPAN = 96  # frames of the onset..offset span magnified at most (longer spans are subsampled)
FRAME_MEAN, FRAME_STD = 0.5, 0.25  # fixed, not dataset statistics: no test subject leaks in


@dataclass(frozen=True)
class PreprocessConfig:
    """How a sample becomes arrays. Stored in ``config.yaml``; each pipeline stage keys on what it reads."""

    clip_length: int = 8  # T, frames per clip (flow has T-1, or 1 in onset_apex flow mode)
    size: int = 64  # H = W of the face crop in pixels
    sampling: str = "uniform"  # uniform | interpolate | apex_window | onset_apex (see frames.load_clip)
    colour: str = "grey"  # grey (repeated to 3 channels) | rgb
    align: bool = True  # Haar face + eye alignment for raw layouts (cropped layouts skip it)
    evm: bool = False  # Eulerian motion magnification before flow (the `full` variant's default)
    evm_alpha: float = 4.0  # amplification; small, so the linear approximation holds
    evm_low_hz: float = 1.0  # pass band: micro-expressions last 1/25-1/5 s ...
    evm_high_hz: float = 25.0  # ... so their onset and offset live in roughly 2.5-25 Hz
    evm_levels: int = 3  # Laplacian levels (a 64 px face has little below 8 px)
    flow_backend: str = "tvl1"  # see mewb.data.flow.FLOW_BACKENDS
    flow_mode: str = "onset"  # onset (onset -> each frame) | consecutive | onset_apex (one flow)
    flow_normalise: str = "none"  # none | clip_max | fixed (per clip only, never dataset stats)
    flow_scale: float | None = None  # divisor for flow_normalise="fixed"
    flow_stabilise: bool = False  # subtract each flow's affine part (head motion), see flow.remove_rigid_motion
    flow_size: int | None = None  # compute flow on frames this large, then resize it to `size` (None = size)

    def __post_init__(self) -> None:
        """Every choice is checked here, so a mistyped setting fails before any folder is made."""
        from mewb.data.flow import CLIP_MODES, FLOW_BACKENDS, NORMALISE_MODES
        from mewb.data.frames import SAMPLINGS

        FLOW_BACKENDS.get(self.flow_backend)  # unknown names fail, listing the valid ones
        for name, value, valid in (("sampling", self.sampling, SAMPLINGS), ("colour", self.colour, ("grey", "rgb")),
                                   ("flow_mode", self.flow_mode, (*CLIP_MODES, "onset_apex")),
                                   ("flow_normalise", self.flow_normalise, NORMALISE_MODES)):
            if value not in valid:
                raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if self.clip_length < 1 or self.size < 1:
            raise ValueError(f"clip_length and size must be >= 1, got {self.clip_length} and {self.size}")
        if self.flow_size is not None and self.flow_size < self.size:
            raise ValueError(f"flow_size ({self.flow_size}) must be at least size ({self.size}), or None")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PreprocessConfig":
        return strict_from_dict(cls, values, "preprocessing")


def _grey(clip: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(T, H, W)`` uint8."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip])


def _span_length(sample: Sample) -> int:
    if sample.onset is not None and sample.offset is not None:
        return sample.offset - sample.onset + 1
    return len(sample.frame_numbers) or len(sample.frames)


def load_frames(sample: Sample, config: PreprocessConfig) -> np.ndarray:
    """The face clip ``(T, H, W, 3)`` uint8 of ``sample`` (magnified when ``config.evm``)."""
    from mewb.data.frames import load_clip, sample_interpolate, sample_uniform

    size = (config.size, config.size)
    if not config.evm or sample.flow_image is not None:
        return load_clip(
            sample, frames=config.clip_length, size=size, sampling=config.sampling, colour=config.colour, align=config.align
        )
    if config.sampling not in ("uniform", "interpolate", "onset_apex"):
        raise ValueError(f"evm needs sampling 'uniform', 'interpolate' or 'onset_apex' (the whole span), got {config.sampling!r}")
    if not sample.fps:
        raise ValueError(f"{sample.key}: evm needs the clip's frame rate, and the sample has none")
    from mewb.data.evm import magnify

    span = max(2, _span_length(sample))
    loaded = min(span, EVM_MAX_SPAN)
    clip = load_clip(sample, frames=loaded, size=size, sampling="uniform", colour=config.colour, align=config.align)
    fps = sample.fps * (loaded - 1) / (span - 1)  # the rate of the frames actually loaded
    high = min(config.evm_high_hz, 0.95 * fps / 2)
    low = min(config.evm_low_hz, high / 2)
    magnified = magnify(
        clip.astype(np.float32), fps=fps, low_hz=low, high_hz=high, alpha=config.evm_alpha, levels=config.evm_levels
    )
    clip = np.clip(np.rint(magnified), 0, 255).astype(np.uint8)  # (span, H, W, 3)
    if config.sampling == "onset_apex":
        # The span starts at the onset; the apex sits at its own place in the loaded frames.
        apex = sample.apex if sample.apex is not None else (sample.onset or 0) + (span - 1) // 2
        position = (apex - (sample.onset or 0)) * (loaded - 1) / (span - 1)
        return clip[[0, int(np.clip(round(position), 0, loaded - 1))]]  # (2, H, W, 3)
    pick = sample_uniform if config.sampling == "uniform" else sample_interpolate
    return pick(clip, config.clip_length)


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """``(3, T', h, w)`` flow (u, v, strain) -> ``(3, T', size, size)``, u and v rescaled to the new pixels.

    Area averaging, so sub-pixel motion measured at the larger size survives as a smaller,
    smooth displacement instead of being lost to the flow solver's noise at the small size.
    Strain is a ratio of displacements to distances and keeps its scale.
    """
    channels, steps, height, width = flow.shape
    if (height, width) == (size, size):
        return flow
    out = np.empty((channels, steps, size, size), np.float32)
    for c in range(channels):
        for t in range(steps):
            out[c, t] = cv2.resize(flow[c, t], (size, size), interpolation=cv2.INTER_AREA)
    out[0] *= size / width
    out[1] *= size / height
    return out


def flow_from_frames(clip: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Optical flow of a face clip ``(T, H, W, 3)`` uint8 -> ``(3, T', H, W)`` float32 (u, v, strain).

    The flow keeps the clip's size; the pipeline's flow stage resizes it when ``flow_size`` is set.
    """
    from mewb.data.flow import clip_flow

    grey = _grey(clip)
    if config.flow_mode == "onset_apex":
        if config.sampling != "onset_apex":
            raise ValueError("flow_mode='onset_apex' needs sampling='onset_apex' (frames = onset, apex)")
        grey = grey[:2]
        mode = "onset"
    else:
        mode = config.flow_mode
    if len(grey) < 2:
        raise ValueError(f"flow needs at least 2 frames, the clip has {len(grey)}")
    return clip_flow(
        grey, backend=config.flow_backend, mode=mode, normalise=config.flow_normalise, scale=config.flow_scale,
        stabilise=config.flow_stabilise,
    )


def flow_frames_config(config: PreprocessConfig) -> PreprocessConfig:
    """The settings of the frames flow is computed on: ``config`` with ``size = flow_size`` when set.

    Returns ``config`` itself when the flow is computed at the model's size, so callers test
    ``flow_frames_config(config) is not config`` to know whether flow is resized.
    """
    if config.flow_size is None or config.flow_size == config.size:
        return config
    return replace(config, size=config.flow_size)


def flow_image_to_flow(image: np.ndarray) -> np.ndarray:
    """A precomputed flow image ``(1, H, W, 3)`` uint8 -> ``(3, 1, H, W)`` float32.

    The public releases store u and v centred on 128 and strain from 0: u, v map to [-1, 1] and
    strain to [0, 1]. Their absolute scale is unknown, which is why these are unitless.
    """
    x = image[0].astype(np.float32).transpose(2, 0, 1)  # (3, H, W)
    flow = np.stack([x[0] / 127.5 - 1.0, x[1] / 127.5 - 1.0, x[2] / 255.0])
    return flow[:, None]  # (3, 1, H, W)


def frames_to_tensor_array(clip: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> ``(3, T, H, W)`` float32 standardised with fixed constants."""
    x = clip.astype(np.float32).transpose(3, 0, 1, 2) / 255.0
    return (x - FRAME_MEAN) / FRAME_STD
