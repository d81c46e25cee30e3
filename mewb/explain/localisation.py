"""Is the map right? Saliency scored against SynthME's ground-truth motion, and deletion curves.

Two kinds of check:

* **Localisation** (plausibility): the share of attribution energy ``sum |s|`` that falls inside
  the region that really moved, and the pointing game (is the peak ``|s|`` inside it?; Zhang et
  al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016). Both are reported next to
  the region's area share and a random-map baseline, because a map that is large everywhere
  scores the area share without knowing anything.
* **Deletion** (faithfulness; Petsiuk et al., "RISE", BMVC 2018): remove the top-k% most salient
  voxels and watch the class probability fall; a faithful map makes it fall faster (smaller area
  under the curve) than random deletion.

The scores are written here rather than taken from a library: Captum's ``infidelity`` and
``sensitivity_max`` measure other things, and neither knows about ground-truth masks or about
flow steps being aligned to frames.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from mewb.data.sample import Sample
from mewb.explain.adapter import PositionalModel, prepare

REGIONS = ("mask", "motion")
REFERENCES = ("onset", "mean")
DEFAULT_FRACTIONS = tuple(np.round(np.linspace(0.0, 1.0, 21), 4))


# ---------------------------------------------------------------------------------------------
# Ground truth aligned with the frames the model saw


def seen_positions(sample: Sample, config) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices into the clip's frames that the model saw, as ``mewb.data.frames.select_indices`` gives.

    EVM clips are magnified over the whole span and sampled the same way (uniform or
    interpolate), so the same indices apply to them.
    """
    from mewb.data.frames import select_indices

    numbers = sample.frame_numbers or tuple(range(1, len(sample.frames) + 1))
    return select_indices(sample, numbers, frames=config.clip_length, sampling=config.sampling)


def read_ground_truth(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(motion (T, H, W) float32, mask (H, W) bool)`` of a SynthME ground-truth ``.npz``;
    a damaged or foreign file is a ``ValueError`` naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            motion, mask = data["motion"].astype(np.float32), data["mask"].astype(bool)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{path}: unreadable ground truth ({type(error).__name__}: {error})") from None
    if motion.ndim != 3 or mask.shape != motion.shape[1:]:
        raise ValueError(f"{path}: ground truth of the wrong shape (motion {motion.shape}, mask {mask.shape})")
    return motion, mask


def ground_truth(sample: Sample, config, *, size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """SynthME's motion ground truth for the frames the model saw.

    Args:
        sample: a SynthME sample (``sample.ground_truth`` is its ``.npz``).
        config: the run's ``PreprocessConfig`` (``clip_length``, ``size``, ``sampling``).
        size: ``(H, W)`` of the model input (default ``(config.size, config.size)``).

    Returns:
        ``{"motion": (T, H, W) float32`` (expression displacement, pixels per frame, resized),
        ``"mask": (H, W) bool`` (where the apex motion exceeds 10% of its peak, resized),
        ``"apex": ()`` index of the seen frame nearest the apex``}``.
    """
    if sample.ground_truth is None:
        raise ValueError(f"{sample.key}: no ground truth (only SynthME samples have one)")
    motion, mask = read_ground_truth(Path(sample.ground_truth))
    h, w = size or (config.size, config.size)
    indices, weights = seen_positions(sample, config)
    if weights is None:
        seen = motion[np.asarray(indices)]
    else:
        wt = weights.astype(np.float32)[:, None, None]
        seen = (1 - wt) * motion[indices[:, 0]] + wt * motion[indices[:, 1]]
    if seen.shape[1:] != (h, w):
        seen = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in seen])
        mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5
    peak = seen.reshape(len(seen), -1).max(axis=1)
    return {"motion": seen, "mask": mask.astype(bool), "apex": np.int64(int(np.argmax(peak)))}


