"""Micro-expression spotting: where in a recording the face makes a brief, small movement.

Pure functions on arrays: grey, face-aligned frames ``(N, H, W)`` in, a motion signal ``(N,)``
and intervals out. ``mewb predict`` calls :func:`spot` when no onset/apex/offset is given.

The method, step by step (frame ``t``, distance ``k`` frames, default 0.05 s):

1. **Motion signal** (:func:`motion_signal`). Optical flow from frame ``t`` to ``t - k`` and to
   ``t + k``; their sum is the second temporal difference of the face's displacement,
   ``x(t-k) + x(t+k) - 2 x(t)``. A micro-expression (onset -> apex -> back to neutral within a
   fraction of a second) gives a peak at its apex; anything that moves steadily over ``2k``
   frames (slow head drift, a lean) cancels out. Each flow field first loses its best-fitting
   affine motion (:func:`mewb.data.flow.remove_rigid_motion`): in-plane head translation, rotation and scale
   are an affine field over a near-frontal face, a local expression is not. The residual
   magnitude is averaged in a grid of face cells and the frame's value is the mean of its
   ``top`` strongest cells (:func:`cell_score`): micro-expressions are local (brows, mouth
   corners), so a whole-face mean would drown them in noise.
2. **Blinks.** A blink is as brief as a micro-expression and happens in every recording, so the
   horizontal band around the eyes (``eye_band``, fractions of the crop height, centred on the
   detected eye line when the aligner found the eyes) is left out of the cells. Optical flow
   smooths across the eyelid's edge, so a blink still lifts the cells next to the band; in the
   frames where the band moves ``blink_dominance`` times more than the face (:func:`blink_frames`)
   the score is taken from the cells at least one row away from the band instead. The cost:
   eyelid action units (AU 6/7 around the eyes) are only seen where they reach outside the band,
   and a brow movement *during* a blink is missed.
3. **Candidates** (:func:`find_candidates`). A robust baseline and threshold over the whole
   recording, ``median + n_mad * MAD`` (MAD scaled to a normal sigma), never the mean and
   standard deviation, which the movements themselves would inflate. Peaks above it
   (``scipy.signal.find_peaks``) are apex candidates; each spans the frames around it that stay
   above the threshold; candidates closer than ``merge_gap_s`` are merged.
4. **Onset, apex, offset** (:func:`refine`). The second difference smears a movement by up to
   ``k`` frames on each side, so each candidate is measured again against one neutral reference
   frame just before it: ``D(t)`` = residual displacement from the reference. The apex is
   ``argmax D``; the onset is the last frame before the apex where ``D`` is below ``level``
   (a fraction of the way from its floor to its peak), the offset the first such frame after.
5. **Duration rule.** Micro-expressions last ``min_duration_s``..``max_duration_s`` (1/25-1/2 s);
   candidates outside that range, widened by ``tolerance``, are kept in the list with
   ``accepted=False`` and the reason (a longer one is a macro-expression, a head turn or speech).
   So is a movement after which the face does not come back to neutral within that time (the
   onset of a held expression or a change of posture looks like a micro-expression's onset).

Blinks, in numbers (SynthME, 96-px crops): a blink moves the eye band 5-10x more than the rest
of the face, a brow lowerer (AU 4) about 3x, other action units less than 1x.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class SpotConfig:
    """How :func:`spot` finds intervals. Times are in seconds and turned into frames with ``fps``."""

    k_s: float = 0.1  # reference distance k in seconds (at least 1 frame); about half a micro-expression
    size: int = 96  # side of the face crop the signal is computed on (mewb predict aligns to it)
    backend: str = "farneback"  # flow backend for the signal (mewb.data.flow); farneback is smooth and fast
    grid: int = 8  # face cells per side (8: a cell of a 96-px crop is 12 px, about a brow or a mouth corner)
    top: int = 3  # the frame's score is the mean of its `top` strongest cells
    eye_band: tuple[float, float] | None = (0.28, 0.50)  # crop rows (fractions) left out for blinks; None: keep
    blink_dominance: float = 4.0  # eye band / face motion ratio above which a frame is blinking (see blink_frames)
    n_mad: float = 4.0  # threshold = median + n_mad * MAD-sigma of the signal
    min_duration_s: float = 1 / 25  # shortest micro-expression, onset to offset
    max_duration_s: float = 0.5  # longest micro-expression (the usual upper bound)
    tolerance: float = 0.25  # duration limits widened by this fraction before rejecting
    merge_gap_s: float = 0.05  # peaks closer than this are one movement
    level: float = 0.08  # onset/offset: this far from the displacement's floor to its peak (0.15: ~1 frame later)

    def frames(self, seconds: float, fps: float) -> int:
        return max(1, int(round(seconds * fps)))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Interval:
    """One spotted movement: 0-based frame indices into the recording, and how strong it is."""

    onset: int
    apex: int
    offset: int
    score: float  # peak height above the baseline, in robust sigmas
    peak: float  # the motion signal at its peak (pixels)
    accepted: bool = True
    reason: str = ""  # why it is not a micro-expression, when not accepted
    extra: dict = field(default_factory=dict)

    @property
    def duration(self) -> int:
        return self.offset - self.onset

    def to_dict(self, fps: float | None = None) -> dict:
        out = {"onset": self.onset, "apex": self.apex, "offset": self.offset, "score": round(self.score, 3),
               "peak": round(self.peak, 4), "accepted": self.accepted, "reason": self.reason}
        if fps:
            out["duration_s"] = round(self.duration / fps, 4)
        return out


# ---------------------------------------------------------------------------------------------
# Flow fields -> per-frame scores


def cell_mask(shape: tuple[int, int], grid: int, eye_band: tuple[float, float] | None) -> np.ndarray:
    """``(grid, grid)`` bool: the cells used for scoring (False where a cell is mostly in the eye band)."""
    h, _ = shape
    keep = np.ones((grid, grid), bool)
    if eye_band is not None:
        top, bottom = eye_band
        edges = np.linspace(0, 1, grid + 1)
        for r in range(grid):
            overlap = max(0.0, min(edges[r + 1], bottom) - max(edges[r], top))
            if overlap >= 0.5 * (edges[r + 1] - edges[r]):
                keep[r] = False
    if not keep.any():
        raise ValueError(f"the eye band {eye_band} leaves no face cells to score with grid={grid}")
    return keep


def cell_score(magnitude: np.ndarray, *, grid: int = 8, top: int = 3, keep: np.ndarray | None = None) -> float:
    """Mean of the ``top`` largest cell means of a magnitude map ``(H, W)`` over a ``grid x grid`` split."""
    h, w = magnitude.shape
    rows = np.linspace(0, h, grid + 1).astype(int)
    cols = np.linspace(0, w, grid + 1).astype(int)
    means = np.array([[magnitude[rows[r]:rows[r + 1], cols[c]:cols[c + 1]].mean() for c in range(grid)]
                      for r in range(grid)])  # (grid, grid)
    values = means[keep] if keep is not None else means.ravel()
    top = min(top, values.size)
    return float(np.sort(values)[-top:].mean())


def _grey_stack(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 4 and frames.shape[-1] == 3:
        import cv2

        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    if frames.ndim != 3:
        raise ValueError(f"frames must be grey (N, H, W) or RGB (N, H, W, 3), got shape {frames.shape}")
    return frames


def _residual(a: np.ndarray, b: np.ndarray, backend: str) -> np.ndarray:
    """Flow ``a -> b`` without its affine part, ``(2, H, W)``."""
    from mewb.data.flow import compute_flow, remove_rigid_motion

    return remove_rigid_motion(compute_flow(a, b, backend))


def motion_signal(frames: np.ndarray, *, k: int,
                  config: SpotConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spotting signals of face-aligned frames ``(N, H, W)`` (or RGB ``(N, H, W, 3)``).

    Returns ``(face, eyes, away)``, each ``(N,)`` float32: ``face(t)`` is the cell score of
    ``|r(t -> t-k) + r(t -> t+k)|`` (``r`` the flow without its affine part) over the cells
    outside the eye band, ``eyes(t)`` the same over the eye-band cells, ``away(t)`` over the
    cells at least one row away from the band (both zeros without a band). Near the ends the
    missing neighbour is the first or last frame.
    """
    config = config or SpotConfig()
    grey = _grey_stack(frames)
    n = len(grey)
    if n < 3:
        raise ValueError(f"spotting needs at least 3 frames, got {n}")
    k = max(1, min(int(k), n - 1))
    keep = cell_mask(grey.shape[1:], config.grid, config.eye_band)
    face = np.zeros(n, np.float32)
    eyes = np.zeros(n, np.float32)
    away = np.zeros(n, np.float32)
    rows = np.flatnonzero(~keep.all(axis=1))
    keep_far = keep.copy()
    if len(rows):
        keep_far[max(0, rows[0] - 1)] = False
        keep_far[min(len(keep) - 1, rows[-1] + 1)] = False
    for t in range(n):
        back = _residual(grey[t], grey[max(0, t - k)], config.backend) if t > 0 else 0.0
        fwd = _residual(grey[t], grey[min(n - 1, t + k)], config.backend) if t < n - 1 else 0.0
        magnitude = np.sqrt((np.asarray(back + fwd) ** 2).sum(0))  # (H, W)
        face[t] = cell_score(magnitude, grid=config.grid, top=config.top, keep=keep)
        if not keep.all():
            eyes[t] = cell_score(magnitude, grid=config.grid, top=config.top, keep=~keep)
            away[t] = cell_score(magnitude, grid=config.grid, top=config.top, keep=keep_far)
    return face, eyes, away


