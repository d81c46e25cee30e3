"""Augmentation that respects motion, applied on the fly to each batch of clips.

One geometric transform (random crop, small rotation and zoom, horizontal flip) is drawn per clip
and applied identically to ``frames`` ``(3, T, H, W)`` and ``flow`` ``(3, T', H, W)``. Flow is a
field of displacement *vectors*, so resampling it is not enough: the vectors are mapped by the same
linear transform (a flip negates u, a rotation turns (u, v), a zoom scales them); the strain
channel is a scalar field and is only resampled (so a flip mirrors it). A temporal jitter shifts
frames and flow by the same number of frames.

Written here rather than taken from torchvision: torchvision's transforms treat every channel as
intensity and cannot turn flow vectors, and drawing the parameters ourselves lets one seeded draw
per ``(seed, epoch, index)`` serve both modalities and stay deterministic with any number of
DataLoader workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


@dataclass(frozen=True)
class Augment:
    """Parameters of the random transform; ``Augment.from_config(train_config)``."""

    crop: float = 0.9  # fraction of each side kept by the random crop (1 = none)
    rotate_deg: float = 5.0  # rotation uniform in [-r, r] degrees
    scale: float = 0.05  # extra zoom uniform in [1 - s, 1 + s]
    hflip: bool = True  # flip with probability 1/2
    temporal_jitter: int = 1  # shift in [-j, j] frames
    flow_mode: str = "onset"  # how the flow was computed: onset (onset -> frame t) | consecutive

    @classmethod
    def from_config(cls, config, flow_mode: str = "onset") -> "Augment":
        return cls(
            crop=config.crop,
            rotate_deg=config.rotate_deg,
            scale=config.scale,
            hflip=config.hflip,
            temporal_jitter=config.temporal_jitter,
            flow_mode="consecutive" if flow_mode == "consecutive" else "onset",
        )

    def draw(self, rng: np.random.Generator) -> dict:
        """One draw of the random parameters (plain floats, so they can be logged or reused)."""
        crop = rng.uniform(self.crop, 1.0) if self.crop < 1.0 else 1.0
        return {
            "angle": math.radians(rng.uniform(-self.rotate_deg, self.rotate_deg)) if self.rotate_deg else 0.0,
            "zoom": (1.0 / crop) * (rng.uniform(1.0 - self.scale, 1.0 + self.scale) if self.scale else 1.0),
            # crop centre offset as a fraction of the half side, within what the crop leaves free
            "shift_x": rng.uniform(-1.0, 1.0) * (1.0 - crop),
            "shift_y": rng.uniform(-1.0, 1.0) * (1.0 - crop),
            "flip": bool(self.hflip and rng.random() < 0.5),
            "shift_t": int(rng.integers(-self.temporal_jitter, self.temporal_jitter + 1)) if self.temporal_jitter else 0,
        }

    def __call__(self, item: dict, rng: np.random.Generator) -> dict:
        """One clip transformed by a fresh draw (training transforms whole batches: :class:`AugmentedDataset`)."""
        return apply(item, self.draw(rng), flow_mode=self.flow_mode)


PARAMS = ("angle", "zoom", "shift_x", "shift_y", "flip", "shift_t")  # one draw as a (6,) vector, in this order


def as_vector(params: dict) -> torch.Tensor:
    """One draw as a ``(6,)`` float64 vector (``PARAMS`` order), so a DataLoader can batch draws."""
    return torch.tensor([float(params[k]) for k in PARAMS], dtype=torch.float64)


def input_from_output(params: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 2)`` linear maps ``M`` (pixel units) with ``p_in = M p_out + b`` for draws ``(B, 6)``: flip, rotate, zoom."""
    angle, zoom, flip = params[:, 0], params[:, 1], params[:, 4]
    c, s = torch.cos(angle), torch.sin(angle)
    f = 1.0 - 2.0 * (flip > 0.5).double()  # -1 flips x
    m = torch.stack([torch.stack([f * c, -f * s], -1), torch.stack([s, c], -1)], -2)  # flip @ rotation
    return m / zoom[:, None, None]


def warp(x: torch.Tensor, params: torch.Tensor, *, vectors: bool, padding: str) -> torch.Tensor:
    """Resample ``x`` ``(B, C, T, H, W)`` by each clip's draw ``params`` ``(B, 6)``: one ``grid_sample`` for the
    batch. With ``vectors`` channels 0, 1 are (u, v) and are turned and scaled with the image."""
    b, c, t, h, w = x.shape
    params = params.to("cpu", torch.float64)
    m = input_from_output(params)  # (B, 2, 2)
    half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    linear = m * half[None, None, :] / half[None, :, None]  # inv(diag(half)) @ M @ diag(half)
    theta = torch.cat([linear, params[:, 2:4, None]], dim=2).float()  # (B, 2, 3); shifts in normalised units
    frames = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
    theta = theta.to(x.device).repeat_interleave(t, dim=0)
    grid = F.affine_grid(theta, [b * t, c, h, w], align_corners=False)
    out = F.grid_sample(frames.float(), grid, mode="bilinear", padding_mode=padding, align_corners=False)
    out = out.reshape(b, t, c, h, w).transpose(1, 2)  # (B, C, T, H, W)
    if vectors:
        # A displacement d_in in the input is d_out = M^-1 d_in in the output.
        inv = torch.linalg.inv(m).to(x.device, out.dtype)
        uv = torch.einsum("bij,bjthw->bithw", inv, out[:, :2])
        out = torch.cat([uv, out[:, 2:]], dim=1)
    return out.contiguous().to(x.dtype)


