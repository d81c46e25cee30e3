"""Faces for SynthME: procedural identities drawn with OpenCV, and real photos.

Both kinds end as a :class:`Face`: a neutral, cropped and aligned BGR image plus
:class:`FaceRegions`, the handful of facial landmarks (eye centres, brow ends, nose wings, mouth
corners, ...) that the action-unit fields in :mod:`mewb.synth.action_units` are anchored to.

Left and right follow FACS: they are the *subject's* sides. The subject's right side appears on
the *image's* left (smaller x), exactly as in a mirror-free camera picture.

Procedural faces are drawn at 4x the output size with anti-aliased OpenCV primitives and reduced
with area interpolation, so edges are smooth and sub-pixel motion shows as grey-level change.
A fixed per-identity skin texture (pores and blotches) gives the skin gradients that optical flow
needs; without it a cheek raise would move a flat colour and be invisible.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
import warnings

import cv2
import numpy as np

Point = tuple[float, float]

_SUPERSAMPLE = 4  # draw at 4x, then INTER_AREA down: anti-aliasing beyond LINE_AA


@dataclass(frozen=True)
class FaceRegions:
    """Landmarks of a neutral face in output pixels (x right, y down), subject's sides.

    ``r`` = subject's right = image left. ``scale`` is half the face width; action-unit fields
    size their Gaussian bumps in units of it, so the same AU looks the same at any resolution.
    """

    eye_r: Point
    eye_l: Point
    eye_half_w: float
    eye_half_h: float
    brow_r_inner: Point
    brow_r_outer: Point
    brow_l_inner: Point
    brow_l_outer: Point
    nose_tip: Point
    nose_wing_r: Point
    nose_wing_l: Point
    mouth_corner_r: Point
    mouth_corner_l: Point
    upper_lip: Point
    lower_lip: Point
    chin: Point
    cheek_r: Point
    cheek_l: Point
    face_center: Point
    scale: float

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Face:
    """A neutral face: ``image`` (H, W, 3) uint8 BGR and its ``regions``."""

    image: np.ndarray
    regions: FaceRegions
    source: str  # "procedural:<n>" or the photo's path


@dataclass(frozen=True)
class FaceIdentity:
    """Everything that makes one procedural person look like themselves.

    All lengths are fractions of the image side, colours are BGR. Drawn once per subject by
    :func:`random_identity` from the subject's own random stream, never from the clip's label.
    """

    # Head shape
    center: Point  # face ellipse centre
    half_w: float  # face half width
    half_h: float  # face half height
    # Colours
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    iris: tuple[float, float, float]
    lips: tuple[float, float, float]
    background: tuple[float, float, float]
    # Geometry, relative to the face
    hairline: float  # hair line height above the eyes, in face half-heights
    eye_y: float  # eye line below the centre, in half-heights (negative = above)
    eye_dx: float  # half inter-ocular distance, in half-widths
    eye_w: float  # eye half width, in half-widths
    eye_open: float  # eye half height / eye half width
    brow_gap: float  # brow height above the eye, in half-widths
    brow_thick: float  # brow thickness, in half-widths
    brow_arch: float  # brow arch height, in half-widths
    nose_y: float  # nose tip below the eye line, in half-heights
    nose_w: float  # nose half width, in half-widths
    mouth_y: float  # mouth line below the nose tip, in half-heights
    mouth_w: float  # mouth half width, in half-widths
    lip_thick: float  # lip thickness, in half-widths
    # Accessories and texture
    glasses: bool
    texture_seed: int
    texture_strength: float  # grey levels of pore/blotch texture


def random_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw one identity. Skin tones span light to dark; about 30% wear glasses."""
    u = rng.uniform
    # Skin tone: interpolate between a dark and a light tone (BGR), then jitter the hue a bit.
    t = u(0.0, 1.0)
    dark, light = np.array([45.0, 70.0, 110.0]), np.array([185.0, 205.0, 240.0])
    skin = dark + t * (light - dark) + rng.normal(0, 6, 3)
    hair = np.array([20.0, 25.0, 35.0]) + u(0, 1) * np.array([40.0, 70.0, 110.0])
    iris = rng.choice(np.array([[30.0, 50.0, 80.0], [120.0, 90.0, 40.0], [60.0, 110.0, 70.0]]))
    lips = skin * np.array([0.62, 0.60, 0.85])
    background = np.full(3, u(60, 200)) + rng.normal(0, 15, 3)
    return FaceIdentity(
        center=(0.5 + u(-0.02, 0.02), 0.53 + u(-0.02, 0.02)),
        half_w=u(0.33, 0.39),
        half_h=u(0.42, 0.47),
        skin=tuple(np.clip(skin, 0, 255)),
        hair=tuple(np.clip(hair, 0, 255)),
        iris=tuple(iris),
        lips=tuple(np.clip(lips, 0, 255)),
        background=tuple(np.clip(background, 0, 255)),
        hairline=u(0.4, 0.65),
        eye_y=u(-0.22, -0.12),
        eye_dx=u(0.38, 0.46),
        eye_w=u(0.17, 0.22),
        eye_open=u(0.38, 0.52),
        brow_gap=u(0.16, 0.24),
        brow_thick=u(0.05, 0.09),
        brow_arch=u(0.02, 0.07),
        nose_y=u(0.34, 0.42),
        nose_w=u(0.17, 0.23),
        mouth_y=u(0.18, 0.24),
        mouth_w=u(0.34, 0.44),
        lip_thick=u(0.06, 0.10),
        glasses=bool(u() < 0.3),
        texture_seed=int(rng.integers(2**31)),
        texture_strength=u(5.0, 10.0),
    )


