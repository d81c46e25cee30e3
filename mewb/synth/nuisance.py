"""Nuisances: everything that changes between frames of a real recording but is not the label.

Head drift and rotation, blinks (AU45), illumination flicker, sensor noise and JPEG compression.
Each is drawn from the clip's *nuisance* random stream, which is seeded independently of the
clip's class, so none of them can carry the label: a model that learns them learns nothing.
"""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_path(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """A slow, smooth 1-D path of peak size about ``amplitude``: a linear trend plus two slow sines."""
    x = rng.uniform(-1, 1) * t
    for _ in range(2):
        freq = rng.uniform(0.3, 1.5)  # cycles per clip
        x = x + rng.uniform(-0.5, 0.5) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    x = x - x[0]
    peak = float(np.abs(x).max()) or 1.0
    return amplitude * rng.uniform(0.3, 1.0) * x / peak


def head_motion(rng: np.random.Generator, n_frames: int, center: tuple[float, float],
                drift_px: float, rotation_deg: float) -> np.ndarray:
    """Smooth rigid head motion: (T, 2, 3) float32 affine matrices, the first one the identity.

    Translation peaks near ``drift_px`` pixels, in-plane rotation about ``center`` near
    ``rotation_deg`` degrees, and the scale changes by up to 0.5% (a slight lean forward or back).
    """
    t = np.linspace(0, 1, n_frames)
    tx = _smooth_path(rng, t, drift_px)
    ty = _smooth_path(rng, t, drift_px)
    angle = _smooth_path(rng, t, rotation_deg)
    scale = 1.0 + _smooth_path(rng, t, 0.005)
    mats = np.empty((n_frames, 2, 3), np.float32)
    for i in range(n_frames):
        m = cv2.getRotationMatrix2D(center, float(angle[i]), float(scale[i]))
        m[:, 2] += (tx[i], ty[i])
        mats[i] = m
    return mats


def raised_cosine(n_frames: int, start: float, peak: float, end: float) -> np.ndarray:
    """(T,) envelope: 0 up to frame index ``start``, rising smoothly to 1 at ``peak``, back to 0 at ``end``.

    Indices are 0-based frame positions; the value is exactly 0 outside (start, end).
    """
    i = np.arange(n_frames, dtype=np.float64)
    env = np.zeros(n_frames)
    up = (i > start) & (i <= peak)
    down = (i > peak) & (i < end)
    env[up] = 0.5 - 0.5 * np.cos(np.pi * (i[up] - start) / max(peak - start, 1e-9))
    env[down] = 0.5 + 0.5 * np.cos(np.pi * (i[down] - peak) / max(end - peak, 1e-9))
    return env


def blink_envelope(rng: np.random.Generator, n_frames: int, fps: float, prob: float) -> np.ndarray:
    """(T,) eyelid closure in [0, 1]: with probability ``prob`` one blink (two with ``prob``^2).

    A blink closes and reopens the lid in 100-250 ms, at a random time and depth (60-100%).
    """
    env = np.zeros(n_frames)
    n_blinks = int(rng.uniform() < prob) + int(rng.uniform() < prob * prob)
    for _ in range(n_blinks):
        duration = rng.uniform(0.10, 0.25) * fps
        start = rng.uniform(-duration / 2, n_frames - duration / 2)
        env = np.maximum(env, rng.uniform(0.6, 1.0) * raised_cosine(n_frames, start, start + 0.4 * duration,
                                                                    start + duration))
    return env


def flicker(rng: np.random.Generator, n_frames: int, fps: float, amplitude: float) -> np.ndarray:
    """(T,) multiplicative brightness gains around 1.

    Mains lighting flickers at 100/120 Hz; sampled at ``fps`` that aliases to a beat whose
    frequency we draw at random, plus a slow exposure drift and a little per-frame jitter.
    """
    t = np.arange(n_frames) / fps
    beat = rng.uniform(1.0, 40.0)
    gains = amplitude * 0.6 * np.sin(2 * np.pi * beat * t + rng.uniform(0, 2 * np.pi))
    gains += _smooth_path(rng, np.linspace(0, 1, n_frames), amplitude * 0.6)
    gains += rng.normal(0, amplitude * 0.15, n_frames)
    return 1.0 + gains


def sensor_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian read noise in grey levels, float32 of ``shape``."""
    return rng.normal(0, sigma, shape).astype(np.float32)


def jpeg_encode(frame: np.ndarray, quality: int) -> bytes:
    """Encode a BGR uint8 frame as baseline JPEG. Deterministic: libjpeg's output depends only on
    the pixels and the fixed parameters (no timestamps, no EXIF, no optimisation passes)."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                           cv2.IMWRITE_JPEG_OPTIMIZE, 0, cv2.IMWRITE_JPEG_PROGRESSIVE, 0])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG frame")
    return buf.tobytes()
