"""Face detection and one-transform-per-clip alignment, on a real photograph."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from mewb.data.common import DatasetError
from mewb.data.face import align_transform, apply_transform, detect_face_haar
from mewb.data.frames import load_clip
from mewb.data.sample import Sample


def _rotated(image, degrees):
    matrix = cv2.getRotationMatrix2D((256, 256), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (512, 512), borderMode=cv2.BORDER_REPLICATE)


def _shifted(image, dx):
    matrix = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(image, matrix, (512, 512), borderMode=cv2.BORDER_REPLICATE)


def test_detects_the_face_and_eyes():
    box, eyes = detect_face_haar(astronaut())
    x, y, w, h = box
    # Eileen Collins' face: roughly x 180-270, y 60-160 in the 512x512 photograph.
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 150 and 70 < w < 130
    (lx, ly), (rx, ry) = eyes
    assert lx < rx and abs(ly - ry) < 5


def test_eye_line_is_levelled():
    level = align_transform(astronaut(), size=(64, 64))
    tilted = align_transform(_rotated(astronaut(), 10), size=(64, 64))  # counter-clockwise
    assert abs(level.angle) < 4 and tilted.eyes is not None and tilted.angle < -2
    out = apply_transform(astronaut(), level)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8


def test_one_transform_per_clip_keeps_the_motion(tmp_path):
    paths = []
    for k in range(3):  # the head moves 3 px right per frame
        paths.append(tmp_path / f"img{k + 1}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(_shifted(astronaut(), 3 * k), cv2.COLOR_RGB2BGR))
    sample = Sample(dataset="casme2", subject="sub01", clip="EP01", label=0, emotion="happiness", onset=1, apex=2,
                    offset=3, frames=tuple(paths), frame_numbers=(1, 2, 3), extra={"cropped": False})
    clip = load_clip(sample, frames=3, size=(96, 96), colour="grey").astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(clip[0, ..., 0], clip[2, ..., 0])
    scale = align_transform(astronaut(), size=(96, 96)).matrix[0, 0]
    # Re-detecting per frame would re-centre the face and cancel the motion (dx ~ 0).
    assert dx == pytest.approx(6 * scale, abs=0.5) and abs(dy) < 0.5


def test_no_face_is_an_error_naming_the_frame(tmp_path):
    path = tmp_path / "img1.png"
    cv2.imwrite(str(path), np.full((64, 64, 3), 128, np.uint8))
    sample = Sample(dataset="samm", subject="006", clip="006_1_2", label=0, emotion="Anger", frames=(path,),
                    extra={"cropped": False})
    with pytest.raises(DatasetError, match=r"img1.png: no face found by the haar detector"):
        load_clip(sample, frames=1, size=(32, 32))
    # Cropped layouts skip detection, and so does align=False.
    cropped = Sample(**{**sample.__dict__, "extra": {"cropped": True}})
    assert load_clip(cropped, frames=1, size=(32, 32)).shape == (1, 32, 32, 3)
    assert load_clip(sample, frames=1, size=(32, 32), align=False).shape == (1, 32, 32, 3)


@pytest.mark.skipif(importlib.util.find_spec("facenet_pytorch") is not None, reason="facenet_pytorch installed")
def test_mtcnn_needs_its_optional_package():
    with pytest.raises(ImportError, match="pip install facenet-pytorch"):
        align_transform(astronaut(), size=(64, 64), method="mtcnn")
    with pytest.raises(ValueError, match="valid: haar, mtcnn"):
        align_transform(astronaut(), size=(64, 64), method="dlib")