def shift_time(x: torch.Tensor, shift: int, *, zero_outside: bool) -> torch.Tensor:
    """``out[:, t] = x[:, t + shift]`` for one clip ``(C, T, H, W)``; outside the clip repeat the edge, or
    zero it (consecutive flow)."""
    t = x.shape[1]
    if shift == 0 or t < 2:
        return x
    index = torch.arange(t) + shift
    outside = (index < 0) | (index >= t)
    out = x[:, index.clamp(0, t - 1)]
    if zero_outside and outside.any():
        out[:, outside] = 0
    return out


def _shift_each(x: torch.Tensor, shifts: torch.Tensor, *, zero_outside: bool) -> torch.Tensor:
    if not shifts.any():
        return x
    return torch.stack([shift_time(clip, int(k), zero_outside=zero_outside) for clip, k in zip(x, shifts.tolist())])


def apply_batch(batch: dict, params: torch.Tensor, *, flow_mode: str = "onset") -> dict:
    """A new dict with the batch's ``frames`` ``(B, 3, T, H, W)`` and ``flow`` transformed, clip ``i`` by
    draw ``params[i]`` (``(B, 6)``, see :data:`PARAMS`); other keys unchanged.

    Temporal jitter applies only when the clip has at least 3 frames (a single flow image, or an
    onset/apex pair, has no time axis to shift).
    """
    out = dict(batch)
    shifts = params[:, 5].round().long().cpu()
    if "frames" in batch:
        frames = warp(batch["frames"], params, vectors=False, padding="border")
        if batch["frames"].shape[2] >= 3:
            frames = _shift_each(frames, shifts, zero_outside=False)
        out["frames"] = frames
    if "flow" in batch:
        flow = warp(batch["flow"], params, vectors=True, padding="zeros")
        if batch["flow"].shape[2] >= 2:
            # Consecutive flow between repeated edge frames is zero; onset flow keeps the edge value.
            flow = _shift_each(flow, shifts, zero_outside=flow_mode == "consecutive")
        out["flow"] = flow
    return out


def apply(item: dict, params: dict, *, flow_mode: str = "onset") -> dict:
    """One clip's dict (``frames`` ``(3, T, H, W)``, ``flow``) transformed by one draw: :func:`apply_batch` on a batch of one."""
    clips = {k: item[k][None] for k in ("frames", "flow") if k in item}
    out = apply_batch(clips, as_vector(params)[None], flow_mode=flow_mode)
    return {**item, **{k: v[0] for k, v in out.items()}}


class AugmentedDataset(Dataset):
    """Wraps a dataset of tensor dicts; item ``i`` in epoch ``e`` carries the draw seeded by ``(seed, e, i)``
    under ``"augment"`` (``(6,)``), and :meth:`transform` applies a collated batch's draws.

    Transforming batches, not items, costs one ``grid_sample`` per batch instead of one per clip
    (on the CPU, flow_only at 28 px, batch 32: about 19 ms of a 130 ms step), and runs wherever the
    batch is (on the GPU after the copy). Call ``set_epoch(e)`` before each epoch (the DataLoader's
    workers copy the dataset when the epoch's iterator is created, so they see the new epoch).
    """

    def __init__(self, dataset: Dataset, augment: Augment, *, seed: int = 0) -> None:
        self.dataset = dataset
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return {**self.dataset[index], "augment": as_vector(self.augment.draw(rng))}

    def transform(self, batch: dict) -> dict:
        """The collated ``batch`` (on any device) with each clip transformed by its own draw."""
        return apply_batch(batch, batch["augment"], flow_mode=self.augment.flow_mode)


def mirror(inputs: dict) -> dict:
    """The horizontal mirror image of a batch: every ``(N, C, T, H, W)`` tensor flipped along W,
    the flow's ``u`` (channel 0 of ``"flow"``) negated; strain, a scalar field, is only mirrored.
    Used for flip test-time augmentation (``TrainConfig.tta``)."""
    out = {}
    for name, x in inputs.items():
        flipped = x.flip(-1)
        if name == "flow":
            flipped = torch.cat([-flipped[:, :1], flipped[:, 1:]], dim=1)
        out[name] = flipped
    return out