def displacement_profile(frames: np.ndarray, reference: int, stop: int, *,
                         config: SpotConfig | None = None) -> np.ndarray:
    """``D(t)`` for ``t = reference..stop`` ``(stop - reference + 1,)``: residual motion from one reference frame."""
    config = config or SpotConfig()
    grey = _grey_stack(frames)
    keep = cell_mask(grey.shape[1:], config.grid, config.eye_band)
    out = np.zeros(stop - reference + 1, np.float32)
    for i, t in enumerate(range(reference + 1, stop + 1), start=1):
        r = _residual(grey[reference], grey[t], config.backend)
        out[i] = cell_score(np.sqrt((r**2).sum(0)), grid=config.grid, top=config.top, keep=keep)
    return out


# ---------------------------------------------------------------------------------------------
# Signal -> intervals


def robust_threshold(signal: np.ndarray, n_mad: float, *, iterations: int = 5) -> tuple[float, float, float]:
    """``(baseline, sigma, threshold)``: median, MAD scaled to a sigma, and ``median + n_mad * sigma``.

    Iterated over the values below the last threshold (sigma clipping), so that movements covering
    much of a short recording do not raise their own threshold. Written here because
    ``scipy.stats.sigmaclip`` clips around the mean and standard deviation, which the movements
    being looked for inflate.
    """
    signal = np.asarray(signal, dtype=np.float64)
    values = signal
    for _ in range(max(1, iterations)):
        baseline = float(np.median(values))
        sigma = float(np.median(np.abs(values - baseline))) * MAD_TO_SIGMA
        sigma = max(sigma, 1e-6 * max(abs(baseline), 1.0))  # a perfectly still recording has MAD 0
        threshold = baseline + n_mad * sigma
        below = signal[signal <= threshold]
        if len(below) == len(values) or len(below) < 3:
            break
        values = below
    return baseline, sigma, threshold


