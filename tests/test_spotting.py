"""Spotting: the pure pieces on known arrays, then whole recordings with a planted micro-expression."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mewb.spotting import (
    SpotConfig,
    find_candidates,
    refine,
    robust_threshold,
    spot,
)
from mewb.synth.nuisance import raised_cosine


def test_threshold_comes_from_the_quiet_frames_even_when_movements_are_long():
    rng = np.random.default_rng(0)
    signal = 0.1 + 0.01 * rng.standard_normal(300)
    signal[50:170] += 1.0  # 40% of the recording moves: a plain median + MAD would sit inside it
    baseline, sigma, threshold = robust_threshold(signal, 4.0)
    assert abs(baseline - 0.1) < 0.01 and sigma < 0.02 and threshold < 0.2


def test_two_movements_stay_two_candidates_strongest_first():
    t = np.arange(200)
    signal = 0.1 + 0.8 * np.exp(-((t - 60) / 6.0) ** 2) + 1.2 * np.exp(-((t - 90) / 6.0) ** 2)
    candidates = find_candidates(signal, threshold=0.3, baseline=0.1, sigma=0.05)
    assert [c.apex for c in candidates] == [90, 60]
    assert candidates[1].offset < candidates[0].onset  # split at the valley between them
    assert candidates[0].score == pytest.approx((signal[90] - 0.1) / 0.05)


def test_refine_finds_a_raised_cosine_within_a_few_frames():
    rng = np.random.default_rng(1)
    envelope = raised_cosine(80, 20.0, 34.0, 55.0)  # onset 20, apex 34, offset 55
    profile = 0.05 + envelope + 0.01 * rng.standard_normal(80)
    profile[0] = 0.0  # D(reference) is 0 by definition
    onset, apex, offset, returned = refine(profile, reference=100, level=0.08)
    assert returned
    # a level crossing at 8% of the peak lies 18% into a raised-cosine rise or fall: 2-4 frames here
    assert 0 <= onset - 120 <= 3 and abs(apex - 134) <= 1 and 0 <= 155 - offset <= 4


def _texture(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 1.5)
    return (tex - tex.min()) / (tex.max() - tex.min()) * 180 + 40


def _warped_clip(n, fps, *, me=None, blink=None, hold=None, drift_px=1.5, size=64, seed=0):
    """Grey frames ``(n, size, size)``: a texture drifting rigidly, with local movements.

    ``me``: (onset, apex, offset) of a 1-px movement in the lower face; ``hold``: (start, top,
    release, end) of one that is held; ``blink``: like ``me`` in the eye band (rows 0.33-0.45),
    3 px, as strong as a real blink is next to a micro-expression.
    """
    big = _texture(size + 16, seed)
    ys, xs = np.mgrid[0:size + 16, 0:size + 16].astype(np.float32)

    def bump(cy, cx, r):
        return np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r**2))

    mouth = bump(8 + 0.75 * size, 8 + 0.35 * size, size / 12)
    eye = bump(8 + 0.39 * size, 8 + 0.3 * size, size / 16)
    me_env = raised_cosine(n, *me) if me else np.zeros(n)
    long_env = np.interp(np.arange(n), hold, [0, 1, 1, 0], left=0, right=0) if hold else np.zeros(n)
    blink_env = raised_cosine(n, *blink) if blink else np.zeros(n)
    out = []
    for t in range(n):
        dy = 1.0 * (me_env[t] + long_env[t]) * mouth + 3.0 * blink_env[t] * eye
        shift = drift_px * t / n
        map_x = (xs - shift).astype(np.float32)
        map_y = (ys - dy - 0.5 * shift).astype(np.float32)
        frame = cv2.remap(big, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        out.append(frame[8:-8, 8:-8])
    noise = np.random.default_rng(seed + 1).normal(0, 1.0, (n, size, size))
    return np.clip(np.rint(np.stack(out) + noise), 0, 255).astype(np.uint8)


def test_spot_finds_the_movement_despite_drift_and_a_blink():
    fps = 100.0
    frames = _warped_clip(150, fps, me=(80, 88, 98), blink=(30, 36, 45))
    intervals, details = spot(frames, fps, SpotConfig(eye_band=(0.28, 0.5)))
    accepted = [i for i in intervals if i.accepted]
    assert accepted, [i.to_dict() for i in intervals]
    best = accepted[0]
    assert abs(best.onset - 80) <= 3 and abs(best.apex - 88) <= 2 and abs(best.offset - 98) <= 3
    assert not any(i.onset <= 36 <= i.offset for i in accepted)  # the blink is not a micro-expression
    assert details["signal"].shape == (150,) and details["threshold"] > details["baseline"]


def test_a_held_expression_is_listed_but_rejected():
    fps = 50.0
    frames = _warped_clip(150, fps, hold=(30, 36, 100, 106))  # a quick onset, then held 1.3 s
    intervals, _ = spot(frames, fps, SpotConfig(eye_band=None))
    assert intervals and not any(i.accepted for i in intervals)
    assert "does not return to neutral" in intervals[0].reason


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="frame rate"):
        spot(np.zeros((10, 32, 32), np.uint8), 0)
    with pytest.raises(ValueError, match="grey"):
        spot(np.zeros((10, 32), np.uint8), 100)


def _errors(found, truth):
    return (found.onset - truth.onset, found.apex - truth.apex, found.offset - truth.offset)


def _spot_video(path, **kwargs):
    from mewb.predict.core import open_recording, spotting_crops
    from mewb.predict.demo import synthetic_recording

    truth = synthetic_recording(path, **kwargs)
    recording = open_recording(truth.path)
    config = SpotConfig()
    crops, _ = spotting_crops(recording, config.size)
    intervals, details = spot(crops, recording.fps, config)
    eyes = details["eye_signal"]
    assert eyes.max() > 3 * np.median(eyes)  # the eye band moved: blinks were there to be ignored
    return truth, [i for i in intervals if i.accepted]


def test_spots_the_planted_synthme_interval_in_an_mp4_with_blinks_and_head_drift(tmp_path):
    # seed 0: a procedural face, AU 6+12, two blinks and 2 px of head drift, through mp4v compression
    truth, accepted = _spot_video(tmp_path / "me.mp4", seed=0, emotion="positive")
    assert accepted
    onset, apex, offset = _errors(accepted[0], truth)
    assert abs(onset) <= 6 and abs(apex) <= 4 and abs(offset) <= 6, (truth, accepted[0])


def test_spots_the_planted_interval_on_an_animated_photo(tmp_path):
    from skimage.data import astronaut

    truth, accepted = _spot_video(tmp_path / "astronaut.mp4", seed=7, emotion="negative", photo=astronaut())
    assert accepted
    onset, apex, offset = _errors(accepted[0], truth)
    assert abs(onset) <= 6 and abs(apex) <= 4 and abs(offset) <= 6, (truth, accepted[0])