def _regions_for(ident: FaceIdentity, size: int) -> FaceRegions:
    """The landmarks implied by an identity's geometry, in output pixels."""
    s = float(size)
    cx, cy = ident.center[0] * s, ident.center[1] * s
    a, b = ident.half_w * s, ident.half_h * s
    ey = cy + ident.eye_y * b
    ex = ident.eye_dx * a
    ew = ident.eye_w * a
    eh = ew * ident.eye_open
    by = ey - eh - ident.brow_gap * a
    ny = ey + ident.nose_y * b
    nw = ident.nose_w * a
    my = ny + ident.mouth_y * b
    mw = ident.mouth_w * a
    lt = ident.lip_thick * a
    return FaceRegions(
        eye_r=(cx - ex, ey),
        eye_l=(cx + ex, ey),
        eye_half_w=ew,
        eye_half_h=eh,
        brow_r_inner=(cx - ex + 0.85 * ew, by),
        brow_r_outer=(cx - ex - 1.15 * ew, by + 0.3 * ident.brow_gap * a),
        brow_l_inner=(cx + ex - 0.85 * ew, by),
        brow_l_outer=(cx + ex + 1.15 * ew, by + 0.3 * ident.brow_gap * a),
        nose_tip=(cx, ny),
        nose_wing_r=(cx - nw, ny - 0.1 * nw),
        nose_wing_l=(cx + nw, ny - 0.1 * nw),
        mouth_corner_r=(cx - mw, my),
        mouth_corner_l=(cx + mw, my),
        upper_lip=(cx, my - lt),
        lower_lip=(cx, my + 1.2 * lt),
        chin=(cx, cy + 0.86 * b),
        cheek_r=(cx - ex, ey + 0.45 * (ny - ey) + eh * 1.5),
        cheek_l=(cx + ex, ey + 0.45 * (ny - ey) + eh * 1.5),
        face_center=(cx, cy),
        scale=a,
    )