def find_candidates(signal: np.ndarray, *, threshold: float, baseline: float, sigma: float,
                    distance: int = 1) -> list[Interval]:
    """Peaks of ``signal`` ``(N,)`` above ``threshold``, each with the frames around it that stay above it.

    A peak's span stops at the threshold or at the lowest frame between it and a neighbouring
    peak, so two movements in a row stay two candidates. ``onset``/``offset`` are the span's
    ends (refined later), ``apex`` the peak. Sorted by score, strongest first.
    """
    from scipy.signal import find_peaks

    signal = np.asarray(signal, dtype=np.float64)
    padded = np.concatenate([[-np.inf], signal, [-np.inf]])  # lets a peak sit on the first or last frame
    peaks, _ = find_peaks(padded, height=threshold, distance=max(1, distance),
                          prominence=0.5 * (threshold - baseline))
    peaks = peaks - 1
    above = signal > threshold
    out = []
    for i, p in enumerate(peaks):
        left = peaks[i - 1] + int(np.argmin(signal[peaks[i - 1]:p + 1])) if i > 0 else 0
        right = p + int(np.argmin(signal[p:peaks[i + 1] + 1])) if i + 1 < len(peaks) else len(signal) - 1
        lo = p
        while lo > left and above[lo - 1]:
            lo -= 1
        hi = p
        while hi < right and above[hi + 1]:
            hi += 1
        peak = float(signal[p])
        out.append(Interval(int(lo), int(p), int(hi), (peak - baseline) / sigma, peak))
    return sorted(out, key=lambda c: -c.score)


