"""Per-frame saliency volumes aligned with the face frames, overlays, and error heatmaps.

A dual model sees ``T`` frames and ``T-1`` flow steps; flow step ``k`` is the motion *into*
frame ``k+1`` (onset -> frame ``k+1``, or frame ``k`` -> ``k+1``), so it is drawn on frame ``k+1``
and frame 0 (the onset) gets the frames stream only. In general the ``T'`` flow steps align to
the last ``T'`` frames (an onset-apex pair: the one flow lands on the apex).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from mewb.data.preprocess import FRAME_MEAN, FRAME_STD
from mewb.explain.base import Attribution

CHANNEL_REDUCTIONS = ("sum", "abs", "norm")
SIGNS = ("abs", "positive", "negative", "all")


def _to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def saliency_volume(
    attribution: Attribution | Mapping[str, torch.Tensor],
    *,
    modalities: tuple[str, ...] | None = None,
    channels: str = "sum",
    frames: int | None = None,
    shared: bool | None = None,
) -> np.ndarray:
    """One map per face frame: ``{m: (N, C, T_m, H, W)} -> (N, T, H, W)`` float32.

    Args:
        attribution: an :class:`Attribution` or a dict of per-modality maps.
        modalities: which inputs to include (default: all in the attribution).
        channels: ``sum`` (signed sum over channels, IG's completeness is kept), ``abs`` (sum of
            magnitudes) or ``norm`` (L2 over channels).
        frames: ``T``; default the frames input's length, or flow's ``T' + 1`` without frames.
        shared: average the modalities instead of adding them (default: ``attribution.shared``,
            True for one layer map resampled to every input such as Grad-CAM).
    """
    if channels not in CHANNEL_REDUCTIONS:
        raise ValueError(f"unknown channel reduction {channels!r}; valid: {', '.join(CHANNEL_REDUCTIONS)}")
    maps = attribution.maps if isinstance(attribution, Attribution) else dict(attribution)
    if shared is None:
        shared = attribution.shared if isinstance(attribution, Attribution) else False
    names = tuple(modalities or maps)
    unknown = [m for m in names if m not in maps]
    if unknown:
        raise ValueError(f"no attribution for {unknown}; have {sorted(maps)}")
    if frames is None:
        frames = maps["frames"].shape[2] if "frames" in maps else maps[names[0]].shape[2] + 1
    first = _to_numpy(maps[names[0]])
    n, _, _, h, w = first.shape
    total = np.zeros((n, frames, h, w), np.float32)
    count = np.zeros((frames,), np.float32)
    for m in names:
        a = _to_numpy(maps[m]).astype(np.float32)  # (N, C, T_m, H, W)
        if channels == "sum":
            per_frame = a.sum(axis=1)
        elif channels == "abs":
            per_frame = np.abs(a).sum(axis=1)
        else:
            per_frame = np.sqrt((a**2).sum(axis=1))
        steps = per_frame.shape[1]
        if steps > frames:
            raise ValueError(f"{m} has {steps} steps, more than the {frames} frames")
        total[:, frames - steps :] += per_frame  # (N, T_m, H, W) onto the last T_m frames
        count[frames - steps :] += 1
    if shared:
        total /= np.maximum(count, 1)[None, :, None, None]
    return total


def frames_from_tensor(frames: torch.Tensor | np.ndarray) -> np.ndarray:
    """The model's standardised frames back to pictures: ``(3, T, H, W)`` -> ``(T, H, W, 3)`` uint8.

    Inverts ``mewb.data.preprocess.frames_to_tensor_array`` (fixed mean and std); a batch
    ``(N, 3, T, H, W)`` gives ``(N, T, H, W, 3)``.
    """
    x = _to_numpy(frames).astype(np.float32)
    x = np.clip((x * FRAME_STD + FRAME_MEAN) * 255.0, 0, 255)
    x = np.moveaxis(x, -4, -1)  # channels last
    return np.rint(x).astype(np.uint8)


def colour_lut(colorscale: str = "Inferno", n: int = 256) -> np.ndarray:
    """A ``(n, 3)`` uint8 lookup table sampled from a plotly colour scale (same colours as the figures)."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    colours = sample_colorscale(get_colorscale(colorscale), list(np.linspace(0.0, 1.0, n)), colortype="rgb")
    return np.array([unlabel_rgb(c) for c in colours], dtype=np.float64).round().astype(np.uint8)