def render_face(ident: FaceIdentity, size: int) -> Face:
    """Draw a neutral face of ``size`` x ``size`` pixels.

    Returns a :class:`Face` whose image is (size, size, 3) uint8 BGR.
    """
    k = _SUPERSAMPLE
    big = size * k
    reg = _regions_for(ident, size)

    def P(p: Point) -> tuple[int, int]:  # output pixels -> supersampled integer pixels
        return int(round(p[0] * k)), int(round(p[1] * k))

    def L(v: float) -> int:
        return max(1, int(round(v * k)))

    aa = cv2.LINE_AA
    img = np.empty((big, big, 3), np.uint8)
    img[:] = np.array(ident.background, np.uint8)
    cx, cy = reg.face_center
    a, b = ident.half_w * size, ident.half_h * size
    skin = tuple(float(c) for c in ident.skin)
    hair = tuple(float(c) for c in ident.hair)
    darker = tuple(0.78 * c for c in skin)
    # Neck and ears behind the face
    cv2.rectangle(img, P((cx - 0.5 * a, cy + 0.5 * b)), P((cx + 0.5 * a, size * 1.1)), darker, -1, aa)
    for side in (-1, 1):
        cv2.ellipse(img, P((cx + side * a * 0.98, reg.eye_r[1] + 0.25 * b)), (L(0.16 * a), L(0.28 * b)),
                    0, 0, 360, darker, -1, aa)
    # Hair mass behind the head, then the face, then the hair over the forehead (the hair line)
    cv2.ellipse(img, P((cx, cy - 0.12 * b)), (L(1.08 * a), L(1.0 * b)), 0, 180, 360, hair, -1, aa)
    cv2.ellipse(img, P((cx, cy)), (L(a), L(b)), 0, 0, 360, skin, -1, aa)
    hair_y = reg.eye_r[1] - ident.hairline * b
    top = cy - b
    cv2.ellipse(img, P((cx, top)), (L(1.02 * a), L(max(hair_y - top, 1.0))), 0, 0, 180, hair, -1, aa)

    # Soft shading: cheeks, nose sides, under the lower lip (drawn on a layer then blurred)
    shade = np.zeros((big, big), np.float32)
    for cheek in (reg.cheek_r, reg.cheek_l):
        cv2.ellipse(shade, P(cheek), (L(0.22 * a), L(0.14 * a)), 0, 0, 360, -0.05, -1, aa)
    for wing in (reg.nose_wing_r, reg.nose_wing_l):
        cv2.line(shade, P((wing[0] * 0.6 + cx * 0.4, reg.eye_r[1] + reg.eye_half_h)), P(wing), -0.12, L(0.05 * a), aa)
    cv2.ellipse(shade, P((cx, reg.lower_lip[1] + 0.1 * a)), (L(0.2 * a), L(0.05 * a)), 0, 0, 360, -0.10, -1, aa)
    shade = cv2.GaussianBlur(shade, (0, 0), 0.04 * a * k)
    img = np.clip(img.astype(np.float32) * (1.0 + shade[..., None]), 0, 255).astype(np.uint8)

    # Eyes: white, iris, pupil, then lids as lines
    for eye in (reg.eye_r, reg.eye_l):
        ew, eh = reg.eye_half_w, reg.eye_half_h
        cv2.ellipse(img, P(eye), (L(ew), L(eh)), 0, 0, 360, (235, 235, 240), -1, aa)
        cv2.circle(img, P(eye), L(0.85 * eh), ident.iris, -1, aa)
        cv2.circle(img, P(eye), L(0.4 * eh), (15, 15, 15), -1, aa)
        cv2.circle(img, P((eye[0] + 0.25 * eh, eye[1] - 0.3 * eh)), L(0.12 * eh), (250, 250, 250), -1, aa)
        cv2.ellipse(img, P(eye), (L(ew), L(eh)), 0, 180, 360, (40, 40, 50), L(0.35 * eh), aa)
        cv2.ellipse(img, P(eye), (L(ew), L(eh)), 0, 0, 180, tuple(0.6 * c for c in skin), L(0.15 * eh), aa)
        # upper lid crease
        cv2.ellipse(img, P((eye[0], eye[1] - 0.4 * eh)), (L(1.05 * ew), L(1.2 * eh)), 0, 200, 340,
                    tuple(0.8 * c for c in skin), L(0.12 * eh), aa)
    # Brows: a thick arched polyline from inner to outer end
    for inner, outer in ((reg.brow_r_inner, reg.brow_r_outer), (reg.brow_l_inner, reg.brow_l_outer)):
        t = np.linspace(0, 1, 12)
        xs = inner[0] + t * (outer[0] - inner[0])
        ys = inner[1] + t * (outer[1] - inner[1]) - ident.brow_arch * a * np.sin(np.pi * t)
        pts = (np.stack([xs, ys], 1) * k).round().astype(np.int32)
        cv2.polylines(img, [pts], False, hair, L(ident.brow_thick * a), aa)
    # Nose: bridge sides, tip shadow and nostrils
    nx, ny = reg.nose_tip
    nw = abs(reg.nose_wing_l[0] - nx)
    nose_line = tuple(0.7 * c for c in skin)
    for sgn in (-1, 1):
        cv2.line(img, P((nx + sgn * 0.35 * nw, reg.eye_r[1] + 0.5 * reg.eye_half_h)),
                 P((nx + sgn * 0.55 * nw, ny - 0.5 * nw)), tuple(0.88 * c for c in skin), L(0.03 * a), aa)
        start = 90 if sgn < 0 else -90  # the wing's outer half-ellipse
        cv2.ellipse(img, P((nx + sgn * 0.75 * nw, ny)), (L(0.3 * nw), L(0.45 * nw)), 0, start, start + 180,
                    nose_line, L(0.025 * a), aa)
        cv2.ellipse(img, P((nx + sgn * 0.38 * nw, ny + 0.12 * nw)), (L(0.2 * nw), L(0.1 * nw)), 0, 0, 360,
                    (35, 35, 50), -1, aa)
    # Mouth: upper and lower lip polygons, and the dark line where they meet
    mr, ml = reg.mouth_corner_r, reg.mouth_corner_l
    my = mr[1]
    t = np.linspace(-1, 1, 21)
    mw = (ml[0] - mr[0]) / 2
    xs = nx + t * mw
    # upper lip: thickest either side of the centre (a Cupid's bow), thinning to the corners
    upper = my - (my - reg.upper_lip[1]) * (1 - t**2) ** 0.7 * (1 - 0.25 * np.cos(np.pi * t * 2) ** 2)
    lower = my + (reg.lower_lip[1] - my) * (1 - t**2) ** 0.8
    top = np.stack([xs, upper], 1)
    bottom = np.stack([xs[::-1], lower[::-1]], 1)
    middle = np.stack([xs, np.full_like(xs, my)], 1)
    cv2.fillPoly(img, [(np.vstack([top, middle[::-1]]) * k).round().astype(np.int32)],
                 tuple(0.9 * c for c in ident.lips), aa)
    cv2.fillPoly(img, [(np.vstack([middle, bottom]) * k).round().astype(np.int32)], ident.lips, aa)
    cv2.polylines(img, [(middle * k).round().astype(np.int32)], False, tuple(0.45 * c for c in ident.lips),
                  L(0.025 * a), aa)
    # Glasses: two rounded frames and a bridge
    if ident.glasses:
        frame_colour = (30, 30, 30)
        for eye in (reg.eye_r, reg.eye_l):
            cv2.ellipse(img, P(eye), (L(1.6 * reg.eye_half_w), L(1.5 * reg.eye_half_w * 0.8)), 0, 0, 360,
                        frame_colour, L(0.03 * a), aa)
        cv2.line(img, P((reg.eye_r[0] + 1.6 * reg.eye_half_w, reg.eye_r[1])),
                 P((reg.eye_l[0] - 1.6 * reg.eye_half_w, reg.eye_l[1])), frame_colour, L(0.03 * a), aa)

    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    small += _skin_texture(ident, size)[..., None]
    return Face(np.clip(small, 0, 255).round().astype(np.uint8), reg, "procedural")