def refine(profile: np.ndarray, reference: int, *, level: float) -> tuple[int, int, int, bool]:
    """Onset, apex, offset (frame indices) from a displacement profile ``D`` ``(L,)`` starting at ``reference``.

    Apex = ``argmax D``. Each side has its own level, ``floor + level * (peak - floor)``, with
    ``floor`` the lowest ``D`` on that side (after the reference frame, whose ``D`` is 0 by
    definition): the face's appearance drifts away from the reference over time (lighting,
    compression, non-rigid head motion), so the neutral face after a movement sits a little
    higher than before it. Onset is the last frame before the apex at or below its level, offset
    the first after it. The fourth value says whether ``D`` came back at least a third of the way
    from the peak to the neutral level before the apex (if not: a held expression or a change of posture).
    """
    profile = np.asarray(profile, dtype=np.float64)
    if len(profile) < 3:
        return reference, reference + len(profile) // 2, reference + len(profile) - 1, False
    apex = 1 + int(np.argmax(profile[1:]))
    peak = float(profile[apex])
    floor_on = float(profile[1:apex + 1].min())
    floor_off = float(profile[apex:].min())
    before = np.flatnonzero(profile[:apex] <= floor_on + level * (peak - floor_on))
    onset = int(before[-1]) if len(before) else 0
    after = np.flatnonzero(profile[apex + 1:] <= floor_off + level * (peak - floor_off))
    offset = apex + 1 + int(after[0]) if len(after) else len(profile) - 1
    returned = (peak - floor_off) >= (peak - floor_on) / 3 and apex < len(profile) - 1
    return reference + onset, reference + apex, reference + offset, bool(returned)


def blink_frames(face: np.ndarray, eyes: np.ndarray, *, dominance: float = 4.0) -> np.ndarray:
    """``(N,)`` bool: frames where the eye band moves ``dominance`` times more than the rest of the face.

    Blinks do (5-10x on SynthME's faces); brow movements, which reach into the band, move both
    about equally (up to 3x for a brow lowerer, AU 4).
    """
    face, eyes = np.asarray(face, np.float64), np.asarray(eyes, np.float64)
    return eyes > dominance * np.maximum(face, 1e-9)


