"""A synthetic recording with a known micro-expression, to try ``mewb predict`` and to test it.

:func:`synthetic_recording` renders a SynthME clip (a procedural face, or a photo animated with
``face_from_image``) long enough to hold neutral frames around one micro-expression, with head
drift and blinks, places the face on a larger canvas as a camera would frame it, and writes an
MP4 (or a frame folder). It returns the ground truth as 0-based frame positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class SyntheticRecording:
    path: Path
    onset: int  # 0-based frame positions of the planted micro-expression
    apex: int
    offset: int
    fps: float
    frames: int
    emotion: str
    action_units: str


def synthetic_recording(
    path: str | Path,
    *,
    seed: int = 0,
    emotion: str = "positive",
    frames: int = 200,
    fps: float = 200.0,
    face_size: int = 128,
    photo: np.ndarray | None = None,
    blink_prob: float = 1.0,
    head_drift_px: float = 2.0,
    folder: bool = False,
) -> SyntheticRecording:
    """Write a recording of ``frames`` frames at ``fps`` with one planted micro-expression.

    Args:
        path: the MP4 file to write (``mp4v``), or the folder of ``img<N>.png`` frames with ``folder``.
        photo: an ``(H, W, 3)`` uint8 RGB face photo to animate (e.g. ``skimage.data.astronaut()``);
            default a procedural SynthME face.
        blink_prob, head_drift_px: SynthME's nuisances (``SynthConfig``); blinks and drift are on
            by default, since a spotter has to live with them.
    """
    from mewb.synth import SynthConfig, make_clip
    from mewb.synth.faces import face_from_image

    config = SynthConfig(size=face_size, frames=frames, fps=fps, blink_prob=blink_prob, head_drift_px=head_drift_px)
    face = face_from_image(np.ascontiguousarray(photo[..., ::-1]), face_size) if photo is not None else None
    clip = make_clip(emotion, seed=seed, config=config, face=face)
    pad_y, pad_x = face_size * 3 // 8, face_size // 2  # a camera frame around the face
    video = np.pad(clip.frames, ((0, 0), (pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="edge")  # (T, H, W, 3)
    path = Path(path)
    if folder:
        path.mkdir(parents=True, exist_ok=False)
        for i, frame in enumerate(video, start=1):
            cv2.imwrite(str(path / f"img{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    else:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (video.shape[2], video.shape[1]))
        if not writer.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write MP4 (mp4v) here")
        for frame in video:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    return SyntheticRecording(path, clip.onset - 1, clip.apex - 1, clip.offset - 1, fps, frames, clip.emotion,
                              clip.action_units)