def _skin_texture(ident: FaceIdentity, size: int) -> np.ndarray:
    """(H, W) float32 grey-level texture: fine pores plus soft blotches, fixed per identity."""
    rng = np.random.default_rng(ident.texture_seed)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 0.7)
    coarse = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), size / 24)
    fine /= fine.std() + 1e-6
    coarse /= coarse.std() + 1e-6
    return ident.texture_strength * (0.6 * fine + 0.4 * coarse)


# --------------------------------------------------------------------------- photo mode

def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    clf = cv2.CascadeClassifier(str(path))
    if clf.empty():
        raise FileNotFoundError(f"OpenCV Haar cascade {path} could not be loaded")
    return clf


def face_from_photo(path: str | Path, size: int) -> Face:
    """Crop, align and landmark a real face photo so SynthME can animate it.

    The largest frontal face found by OpenCV's bundled Haar cascade is cropped square (with a
    small margin) and resized to ``size``; the two eyes are found with the eye cascade inside the
    crop's upper half, and every other region is placed from the eyes with standard facial
    proportions (e.g. mouth about 1.1 inter-ocular distances below the eye line). Eye detection
    that fails is reported with a warning and the eyes are placed from the face box proportions.

    Raises ``FileNotFoundError`` when the file is missing or not an image and ``ValueError``
    naming the file when no face is found.
    """
    path = Path(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: missing or not a readable image")
    return face_from_image(image, size, source=str(path))


def face_from_image(image: np.ndarray, size: int, source: str = "<array>") -> Face:
    """:func:`face_from_photo` on an (H, W, 3) uint8 BGR array; ``source`` names it in errors."""
    grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    min_side = max(24, min(grey.shape) // 8)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
    if len(faces) == 0:
        raise ValueError(f"{source}: no face found by OpenCV's Haar cascade; give a frontal face photo")
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    # Square crop with a 10% margin, padded with edge pixels where it leaves the photo
    side = int(round(1.2 * max(w, h)))
    x0, y0 = int(x + w / 2 - side / 2), int(y + h / 2 - side / 2)
    pad = side
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = padded[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    crop_grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    upper = crop_grey[: side // 2 + side // 10]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.05, minNeighbors=4, minSize=(side // 12, side // 12))
    centres = [(ex + ew / 2, ey + eh / 2) for ex, ey, ew, eh in eyes]
    right = [c for c in centres if c[0] < side / 2]  # subject's right eye = image left
    left = [c for c in centres if c[0] >= side / 2]
    if right and left:
        er = min(right, key=lambda c: abs(c[0] - 0.32 * side) + abs(c[1] - 0.4 * side))
        el = min(left, key=lambda c: abs(c[0] - 0.68 * side) + abs(c[1] - 0.4 * side))
    else:
        warnings.warn(f"{source}: eyes not found by the Haar eye cascade; placing them from the face box",
                      stacklevel=2)
        er, el = (0.33 * side, 0.40 * side), (0.67 * side, 0.40 * side)
    scale = size / side
    img = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return Face(img, regions_from_eyes((er[0] * scale, er[1] * scale), (el[0] * scale, el[1] * scale)),
                source)


def regions_from_eyes(eye_r: Point, eye_l: Point) -> FaceRegions:
    """Place all regions from the two eye centres with average facial proportions.

    With ``d`` the inter-ocular distance, ``ex`` the unit vector from right to left eye and
    ``ey`` the perpendicular pointing down the face: brows 0.3 d above the eyes, nose tip 0.65 d
    below their midpoint, mouth corners 1.1 d below and 0.42 d either side, chin 1.65 d below.
    """
    r, l = np.asarray(eye_r, float), np.asarray(eye_l, float)
    d = float(np.linalg.norm(l - r))
    ex = (l - r) / d
    ey = np.array([-ex[1], ex[0]])
    mid = (r + l) / 2

    def at(u: float, v: float) -> Point:  # u along the eyes (towards subject's left), v down
        p = mid + u * d * ex + v * d * ey
        return float(p[0]), float(p[1])

    return FaceRegions(
        eye_r=at(-0.5, 0), eye_l=at(0.5, 0),
        eye_half_w=0.2 * d, eye_half_h=0.09 * d,
        brow_r_inner=at(-0.22, -0.32), brow_r_outer=at(-0.75, -0.26),
        brow_l_inner=at(0.22, -0.32), brow_l_outer=at(0.75, -0.26),
        nose_tip=at(0, 0.65), nose_wing_r=at(-0.2, 0.62), nose_wing_l=at(0.2, 0.62),
        mouth_corner_r=at(-0.42, 1.1), mouth_corner_l=at(0.42, 1.1),
        upper_lip=at(0, 1.02), lower_lip=at(0, 1.2),
        chin=at(0, 1.65), cheek_r=at(-0.5, 0.42), cheek_l=at(0.5, 0.42),
        face_center=at(0, 0.55), scale=1.0 * d,
    )