def _distinct(intervals: list[Interval]) -> list[Interval]:
    """Strongest first, dropping a candidate whose apex falls inside a stronger one's interval.

    The second difference answers a movement with its main peak and a weaker echo ``k`` frames
    to each side; refined against a neutral frame, an echo lands on the same movement.
    """
    kept: list[Interval] = []
    for c in sorted(intervals, key=lambda i: -i.score):
        if any(k.onset <= c.apex <= k.offset or c.onset <= k.apex <= c.offset for k in kept):
            continue
        kept.append(c)
    return kept


def spot(frames: np.ndarray, fps: float, config: SpotConfig | None = None) -> tuple[list[Interval], dict]:
    """Find micro-movement intervals in face-aligned frames ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB.

    Returns ``(intervals, details)``: intervals strongest first (accepted ones before rejected),
    frame indices 0-based; ``details`` holds the signal ``(N,)``, ``baseline``, ``sigma``,
    ``threshold``, ``k`` and the config, for plots and the output JSON.
    """
    config = config or SpotConfig()
    if not fps or fps <= 0:
        raise ValueError(f"spotting needs the frame rate, got fps={fps!r}")
    grey = _grey_stack(frames)
    n = len(grey)
    k = config.frames(config.k_s, fps)
    raw, eyes, away = motion_signal(grey, k=k, config=config)
    blinking = blink_frames(raw, eyes, dominance=config.blink_dominance) if config.eye_band is not None \
        else np.zeros(n, bool)
    signal = np.where(blinking, away, raw).astype(np.float32)  # (N,) blink frames scored away from the eyes
    baseline, sigma, threshold = robust_threshold(signal, config.n_mad)
    candidates = find_candidates(signal, threshold=threshold, baseline=baseline, sigma=sigma,
                                 distance=config.frames(config.merge_gap_s, fps))
    shortest = config.min_duration_s * fps * (1 - config.tolerance)
    longest = config.max_duration_s * fps * (1 + config.tolerance)
    out = []
    for c in candidates:
        reference = max(0, c.onset - max(1, k // 2))
        stop = min(n - 1, c.offset + max(1, k // 2))
        if stop - reference < 2:
            reference, stop = max(0, stop - 2), min(n - 1, reference + 2)
        profile = displacement_profile(grey, reference, stop, config=config)
        onset, apex, offset, returned = refine(profile, reference, level=config.level)
        if not returned and stop < n - 1:  # look as far as the longest micro-expression could last
            stop = min(n - 1, max(stop, reference + int(np.ceil(longest)) + k))
            profile = displacement_profile(grey, reference, stop, config=config)
            onset, apex, offset, returned = refine(profile, reference, level=config.level)
        interval = Interval(onset, apex, offset, c.score, c.peak,
                            extra={"candidate": [c.onset, c.apex, c.offset], "reference": reference,
                                   "profile": [round(float(v), 4) for v in profile]})
        interval.extra["eye_ratio"] = round(float(eyes[c.apex]) / max(float(raw[c.apex]), 1e-9), 3)
        if not returned:
            interval.accepted, interval.reason = False, (
                "the face does not return to neutral within "
                f"{longest / fps:.2f} s or before the recording ends (a longer expression or a change of posture)")
        elif interval.duration < shortest:
            interval.accepted, interval.reason = False, (
                f"{interval.duration} frames is shorter than a micro-expression ({config.min_duration_s:g} s)")
        elif interval.duration > longest:
            interval.accepted, interval.reason = False, (
                f"{interval.duration / fps:.3f} s is longer than a micro-expression ({config.max_duration_s:g} s)")
        out.append(interval)
    out = _distinct(out)
    out.sort(key=lambda i: (not i.accepted, -i.score))
    details = {"signal": signal, "raw_signal": raw, "eye_signal": eyes, "blinking": blinking, "baseline": baseline,
               "sigma": sigma, "threshold": threshold, "k": k, "fps": float(fps), "config": config.to_dict()}
    return out, details
