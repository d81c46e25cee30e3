"""Face detection, eye-line levelling and cropping, computed once per clip.

Micro-expressions are movements of a few pixels, so the crop must not jitter from frame to frame:
``align_transform`` detects the face (and the eyes) on the onset frame only and returns one affine
transform; ``apply_transform`` applies that same transform to every frame of the clip.

Detectors:

- ``haar`` (default): OpenCV's bundled Haar cascades (``haarcascade_frontalface_default.xml`` for
  the face, ``haarcascade_eye.xml`` inside the face's upper half for the eyes). Without two eyes
  the crop is still made, unrotated, and ``Alignment.eyes`` is ``None``.
- ``mtcnn``: facenet-pytorch's MTCNN box and eye landmarks, when ``facenet_pytorch`` is installed.

No face found is a :class:`~mewb.data.common.DatasetError` naming the frame; no box is ever
invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from mewb.data.common import DatasetError

FACE_METHODS = ("haar", "mtcnn")


@dataclass(frozen=True)
class Alignment:
    """One clip's face transform: ``matrix`` (2, 3) maps source pixels to the ``size`` output."""

    matrix: np.ndarray
    size: tuple[int, int]  # (H, W) of the output
    box: tuple[int, int, int, int]  # the detected face (x, y, w, h) on the onset frame
    eyes: tuple[tuple[float, float], tuple[float, float]] | None  # (left, right) centres
    angle: float  # degrees the frame is rotated to level the eyes


@lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load its Haar cascade {path}")
    return cascade


def detect_face_haar(image: np.ndarray) -> tuple[tuple[int, int, int, int] | None, tuple | None]:
    """The largest face ``(x, y, w, h)`` and the two eye centres (or ``None``) in an RGB image."""
    grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    side = min(grey.shape)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, side // 8),) * 2
    )
    if len(faces) == 0:
        return None, None
    x, y, w, h = (int(v) for v in max(faces, key=lambda f: f[2] * f[3]))
    upper = grey[y : y + h // 2, x : x + w]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper, scaleFactor=1.1, minNeighbors=5, minSize=(max(8, w // 10),) * 2
    )
    centres = [(x + ex + ew / 2.0, y + ey + eh / 2.0) for ex, ey, ew, eh in eyes]
    left = [c for c in centres if c[0] < x + w / 2.0]
    right = [c for c in centres if c[0] >= x + w / 2.0]
    if not left or not right:
        return (x, y, w, h), None
    # The lowest hit on each side: the eye cascade also fires on eyebrows, which sit above the eye.
    pick = lambda side: max(side, key=lambda c: c[1])  # noqa: E731
    return (x, y, w, h), (pick(left), pick(right))


def detect_face_mtcnn(image: np.ndarray) -> tuple[tuple[int, int, int, int] | None, tuple | None]:
    """Box and eye landmarks from facenet-pytorch's MTCNN (optional dependency)."""
    try:
        from facenet_pytorch import MTCNN
    except ImportError:
        raise ImportError(
            "face_method='mtcnn' needs the optional package facenet-pytorch "
            "(pip install facenet-pytorch); the default face_method='haar' needs nothing extra"
        ) from None
    boxes, _, landmarks = MTCNN(keep_all=True, device="cpu").detect(image, landmarks=True)
    if boxes is None or len(boxes) == 0:
        return None, None
    best = int(np.argmax([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]))
    x0, y0, x1, y1 = boxes[best]
    left, right = landmarks[best][0], landmarks[best][1]
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), (tuple(left), tuple(right))


def align_transform(
    image: np.ndarray,
    *,
    size: tuple[int, int],
    method: str = "haar",
    margin: float = 1.1,
    source: str | Path = "frame",
) -> Alignment:
    """Detect the face on ``image`` (the onset frame, RGB) and return the clip's transform.

    The eye line is rotated level about the face centre, then a square of ``margin`` x the face
    box side is scaled to ``size`` = ``(H, W)``. ``source`` names the frame in errors.
    """
    if method == "haar":
        box, eyes = detect_face_haar(image)
    elif method == "mtcnn":
        box, eyes = detect_face_mtcnn(image)
    else:
        raise ValueError(f"unknown face method {method!r}; valid: {', '.join(FACE_METHODS)}")
    if box is None:
        raise DatasetError(f"{source}: no face found by the {method} detector")
    x, y, w, h = box
    centre = (x + w / 2.0, y + h / 2.0)
    angle = 0.0
    if eyes is not None:
        (lx, ly), (rx, ry) = eyes
        angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    rotate = np.vstack([cv2.getRotationMatrix2D(centre, angle, 1.0), [0.0, 0.0, 1.0]])
    height, width = size
    side = margin * max(w, h)
    sx, sy = width / side, height / side
    crop = np.array(
        [[sx, 0.0, width / 2.0 - sx * centre[0]], [0.0, sy, height / 2.0 - sy * centre[1]], [0, 0, 1]]
    )
    matrix = (crop @ rotate)[:2]
    return Alignment(matrix=matrix, size=(height, width), box=box, eyes=eyes, angle=angle)


def apply_transform(image: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Warp one frame with the clip's transform: ``(h, w, 3) -> (H, W, 3)``, same dtype."""
    height, width = alignment.size
    return cv2.warpAffine(
        image, alignment.matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
