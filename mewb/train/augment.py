"""Augmentation that respects motion, applied on the fly to one item's tensor dict.

One geometric transform (random crop, small rotation and zoom, horizontal flip) is drawn per item
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
        return apply(item, self.draw(rng), flow_mode=self.flow_mode)


def input_from_output(params: dict) -> np.ndarray:
    """The 2x2 linear map ``M`` (pixel units) with ``p_in = M p_out + b``: flip, rotate, zoom."""
    c, s = math.cos(params["angle"]), math.sin(params["angle"])
    rotation = np.array([[c, -s], [s, c]])
    flip = np.diag([-1.0, 1.0]) if params["flip"] else np.eye(2)
    return flip @ rotation / params["zoom"]


def warp(x: torch.Tensor, params: dict, *, vectors: bool, padding: str) -> torch.Tensor:
    """Resample ``x`` ``(C, T, H, W)`` by the drawn transform; with ``vectors`` channels 0, 1 are (u, v)."""
    _, _, h, w = x.shape
    m = input_from_output(params)
    half = np.diag([w / 2.0, h / 2.0])  # normalised -> pixel (centred)
    linear = np.linalg.inv(half) @ m @ half
    shift = np.array([params["shift_x"], params["shift_y"]])  # already in normalised units
    theta = torch.tensor(np.concatenate([linear, shift[:, None]], axis=1), dtype=torch.float32)
    frames = x.permute(1, 0, 2, 3)  # (T, C, H, W)
    grid = F.affine_grid(theta.expand(frames.shape[0], 2, 3), list(frames.shape), align_corners=False)
    out = F.grid_sample(frames.float(), grid, mode="bilinear", padding_mode=padding, align_corners=False)
    out = out.permute(1, 0, 2, 3).contiguous()  # (C, T, H, W)
    if vectors:
        # A displacement d_in in the input is d_out = M^-1 d_in in the output.
        inv = torch.tensor(np.linalg.inv(m), dtype=out.dtype)
        uv = torch.einsum("ij,jthw->ithw", inv, out[:2])
        out = torch.cat([uv, out[2:]], dim=0)
    return out.to(x.dtype)


def shift_time(x: torch.Tensor, shift: int, *, zero_outside: bool) -> torch.Tensor:
    """``out[:, t] = x[:, t + shift]``; outside the clip repeat the edge, or zero it (consecutive flow)."""
    t = x.shape[1]
    if shift == 0 or t < 2:
        return x
    index = torch.arange(t) + shift
    outside = (index < 0) | (index >= t)
    out = x[:, index.clamp(0, t - 1)]
    if zero_outside and outside.any():
        out[:, outside] = 0
    return out


def apply(item: dict, params: dict, *, flow_mode: str = "onset") -> dict:
    """A new dict with ``frames`` and ``flow`` transformed by ``params`` (other keys unchanged).

    Temporal jitter applies only when the clip has at least 3 frames (a single flow image, or an
    onset/apex pair, has no time axis to shift).
    """
    out = dict(item)
    if "frames" in item:
        frames = warp(item["frames"], params, vectors=False, padding="border")
        if item["frames"].shape[1] >= 3:
            frames = shift_time(frames, params["shift_t"], zero_outside=False)
        out["frames"] = frames
    if "flow" in item:
        flow = warp(item["flow"], params, vectors=True, padding="zeros")
        if item["flow"].shape[1] >= 2:
            # Consecutive flow between repeated edge frames is zero; onset flow keeps the edge value.
            flow = shift_time(flow, params["shift_t"], zero_outside=flow_mode == "consecutive")
        out["flow"] = flow
    return out


class AugmentedDataset(Dataset):
    """Wraps a dataset of tensor dicts; item ``i`` in epoch ``e`` uses the draw seeded by ``(seed, e, i)``.

    Call ``set_epoch(e)`` before each epoch (the DataLoader's workers copy the dataset when the
    epoch's iterator is created, so they see the new epoch).
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
        return self.augment(self.dataset[index], rng)


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
