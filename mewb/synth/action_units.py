"""Facial action units (FACS) as smooth, localised displacement fields.

An action unit (AU) is one visible muscle movement, numbered by the Facial Action Coding System
(Ekman & Friesen, 1978). SynthME models each AU as a sum of a few Gaussian "bumps" of motion
anchored to the face's landmarks (:class:`mewb.synth.faces.FaceRegions`): near the anchor the
skin moves by the bump's vector, and the motion fades smoothly to zero a few sigmas away. That is
what a real AU looks like in optical flow: a small, local, smooth patch of motion.

What each AU looks like (subject's left/right; image y points down):

=====  ======================  =========================================================
AU     FACS name               motion drawn here
=====  ======================  =========================================================
AU1    inner brow raiser       inner brow ends and the forehead above them move up
AU2    outer brow raiser       outer brow ends move up
AU4    brow lowerer            inner brows move down and towards each other (frown)
AU6    cheek raiser            cheeks and lower eyelids move up (the "Duchenne" smile eye)
AU7    lid tightener           lower eyelids move up, upper lids slightly down (narrowing)
AU9    nose wrinkler           nose wings and the skin beside the nose bridge move up
AU10   upper lip raiser        upper lip moves up, mostly either side of its centre
AU12   lip corner puller       mouth corners move up and outwards (the smile)
AU14   dimpler                 mouth corners move inwards (tightened, dimpled corners)
AU15   lip corner depressor    mouth corners move down
AU17   chin raiser             chin boss and lower lip move up
AU25   lips part               lower lip moves down, upper lip slightly up
AU45   blink                   upper eyelid moves down over the eye (a nuisance here)
=====  ======================  =========================================================

Each field is returned as an (H, W, 2) float32 array of (dx, dy) pixel displacements with a peak
magnitude of 1 for the bilateral AU; callers scale it by the clip's amplitude and its timing
envelope. A unilateral AU (``side="R"`` or ``"L"``) keeps that side's bumps at the same strength
and halves the midline ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mewb.synth.faces import FaceRegions

AU_NAMES: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    6: "cheek raiser",
    7: "lid tightener",
    9: "nose wrinkler",
    10: "upper lip raiser",
    12: "lip corner puller",
    14: "dimpler",
    15: "lip corner depressor",
    17: "chin raiser",
    25: "lips part",
    45: "blink",
}
EXPRESSION_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17, 25)  # AU45 is a nuisance
LATERAL_AUS: frozenset[int] = frozenset({1, 2, 4, 6, 7, 9, 10, 12, 14, 15})  # may occur on one side


@dataclass(frozen=True)
class Bump:
    """One Gaussian patch of motion: centre (px), sigmas (px), displacement vector, side."""

    center: tuple[float, float]
    sigma: tuple[float, float]
    vector: tuple[float, float]
    side: str  # "R", "L" (subject's side) or "C" (midline)


def _bumps(au: int, r: FaceRegions) -> list[Bump]:
    """The bumps of one AU on one face. Sigmas are in units of ``r.scale`` (half face width)."""
    s = r.scale
    ew, eh = r.eye_half_w, r.eye_half_h
    out: list[Bump] = []

    def add(c, sx, sy, v, side):
        out.append(Bump((float(c[0]), float(c[1])), (sx * s, sy * s), v, side))

    # Each side: (side letter, outward x direction in the image, that side's landmarks)
    sides = (
        ("R", -1.0, r.eye_r, r.brow_r_inner, r.brow_r_outer, r.nose_wing_r, r.mouth_corner_r, r.cheek_r),
        ("L", 1.0, r.eye_l, r.brow_l_inner, r.brow_l_outer, r.nose_wing_l, r.mouth_corner_l, r.cheek_l),
    )
    mid_x = r.face_center[0]
    for side, out_x, eye, b_in, b_out, wing, corner, cheek in sides:
        if au == 1:
            add(b_in, 0.12, 0.10, (0.0, -1.0), side)
            add((b_in[0], b_in[1] - 0.15 * s), 0.12, 0.10, (0.0, -0.5), side)
        elif au == 2:
            add(b_out, 0.14, 0.10, (0.0, -1.0), side)
            add(((b_in[0] + b_out[0]) / 2, (b_in[1] + b_out[1]) / 2 - 0.03 * s), 0.12, 0.08, (0.0, -0.5), side)
        elif au == 4:
            add(b_in, 0.13, 0.09, (-out_x * 0.6, 0.8), side)
            add(((b_in[0] + b_out[0]) / 2, b_in[1]), 0.12, 0.08, (-out_x * 0.2, 0.5), side)
        elif au == 6:
            add(cheek, 0.20, 0.12, (0.0, -1.0), side)
            add((eye[0], eye[1] + 1.1 * eh), 0.14, 0.05, (0.0, -0.6), side)
            add((eye[0] + out_x * 1.2 * ew, eye[1]), 0.07, 0.08, (-out_x * 0.3, -0.3), side)
        elif au == 7:
            add((eye[0], eye[1] + 0.9 * eh), 0.15, 0.05, (0.0, -1.0), side)
            add((eye[0], eye[1] - 1.0 * eh), 0.15, 0.05, (0.0, 0.4), side)
        elif au == 9:
            add(wing, 0.09, 0.08, (0.0, -1.0), side)
            add(((wing[0] + mid_x) / 2, (wing[1] + eye[1]) / 2), 0.07, 0.10, (0.0, -0.7), side)
            add(b_in, 0.08, 0.06, (0.0, 0.3), side)
        elif au == 10:
            add((mid_x + 0.4 * (corner[0] - mid_x), r.upper_lip[1]), 0.13, 0.07, (0.0, -1.0), side)
            add((wing[0] + out_x * 0.05 * s, wing[1] + 0.1 * s), 0.08, 0.08, (0.0, -0.5), side)
        elif au == 12:
            add(corner, 0.12, 0.10, (out_x * 0.6, -0.8), side)
            add((corner[0] + out_x * 0.08 * s, corner[1] - 0.2 * s), 0.14, 0.10, (out_x * 0.2, -0.4), side)
        elif au == 14:
            add(corner, 0.08, 0.08, (-out_x * 1.0, 0.0), side)
        elif au == 15:
            add(corner, 0.10, 0.10, (out_x * 0.15, 1.0), side)
        elif au == 45:
            add((eye[0], eye[1] - 0.3 * eh), 0.9 * ew / s, 0.8 * eh / s, (0.0, 1.0), side)
    if au == 1:
        add((mid_x, (r.brow_r_inner[1] + r.brow_l_inner[1]) / 2 - 0.2 * s), 0.18, 0.10, (0.0, -0.4), "C")
    elif au == 17:
        add(((r.lower_lip[0] + r.chin[0]) / 2, (r.lower_lip[1] + 2 * r.chin[1]) / 3), 0.22, 0.12, (0.0, -1.0), "C")
        add(r.lower_lip, 0.18, 0.06, (0.0, -0.6), "C")
    elif au == 25:
        add(r.lower_lip, 0.22, 0.07, (0.0, 1.0), "C")
        add(r.upper_lip, 0.18, 0.05, (0.0, -0.35), "C")
    if not out:
        raise ValueError(f"unknown action unit AU{au}; known: {', '.join(f'AU{a}' for a in AU_NAMES)}")
    return out


def _render(bumps: list[Bump], shape: tuple[int, int], side_weight: dict[str, float]) -> np.ndarray:
    # Hand-written: OpenCV has no sum-of-Gaussian-displacements primitive; this is a few
    # vectorised numpy lines over the (H, W) grid.
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    field = np.zeros((h, w, 2), np.float32)
    for b in bumps:
        weight = side_weight[b.side]
        if weight == 0:
            continue
        g = np.exp(-0.5 * (((xs - b.center[0]) / b.sigma[0]) ** 2 + ((ys - b.center[1]) / b.sigma[1]) ** 2))
        field[..., 0] += weight * b.vector[0] * g
        field[..., 1] += weight * b.vector[1] * g
    return field


def au_field(au: int, regions: FaceRegions, shape: tuple[int, int], side: str = "B") -> np.ndarray:
    """Displacement field of one action unit at full intensity.

    Args:
        au: FACS number, one of :data:`AU_NAMES`.
        regions: the face's landmarks, in the same pixels as ``shape``.
        shape: (H, W) of the image.
        side: ``"B"`` both sides, ``"R"`` / ``"L"`` the subject's right / left only.

    Returns:
        (H, W, 2) float32 (dx, dy) in pixels; the bilateral field's peak magnitude is 1.
    """
    if side not in ("B", "R", "L"):
        raise ValueError(f"side must be 'B', 'R' or 'L', got {side!r}")
    return _cached_field(au, regions, tuple(shape), side).copy()


@lru_cache(maxsize=512)
def _cached_field(au: int, regions: FaceRegions, shape: tuple[int, int], side: str) -> np.ndarray:
    bumps = _bumps(au, regions)
    both = _render(bumps, shape, {"R": 1.0, "L": 1.0, "C": 1.0})
    peak = float(np.sqrt((both**2).sum(-1)).max()) or 1.0
    if side == "B":
        field = both
    else:
        field = _render(bumps, shape, {"R": float(side == "R"), "L": float(side == "L"), "C": 0.5})
    field = field / peak
    field.setflags(write=False)
    return field


def combine(aus: dict[int, tuple[str, float]], regions: FaceRegions, shape: tuple[int, int]) -> np.ndarray:
    """Sum several AUs: ``{au: (side, weight)}`` -> (H, W, 2) float32, peak magnitude 1.

    The sum is rescaled so its largest displacement is exactly 1 pixel; the generator then
    multiplies by the clip's amplitude, so every clip's peak motion is its drawn amplitude,
    whatever the class (a class must not be recognisable by how *much* the face moves).
    """
    field = np.zeros((*shape, 2), np.float32)
    for au, (side, weight) in sorted(aus.items()):
        field += weight * au_field(au, regions, shape, side)
    peak = float(np.sqrt((field**2).sum(-1)).max())
    if peak == 0:
        raise ValueError(f"action units {sorted(aus)} give no motion on this face")
    return field / peak