def normalise_saliency(volume: np.ndarray, *, sign: str = "abs", clip_percentile: float = 99.0) -> np.ndarray:
    """Map a saliency array (any shape) into [0, 1] with one scale for the whole array.

    ``sign``: ``abs`` (|s|), ``positive`` (max(s, 0)), ``negative`` (max(-s, 0)) -> 0 is none;
    ``all`` -> 0.5 is zero, 0 and 1 the strongest negative and positive (for a diverging scale).
    Values beyond the ``clip_percentile`` of the magnitudes are clipped, so a few outlier voxels
    do not wash the rest out. One scale per clip keeps frames comparable over time.
    """
    if sign not in SIGNS:
        raise ValueError(f"unknown sign {sign!r}; valid: {', '.join(SIGNS)}")
    v = np.asarray(volume, dtype=np.float32)
    if sign == "positive":
        v = np.maximum(v, 0)
    elif sign == "negative":
        v = np.maximum(-v, 0)
    elif sign == "abs":
        v = np.abs(v)
    magnitude = np.abs(v)
    scale = float(np.percentile(magnitude, clip_percentile)) if magnitude.size else 0.0
    if scale <= 0:
        scale = float(magnitude.max()) or 1.0
    v = np.clip(v / scale, -1.0, 1.0)
    return (v + 1.0) / 2.0 if sign == "all" else v


def overlay(
    frames: np.ndarray,
    volume: np.ndarray,
    *,
    colorscale: str | None = None,
    opacity: float = 0.5,
    sign: str = "abs",
    clip_percentile: float = 99.0,
    weight_by_value: bool = True,
) -> np.ndarray:
    """Saliency drawn over the face: ``(T, H, W, 3)`` uint8 + ``(T, H, W)`` -> ``(T, H, W, 3)`` uint8.

    Also works on single images (``(H, W, 3)`` + ``(H, W)``). Grey frames ``(T, H, W)`` are
    repeated to RGB. ``colorscale`` defaults to Inferno, or RdBu_r for ``sign="all"``. With
    ``weight_by_value`` the opacity grows with the saliency (none where the map is 0, ``opacity``
    at the clip's percentile), so the face shows through where the model does not look.
    """
    frames = np.asarray(frames)
    if frames.ndim == volume.ndim:  # grey
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.shape[:-1] != volume.shape:
        raise ValueError(f"frames {frames.shape} and saliency {volume.shape} do not align")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    colorscale = colorscale or ("RdBu_r" if sign == "all" else "Inferno")
    values = normalise_saliency(volume, sign=sign, clip_percentile=clip_percentile)
    lut = colour_lut(colorscale)
    colours = lut[np.rint(values * (len(lut) - 1)).astype(int)].astype(np.float32)  # (..., 3)
    if weight_by_value:
        strength = np.abs(values - 0.5) * 2.0 if sign == "all" else values
        alpha = opacity * strength[..., None]
    else:
        alpha = np.full(values.shape + (1,), opacity, np.float32)
    blended = (1.0 - alpha) * frames.astype(np.float32) + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


DISPLAY_SIDE = 160  # pixels of a face in pages and figures (the demo's models see 32)


def upscale_faces(faces: np.ndarray, *, side: int = DISPLAY_SIDE) -> np.ndarray:
    """``(T, h, w, 3)`` uint8 faces -> ``(T, side, side, 3)`` uint8 (bicubic), for display."""
    import cv2

    return np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_CUBIC) for f in np.asarray(faces)])


def display_overlay(faces: np.ndarray, volume: np.ndarray, *, side: int = DISPLAY_SIDE,
                    opacity: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """The face and its saliency at display resolution, not the model's input size.

    ``faces`` ``(T, h, w, 3)`` uint8 are upscaled to ``side`` pixels (bicubic) and ``volume``
    ``(T, h, w)`` bilinearly to the same size (its frames are the clip's frames, so time needs no
    resampling) before :func:`overlay` draws it. Returns ``(faces (T, side, side, 3), overlays
    (T, side, side, 3))``, both uint8.
    """
    import cv2

    big = upscale_faces(faces, side=side)
    maps = np.stack([cv2.resize(np.asarray(v, np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
                     for v in np.asarray(volume)])
    return big, overlay(big, maps, opacity=opacity)


def error_heatmaps(
    volumes: np.ndarray, labels, predictions, *, num_classes: int | None = None, absolute: bool = True
) -> dict[str, np.ndarray]:
    """Mean saliency of correctly vs wrongly classified clips, per true class.

    Args:
        volumes: ``(N, T, H, W)`` or ``(N, H, W)`` saliency (e.g. :func:`saliency_volume`).
        labels, predictions: ``(N,)`` class indices.
        absolute: average ``|s|`` (default), else the signed maps.

    Returns:
        ``{"correct": (K, ...), "wrong": (K, ...), "n_correct": (K,), "n_wrong": (K,)}``; a
        class with no clip in a group has a map of NaN.
    """
    v = np.abs(volumes) if absolute else np.asarray(volumes, dtype=np.float32)
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    k = num_classes or int(max(labels.max(), predictions.max())) + 1
    out = {g: np.full((k,) + v.shape[1:], np.nan, np.float32) for g in ("correct", "wrong")}
    counts = {"n_correct": np.zeros(k, int), "n_wrong": np.zeros(k, int)}
    for c in range(k):
        for group, pick in (("correct", labels == predictions), ("wrong", labels != predictions)):
            chosen = (labels == c) & pick
            counts[f"n_{group}"][c] = int(chosen.sum())
            if chosen.any():
                out[group][c] = v[chosen].mean(axis=0)
    return {**out, **counts}
