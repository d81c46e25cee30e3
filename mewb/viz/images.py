"""Pictures inside figures and pages as encoded images, not as numbers.

A ``go.Image(z=...)`` trace carries every pixel as JSON text (about 12 bytes a pixel): a 160-px RGB
face is ~300 kB in a page, and the ablation report's saliency gallery of 30 of them was 3.2 MB. The
same picture as a PNG data URI is a few kB to a few tens of kB and draws identically.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np
import plotly.graph_objects as go


def data_uri(image: np.ndarray, *, fmt: str = "png", quality: int = 85) -> str:
    """``(H, W, 3)`` RGB (or ``(H, W)`` grey) uint8 -> a ``data:image/png`` (lossless) or
    ``data:image/jpeg`` (``quality``) URI."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ValueError(f"expected an (H, W, 3) or (H, W) uint8 image, got {image.dtype} {image.shape}")
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if fmt == "png":
        ok, buffer = cv2.imencode(".png", bgr)
    elif fmt == "jpeg":
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError(f"{fmt} encoding failed")
    return f"data:image/{fmt};base64," + base64.b64encode(buffer.tobytes()).decode()


def image_trace(image: np.ndarray, *, fmt: str = "png", **kwargs) -> go.Image:
    """A plotly image trace of ``(H, W, 3)`` RGB uint8 pixels, carried as a PNG (lossless; ``fmt="jpeg"``
    for busy pictures such as saliency overlays, where a PNG hardly compresses).

    Pixel ``(row, col)`` sits at ``x = col, y = row`` exactly as with ``go.Image(z=image)``, so
    shapes and scatter traces drawn over it keep their place.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return go.Image(source=data_uri(image, fmt=fmt), **kwargs)
