"""Frame folders and video files, natural order, temporal sampling, and ``load_clip``.

``load_clip(sample, ...)`` is the one call the torch Dataset makes: it reads a sample's frames,
picks ``T`` of them from the onset..offset span, aligns and crops the face once per clip (raw
layouts only), resizes, and returns ``(T, H, W, 3)`` uint8.

Shapes: a frame is ``(H, W, 3)`` uint8 RGB; a clip is ``(T, H, W, 3)`` uint8; grey clips repeat the
grey channel three times so every clip has the same shape.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Sequence

import cv2
import numpy as np

from mewb.data.common import DatasetError
from mewb.data.sample import Sample

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv"})

Sampling = Literal["uniform", "interpolate", "apex_window", "onset_apex"]
Colour = Literal["grey", "rgb"]
SAMPLINGS: tuple[str, ...] = ("uniform", "interpolate", "apex_window", "onset_apex")

_DIGITS = re.compile(r"(\d+)")


def natural_key(path: str | Path) -> tuple:
    """Sort key putting ``img2`` before ``img10`` (a ``Path`` sorts by its file name, a ``str`` whole).

    A three-line key (split the name into digit and non-digit runs, compare digit runs as ints)
    instead of a dependency on ``natsort``: frame names are simple ``<prefix><number>.<ext>``.
    """
    name = path.name if isinstance(path, Path) else str(path)
    return tuple(int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(name))


def frame_number(path: str | Path) -> int:
    """The frame number in a file name: the last digit run of the stem.

    ``img46.jpg`` -> 46, ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562,
    ``reg_image046869.bmp`` -> 46869.
    """
    runs = _DIGITS.findall(Path(path).stem)
    if not runs:
        raise DatasetError(f"{path}: no frame number in the file name")
    return int(runs[-1])


def list_frames(folder: str | Path) -> list[Path]:
    """The image files in ``folder`` in natural order (hidden files and other files ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: frame folder not found")
    files = [
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=natural_key)


def numbered_frames(folder: str | Path) -> tuple[tuple[Path, ...], tuple[int, ...]]:
    """``(paths, numbers)`` of a frame folder, ordered by frame number.

    Raises :class:`DatasetError` for an empty folder, two files with one number, or an empty file
    (a truncated copy; it cannot be decoded).
    """
    paths = list_frames(folder)
    if not paths:
        raise DatasetError(f"{folder}: no image frames in the folder")
    numbers = [frame_number(p) for p in paths]
    order = np.argsort(numbers, kind="stable")
    paths = [paths[i] for i in order]
    numbers = [numbers[i] for i in order]
    for a, b, pa, pb in zip(numbers, numbers[1:], paths, paths[1:]):
        if a == b:
            raise DatasetError(f"{folder}: frames {pa.name} and {pb.name} share frame number {a}")
    for p in paths:
        if p.stat().st_size == 0:
            raise DatasetError(f"{p}: unreadable image (empty file)")
    return tuple(paths), tuple(numbers)


def frame_gaps(numbers: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of frame numbers missing from a clip, as ``(first, last)`` missing number pairs.

    ``(1, 2, 3, 6, 7)`` -> ``[(4, 5)]``. Frames are read by list position, so a gap inside the
    annotated span silently shortens the clip in time and shifts every sampled frame.
    """
    return [(a + 1, b - 1) for a, b in zip(numbers, numbers[1:]) if b - a > 1]


def check_gaps(where: str, folder: Path, numbers: Sequence[int], onset: int, offset: int, report) -> None:
    """Missing frames: inside ``onset..offset`` (where every sampling reads) a :class:`DatasetError`
    (the reader's ``strict`` decides: error, or a listed skip); outside it a note in ``report``."""
    def shown(gaps: list[tuple[int, int]]) -> str:
        runs = [str(a) if a == b else f"{a}-{b}" for a, b in gaps]
        return ", ".join(runs[:4]) + (f" and {len(runs) - 4} more gaps" if len(runs) > 4 else "")

    def word(gaps: list[tuple[int, int]]) -> str:
        return "frame" if len(gaps) == 1 and gaps[0][0] == gaps[0][1] else "frames"

    gaps = frame_gaps(numbers)
    inside = [(a, b) for a, b in gaps if b >= onset and a <= offset]
    if inside:
        raise DatasetError(f"{where}: {word(inside)} {shown(inside)} missing from {folder} between onset {onset} and "
                           f"offset {offset} (sampling would cross the gap and misplace every frame in time)")
    if gaps:
        report.note(f"{where}: {word(gaps)} {shown(gaps)} missing from {folder}, outside onset..offset (not read)")


def read_image(path: str | Path) -> np.ndarray:
    """One image as ``(H, W, 3)`` uint8 RGB; :class:`DatasetError` naming the file if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: unreadable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_video(path: str | Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Frames of a video file as ``(T, H, W, 3)`` uint8 RGB (all, or the 0-based ``indices``)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: video file not found")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DatasetError(f"{path}: unreadable video")
    wanted = None if indices is None else set(int(i) for i in indices)
    frames: dict[int, np.ndarray] = {}
    try:
        position = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if wanted is None or position in wanted:
                frames[position] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            position += 1
            if wanted is not None and position > max(wanted, default=-1):
                break
    finally:
        capture.release()
    if position == 0:
        raise DatasetError(f"{path}: no frames could be decoded")
    if indices is None:
        return np.stack([frames[i] for i in sorted(frames)])
    missing = sorted(set(int(i) for i in indices) - set(frames))
    if missing:
        raise DatasetError(f"{path}: frames {missing} are past the end of the video ({position} frames)")
    return np.stack([frames[int(i)] for i in indices])


def video_frame_count(path: str | Path) -> int:
    """The number of frames OpenCV reports for a video file."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DatasetError(f"{path}: unreadable video")
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


# ---------------------------------------------------------------------------------------------
# Temporal sampling (positions are indices into a span of n frames)


def uniform_positions(n: int, frames: int) -> np.ndarray:
    """``frames`` evenly spaced positions over ``0..n-1`` (fractional), first and last included."""
    if n < 1 or frames < 1:
        raise ValueError(f"need n >= 1 and frames >= 1, got n={n}, frames={frames}")
    if frames == 1:
        return np.array([(n - 1) / 2.0])
    return np.linspace(0.0, n - 1, frames)


def sample_uniform(clip: np.ndarray, frames: int) -> np.ndarray:
    """``(n, ...) -> (frames, ...)``: nearest frames at evenly spaced positions (repeats if n < T)."""
    idx = np.rint(uniform_positions(len(clip), frames)).astype(int)
    return clip[idx]


def sample_interpolate(clip: np.ndarray, frames: int) -> np.ndarray:
    """``(n, ...) -> (frames, ...)``: linear blend of the two frames around each position.

    Returns the input dtype; uint8 is rounded.
    """
    positions = uniform_positions(len(clip), frames)
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, len(clip) - 1)
    weight = (positions - lo).reshape((-1,) + (1,) * (clip.ndim - 1))
    mixed = (1.0 - weight) * clip[lo].astype(np.float64) + weight * clip[hi].astype(np.float64)
    if np.issubdtype(clip.dtype, np.integer):
        mixed = np.rint(mixed)
    return mixed.astype(clip.dtype)


def _span_indices(sample: Sample, numbers: Sequence[int]) -> tuple[int, int, int]:
    """Indices (into the frame list) of onset, apex and offset; the whole folder when not given."""
    numbers = list(numbers)

    def index_of(number: int | None, default: int, what: str) -> int:
        if number is None:
            return default
        if number in numbers:
            return numbers.index(number)
        # Nearest frame only for an estimated apex; a missing annotated frame is an error.
        if what == "apex" and sample.apex_estimated:
            return int(np.argmin([abs(n - number) for n in numbers]))
        raise DatasetError(f"{sample.key}: {what} frame {number} is not among the clip's frames")

    first = index_of(sample.onset, 0, "onset")
    last = index_of(sample.offset, len(numbers) - 1, "offset")
    apex = index_of(sample.apex, (first + last) // 2, "apex")
    if last < first:
        raise DatasetError(f"{sample.key}: onset {sample.onset} is after offset {sample.offset}")
    return first, apex, last


def select_indices(
    sample: Sample, numbers: Sequence[int], *, frames: int, sampling: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which frames (indices into ``numbers``) a clip needs, and blend weights for interpolation.

    Returns ``(indices, None)`` for picking modes, or ``(lo_hi, weights)`` for ``interpolate``,
    where ``lo_hi`` is ``(frames, 2)`` and each output frame is
    ``(1 - w) * frame[lo] + w * frame[hi]``.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling {sampling!r}; valid: {', '.join(SAMPLINGS)}")
    first, apex, last = _span_indices(sample, numbers)
    n = last - first + 1
    if sampling == "uniform":
        return first + np.rint(uniform_positions(n, frames)).astype(int), None
    if sampling == "interpolate":
        positions = uniform_positions(n, frames)
        lo = np.floor(positions).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        return first + np.stack([lo, hi], axis=1), positions - lo
    if sampling == "apex_window":
        # ``frames`` consecutive frames centred on the apex, clamped to the clip's frames
        # (edge frames repeat when the folder is shorter than the window).
        start = apex - frames // 2
        return np.clip(np.arange(start, start + frames), 0, len(numbers) - 1), None
    # onset_apex
    if frames != 2:
        raise ValueError(f"sampling='onset_apex' gives exactly 2 frames, got frames={frames}")
    return np.array([first, apex]), None


# ---------------------------------------------------------------------------------------------
# The clip loader


def _to_colour(frame: np.ndarray, colour: str) -> np.ndarray:
    if colour == "rgb":
        return frame
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[:, :, None], 3, axis=2)


def load_clip(
    sample: Sample,
    *,
    frames: int = 16,
    size: tuple[int, int] = (112, 112),
    sampling: Sampling = "uniform",
    colour: Colour = "grey",
    align: bool = True,
    face_method: str = "haar",
) -> np.ndarray:
    """Read one sample as a fixed-length clip.

    Args:
        sample: a reader's ``Sample``; its ``frames`` are a frame folder's files (with
            ``frame_numbers``), or a single video file (frame numbers are then 0-based frame
            positions), or it has a ``flow_image`` (returned as a clip of one frame).
        frames: ``T``, the number of output frames.
        size: ``(H, W)`` of the output frames.
        sampling: ``uniform`` (nearest frames at ``T`` evenly spaced positions over
            onset..offset), ``interpolate`` (linear blend of the neighbouring frames at those
            positions), ``apex_window`` (``T`` consecutive frames centred on the apex) or
            ``onset_apex`` (the onset and apex frames; ``T`` must be 2).
        colour: ``grey`` (grey repeated to three channels) or ``rgb``.
        align: detect the face on the onset frame, level the eye line and crop; the same
            transform is applied to every frame, so the clip's motion is kept. Skipped for
            layouts that are already cropped (``sample.extra["cropped"]``).
        face_method: ``haar`` (OpenCV cascades) or ``mtcnn`` (needs ``facenet_pytorch``).

    Returns:
        ``(T, H, W, 3)`` uint8. ``T`` is 1 for a flow-image sample.

    Raises:
        DatasetError: naming the file, for unreadable frames, missing annotated frames, or a
            face that cannot be found.
    """
    if colour not in ("grey", "rgb"):
        raise ValueError(f"unknown colour {colour!r}; valid: grey, rgb")
    height, width = size
    if sample.flow_image is not None:
        image = cv2.resize(read_image(sample.flow_image), (width, height), interpolation=cv2.INTER_AREA)
        return image[None]  # (1, H, W, 3); flow images keep their (u, v, strain) channels

    if not sample.frames:
        raise DatasetError(f"{sample.key}: the sample has no frames")
    is_video = len(sample.frames) == 1 and Path(sample.frames[0]).suffix.lower() in VIDEO_EXTENSIONS
    if is_video:
        numbers = sample.frame_numbers or tuple(range(video_frame_count(sample.frames[0])))
    else:
        numbers = sample.frame_numbers or tuple(frame_number(p) for p in sample.frames)
    indices, weights = select_indices(sample, numbers, frames=frames, sampling=sampling)

    # Read each needed frame once, plus the onset frame for alignment.
    onset_index = _span_indices(sample, numbers)[0]
    needed = sorted(set(np.asarray(indices).ravel().tolist()) | {onset_index})
    if is_video:
        stack = read_video(sample.frames[0], [int(numbers[i]) for i in needed])
        images = dict(zip(needed, stack))
    else:
        images = {i: read_image(sample.frames[i]) for i in needed}

    if align and not sample.extra.get("cropped", False):
        from mewb.data.face import align_transform, apply_transform

        source = sample.frames[0] if is_video else sample.frames[onset_index]
        transform = align_transform(images[onset_index], size=size, method=face_method, source=source)
        images = {i: apply_transform(img, transform) for i, img in images.items()}
    else:
        images = {
            i: cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA) for i, img in images.items()
        }

    if weights is None:
        clip = np.stack([images[int(i)] for i in indices])  # (T, H, W, 3)
    else:
        lo = np.stack([images[int(i)] for i in indices[:, 0]]).astype(np.float32)
        hi = np.stack([images[int(i)] for i in indices[:, 1]]).astype(np.float32)
        w = weights.astype(np.float32)[:, None, None, None]
        clip = np.rint((1.0 - w) * lo + w * hi).astype(np.uint8)  # (T, H, W, 3)
    return np.stack([_to_colour(f, colour) for f in clip])
