"""Eulerian magnification on synthetic clips whose motion is known.

The clip is a smooth texture (Gaussian-blurred noise, sigma 4 px, so its structure has
wavelengths of tens of pixels) translated horizontally by ``0.3 * sin(2 pi f t)`` px at 30 fps
over 64 frames (f is an exact FFT bin). The motion is measured with Farneback flow (mean u over
the interior, relative to frame 0) and its amplitude at f fitted by least squares.

- ideal filter, in band: magnified amplitude / original = 1 + alpha within 10 % (alpha = 1, 2:
  (1 + alpha) * 0.3 px <= 0.9 px, well inside the linear regime lambda / 8).
- IIR filter, in band: ratio = |1 + alpha * H(f)| within 10 %, H the filter's own response
  (first-order filters have gain < 1 and a phase lag in band, so 1 + alpha is not expected).
- out of band (f = 9.4 Hz, band 1-4 Hz): ideal ratio = 1 within 3 %.
``lambda_c = 4`` so every level gets the full gain; the attenuation is tested separately.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from mewb.data.evm import iir_bandpass_response, level_gains, magnify
from mewb.data.flow import compute_flow

FPS = 30.0
T = 64
IN_BAND = 6 * FPS / T  # 2.81 Hz
OUT_OF_BAND = 20 * FPS / T  # 9.38 Hz
BAND = dict(fps=FPS, low_hz=1.0, high_hz=4.0)


def _texture(size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 4.0)
    return (tex - tex.min()) / (tex.max() - tex.min()) * 200 + 20


def _moving_clip(freq: float, amplitude: float = 0.3, size: int = 64) -> np.ndarray:
    # scipy's spline shift, not cv2.warpAffine: OpenCV's bicubic kernel (a = -0.75) biases
    # sub-pixel shifts by ~20 % on this texture, which would swamp the tolerance.
    tex = _texture(size + 32)
    frames = []
    for t in range(T):
        dx = amplitude * np.sin(2 * np.pi * freq * t / FPS)
        frames.append(ndimage.shift(tex, (0, dx), order=3, mode="reflect")[16:-16, 16:-16])
    return np.stack(frames).astype(np.float32)


def _amplitude(frames: np.ndarray, freq: float) -> float:
    u = np.array([compute_flow(frames[0], f, "farneback")[0, 8:-8, 8:-8].mean() for f in frames])
    t = np.arange(len(frames))
    design = np.stack([np.cos(2 * np.pi * freq * t / FPS), np.sin(2 * np.pi * freq * t / FPS), np.ones(len(t))], axis=1)
    coef = np.linalg.lstsq(design, u, rcond=None)[0]
    return float(np.hypot(coef[0], coef[1]))


@pytest.fixture(scope="module")
def in_band_clip():
    clip = _moving_clip(IN_BAND)
    return clip, _amplitude(clip, IN_BAND)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_ideal_filter_magnifies_in_band_motion_by_one_plus_alpha(in_band_clip, alpha):
    clip, original = in_band_clip
    assert original == pytest.approx(0.3, rel=0.05)  # the measurement itself is sound
    out = magnify(clip, alpha=alpha, lambda_c=4.0, filter="ideal", **BAND)
    assert out.shape == clip.shape and out.dtype == np.float32
    assert _amplitude(out, IN_BAND) / original == pytest.approx(1 + alpha, rel=0.10)


def test_iir_filter_magnifies_by_its_own_response(in_band_clip):
    clip, original = in_band_clip
    alpha = 2.0
    expected = abs(1 + alpha * iir_bandpass_response(IN_BAND, **BAND))
    assert 1.8 < expected < 1 + alpha  # gain < 1 in band: the test would catch a wrong filter
    out = magnify(clip, alpha=alpha, lambda_c=4.0, filter="iir", **BAND)
    assert _amplitude(out, IN_BAND) / original == pytest.approx(expected, rel=0.10)


def test_out_of_band_motion_is_not_amplified():
    clip = _moving_clip(OUT_OF_BAND)
    original = _amplitude(clip, OUT_OF_BAND)
    out = magnify(clip, alpha=2.0, lambda_c=4.0, filter="ideal", **BAND)
    assert _amplitude(out, OUT_OF_BAND) / original == pytest.approx(1.0, rel=0.03)


def test_iir_response_is_a_band_pass():
    freqs = np.array([0.0, 0.2, 2.0, 14.0])
    gain = np.abs(iir_bandpass_response(freqs, **BAND))
    assert gain[0] == pytest.approx(0.0, abs=1e-9)
    assert gain[2] > 2 * gain[1] and gain[2] > 2 * gain[3]


def test_alpha_zero_and_still_clip_are_unchanged():
    clip = _moving_clip(IN_BAND, size=40)[:16]
    np.testing.assert_array_equal(magnify(clip, alpha=0.0, **BAND), clip)
    still = np.repeat(clip[:1], 16, axis=0)
    np.testing.assert_allclose(magnify(still, alpha=5.0, filter="iir", **BAND), still, atol=1e-3)


@pytest.mark.parametrize("shape", [(12, 50, 37), (12, 50, 37, 3), (12, 33, 33, 1)])
def test_any_frame_size_is_magnified_not_skipped(shape):
    """Sizes not divisible by 2**levels are padded, magnified and cropped back."""
    rng = np.random.default_rng(1)
    sigma = (2.0, 2.0, 0.0)[: len(shape) - 1]  # blur spatially only
    base = ndimage.gaussian_filter(rng.random(shape[1:]) * 255, sigma)
    t = np.arange(shape[0]).reshape(-1, *([1] * (len(shape) - 1)))
    freq = FPS / shape[0]  # 2.5 Hz: one exact FFT bin, inside the 1-4 Hz band
    clip = (base[None] * (1 + 0.05 * np.sin(2 * np.pi * freq * t / FPS))).astype(np.float32)
    out = magnify(clip, alpha=3.0, lambda_c=4.0, filter="ideal", **BAND)
    assert out.shape == clip.shape and out.dtype == np.float32
    change_in, change_out = np.abs(clip - clip.mean(0)).mean(), np.abs(out - out.mean(0)).mean()
    assert change_out > 3.0 * change_in  # about 1 + alpha = 4: magnified, not a silent no-op


def test_level_gains_follow_the_wavelength_bound():
    gains = level_gains(4, alpha=10.0, lambda_c=16.0)  # wavelengths 4, 8, 16, 32, 64 px
    assert len(gains) == 5
    assert gains == sorted(gains)  # fine levels get less
    assert gains[0] == pytest.approx(11 * 4 / 16 - 1) and gains[1] == pytest.approx(11 * 8 / 16 - 1)
    assert gains[2:] == [10.0, 10.0, 10.0]
    assert level_gains(3, alpha=0.5, lambda_c=64.0)[0] == 0.0  # clipped at 0, never negative


def test_lambda_c_attenuates_fine_texture(in_band_clip):
    clip, original = in_band_clip
    full = _amplitude(magnify(clip, alpha=2.0, lambda_c=4.0, filter="ideal", **BAND), IN_BAND)
    attenuated = _amplitude(magnify(clip, alpha=2.0, lambda_c=48.0, filter="ideal", **BAND), IN_BAND)
    assert original < attenuated < 0.9 * full


def test_argument_checks():
    clip = np.zeros((8, 32, 32), np.float32)
    with pytest.raises(ValueError, match="low_hz < high_hz"):
        magnify(clip, fps=30, low_hz=5, high_hz=2, alpha=1)
    with pytest.raises(ValueError, match="fps/2"):
        magnify(clip, fps=30, low_hz=5, high_hz=20, alpha=1)
    with pytest.raises(ValueError, match="unknown filter"):
        magnify(clip, fps=30, low_hz=1, high_hz=4, alpha=1, filter="butter")
    with pytest.raises(ValueError, match="at least 64 px"):
        magnify(clip, fps=30, low_hz=1, high_hz=4, alpha=1, levels=6)


def test_iir_bandpass_matches_scipy_lfilter():
    """The hand-written recursion equals two scipy first-order low-passes settled on frame 0."""
    from scipy import signal

    from mewb.data import evm

    x = np.random.default_rng(2).random((20, 5, 6, 3)).astype(np.float64)
    expected = np.zeros_like(x)
    for cutoff, sign in ((4.0, 1.0), (1.0, -1.0)):
        r = evm._iir_coefficient(cutoff, FPS)
        b, a = [r], [1.0, r - 1.0]
        zi = signal.lfilter_zi(b, a).reshape(1, 1, 1, 1) * x[:1]
        expected += sign * signal.lfilter(b, a, x, axis=0, zi=zi)[0]
    got = evm._iir_bandpass(x.astype(np.float32), **BAND)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6)