def region_volume(gt: Mapping[str, np.ndarray], kind: str = "mask", *, threshold: float = 0.1) -> np.ndarray:
    """Where the face moved, ``(T, H, W)`` bool.

    ``mask``: the apex mask on every frame (scores *where*); ``motion``: voxels whose motion
    exceeds ``threshold`` of the clip's peak (scores *where and when*).
    """
    if kind not in REGIONS:
        raise ValueError(f"unknown region {kind!r}; valid: {', '.join(REGIONS)}")
    motion = gt["motion"]
    if kind == "mask":
        return np.broadcast_to(gt["mask"], motion.shape).copy()
    return motion > threshold * max(float(motion.max()), 1e-12)


# ---------------------------------------------------------------------------------------------
# Localisation scores on one map


def energy_share(saliency: np.ndarray, region: np.ndarray) -> float:
    """``sum |s|`` inside ``region`` over ``sum |s|`` (same shapes, any). 1 = all inside; NaN for an all-zero map."""
    s = np.abs(np.asarray(saliency, dtype=np.float64))
    total = s.sum()
    return float(s[np.asarray(region, bool)].sum() / total) if total > 0 else float("nan")


def pointing_game(saliency: np.ndarray, region: np.ndarray, *, tolerance: int = 0) -> bool:
    """Is the voxel of largest ``|s|`` inside ``region``, grown by ``tolerance`` pixels in H and W?"""
    region = np.asarray(region, bool)
    if tolerance > 0:
        kernel = np.ones((2 * tolerance + 1,) * 2, np.uint8)
        flat = region.reshape((-1,) + region.shape[-2:]).astype(np.uint8)
        region = np.stack([cv2.dilate(f, kernel) for f in flat]).reshape(region.shape).astype(bool)
    peak = np.unravel_index(int(np.argmax(np.abs(saliency))), np.shape(saliency))
    return bool(region[peak])


def area_share(region: np.ndarray) -> float:
    """Fraction of voxels inside the region (what a uniform map scores on energy share)."""
    return float(np.asarray(region, bool).mean())


def random_maps(shape: tuple[int, ...], *, n: int = 20, smooth: float = 4.0, seed: int = 0) -> np.ndarray:
    """``(n, *shape)`` random saliency maps: |Gaussian noise| blurred by ``smooth`` pixels in H and W.

    Blurred so the baseline is as smooth as real maps: a peak of a smooth random map is a fairer
    pointing-game baseline than that of white noise. The blur wraps around the borders: with
    scipy's default (reflect) the blurred noise has a larger variance near the borders, so the
    peaks of random maps sat on the frame's edge and a central face region was never "hit".
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, *shape)).astype(np.float32)
    sigma = (0,) * (len(shape) - 2) + (smooth, smooth) if len(shape) >= 2 else smooth  # blur H, W only
    return np.abs(np.stack([gaussian_filter(x, sigma=sigma, mode="wrap") for x in noise]))


def localisation_scores(
    saliency: np.ndarray, region: np.ndarray, *, n_random: int = 20, seed: int = 0, tolerance: int = 0
) -> dict[str, float]:
    """Energy share and pointing game of one map, with the random baseline and the area share."""
    randoms = random_maps(np.shape(saliency), n=n_random, seed=seed)
    return {
        "energy_share": energy_share(saliency, region),
        "pointing": float(pointing_game(saliency, region, tolerance=tolerance)),
        "random_energy_share": float(np.mean([energy_share(r, region) for r in randoms])),
        "random_pointing": float(np.mean([pointing_game(r, region, tolerance=tolerance) for r in randoms])),
        "area_share": area_share(region),
    }


# ---------------------------------------------------------------------------------------------
# Deletion curves


def _order(volume: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Voxel indices by decreasing saliency; ties (flat Grad-CAM areas) broken at random."""
    flat = np.asarray(volume, dtype=np.float64).ravel()
    return np.lexsort((rng.random(flat.size), -flat))


def deletion_inputs(
    inputs: Mapping[str, torch.Tensor],
    order: np.ndarray,
    fractions: Sequence[float],
    *,
    reference: str = "onset",
) -> dict[str, torch.Tensor]:
    """One clip with growing parts removed: ``(1, C, T_m, H, W)`` each -> ``(F, C, T_m, H, W)``.

    ``order`` indexes voxels of the ``(T, H, W)`` frame volume (``T`` = frames, or flow's ``T'+1``).
    A removed voxel ``(t, y, x)`` takes the ``reference`` value on every channel of the frames at
    ``t`` and of the flow step aligned to ``t`` (``t - (T - T')``): ``onset`` = the clip's first
    frame and no motion (the face did not move there), ``mean`` = the clip's mean over time.
    """
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; valid: {', '.join(REFERENCES)}")
    first = next(iter(inputs.values()))
    h, w = first.shape[3:]
    t = inputs["frames"].shape[2] if "frames" in inputs else first.shape[2] + 1
    n_voxels = t * h * w
    out = {}
    for modality, x in inputs.items():
        x = x[0].detach()  # (C, T_m, H, W)
        steps = x.shape[1]
        if reference == "mean":
            ref = x.mean(dim=1, keepdim=True).expand_as(x)
        elif modality == "frames":
            ref = x[:, :1].expand_as(x)
        else:
            ref = torch.zeros_like(x)
        clips = []
        for fraction in fractions:
            k = int(round(float(fraction) * n_voxels))
            removed = torch.zeros(n_voxels, dtype=torch.bool)
            removed[torch.as_tensor(order[:k], dtype=torch.long)] = True
            removed = removed.view(t, h, w)[t - steps :]  # (T_m, H, W), aligned to this input
            clips.append(torch.where(removed[None], ref, x))
        out[modality] = torch.stack(clips)  # (F, C, T_m, H, W)
    return out


def deletion_curve(
    model: torch.nn.Module,
    inputs: Mapping[str, torch.Tensor],
    volume: np.ndarray | None,
    *,
    target: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    reference: str = "onset",
    seed: int = 0,
    batch_size: int = 32,
) -> np.ndarray:
    """Probability of ``target`` as the top ``fractions`` of ``volume`` ``(T, H, W)`` are removed: ``(F,)``.

    ``volume=None`` deletes in a random order (seeded), the baseline every map must beat.
    ``inputs`` is one clip (batch of 1) in the model's modalities.
    """
    adapter = prepare(model)
    inputs = {m: inputs[m] for m in adapter.modalities}
    first = next(iter(inputs.values()))
    t = inputs["frames"].shape[2] if "frames" in inputs else first.shape[2] + 1
    shape = (t, *first.shape[3:])
    rng = np.random.default_rng(seed)
    if volume is None:
        order = rng.permutation(int(np.prod(shape)))
    else:
        if tuple(np.shape(volume)) != shape:
            raise ValueError(f"saliency volume {np.shape(volume)} does not match the clip's (T, H, W) {shape}")
        order = _order(volume, rng)
    batch = deletion_inputs(inputs, order, fractions, reference=reference)
    probs = []
    with torch.no_grad():
        for start in range(0, len(fractions), batch_size):
            chunk = [batch[m][start : start + batch_size] for m in adapter.modalities]
            probs.append(torch.softmax(adapter(*chunk), dim=1)[:, target])
    return torch.cat(probs).numpy()


def curve_auc(fractions: Sequence[float], values: Sequence[float]) -> float:
    """Area under a curve over ``fractions`` in [0, 1] (trapezoid rule)."""
    return float(np.trapezoid(np.asarray(values, dtype=np.float64), np.asarray(fractions, dtype=np.float64)))


def deletion_scores(
    model: torch.nn.Module,
    inputs: Mapping[str, torch.Tensor],
    volume: np.ndarray,
    *,
    target: int,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    reference: str = "onset",
    n_random: int = 3,
    seed: int = 0,
) -> dict:
    """Deletion AUC of ``volume`` against the mean of ``n_random`` random orders (lower = more faithful)."""
    curve = deletion_curve(model, inputs, volume, target=target, fractions=fractions, reference=reference, seed=seed)
    randoms = np.stack(
        [
            deletion_curve(model, inputs, None, target=target, fractions=fractions, reference=reference, seed=seed + i)
            for i in range(n_random)
        ]
    )
    random_curve = randoms.mean(axis=0)
    return {
        "curve": curve,
        "random_curve": random_curve,
        "deletion_auc": curve_auc(fractions, curve),
        "random_deletion_auc": curve_auc(fractions, random_curve),
    }
