"""Analyse one recording: read it, align the face, spot micro-movements, classify, explain.

The recording becomes a :class:`~mewb.data.sample.Sample` (a video file, or a frame folder with
its frame numbers) and every model input is made by ``mewb.data.pipeline.ClipPipeline``
with the run's own :class:`~mewb.data.preprocess.PreprocessConfig` (sampling, EVM, flow backend,
size, alignment on the onset frame), exactly as in training. Spotting (:mod:`mewb.spotting`)
works on its own face crops: one alignment transform for the whole recording, so head motion
stays in the frames as motion (which the spotter models and removes) rather than as crop jitter.
"""

from __future__ import annotations

import math
import shlex

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from mewb.data.common import DatasetError
from mewb.data.frames import VIDEO_EXTENSIONS, numbered_frames, read_image, select_indices
from mewb.data.sample import Sample
from mewb.predict.models import RunModel
from mewb.spotting import Interval, SpotConfig, spot

DETECTION_TRIES = 8  # frames tried, evenly spread, to find the face for the spotting crop


class NoFaceError(DatasetError):
    """No face in any of the frames tried."""


@dataclass
class Recording:
    """A video file or a frame folder, with its frame numbers and rate.

    ``numbers`` are the frame numbers a user gives with ``--onset`` etc.: 0-based positions in a
    video, the numbers in the file names of a frame folder.
    """

    path: Path
    numbers: tuple[int, ...]
    fps: float
    frame_paths: tuple[Path, ...] = ()  # a folder's files, in frame-number order
    fps_source: str = ""

    @property
    def is_video(self) -> bool:
        return not self.frame_paths

    def __len__(self) -> int:
        return len(self.numbers)

    def sample(self, onset: int | None, apex: int | None, offset: int | None, name: str = "") -> Sample:
        """The recording as a dataset sample (label unknown: -1)."""
        frames = (self.path,) if self.is_video else self.frame_paths
        return Sample(dataset="recording", subject="user", clip=name or self.path.stem, label=-1, emotion="unknown",
                      onset=onset, apex=apex, offset=offset, frames=frames, frame_numbers=self.numbers,
                      fps=self.fps)

    def iter_frames(self):
        """``(number, (H, W, 3) uint8 RGB)`` in order, decoding once."""
        if not self.is_video:
            for number, path in zip(self.numbers, self.frame_paths):
                yield number, read_image(path)
            return
        capture = cv2.VideoCapture(str(self.path))
        try:
            for number in self.numbers:
                ok, image = capture.read()
                if not ok:
                    raise DatasetError(f"{self.path}: frame {number} could not be decoded")
                yield number, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def open_recording(path: str | Path, fps: float | None = None) -> Recording:
    """A video file (OpenCV) or a folder of frames; errors name the file.

    The frame rate is ``fps`` when given, else the video's own; a frame folder needs ``fps``.
    """
    path = Path(path)
    if fps is not None and not (float(fps) > 0 and math.isfinite(float(fps))):
        raise ValueError(f"{path}: --fps must be a positive number of frames per second, got {fps:g}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file or frame folder")
    if path.is_dir():
        paths, numbers = numbered_frames(path)
        if not fps:
            raise ValueError(f"{path}: a frame folder has no frame rate; give it with --fps")
        return Recording(path, tuple(numbers), float(fps), tuple(paths), "--fps")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise ValueError(f"{path}: not a video file ({', '.join(sorted(VIDEO_EXTENSIONS))}) or a frame folder")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DatasetError(f"{path}: unreadable video (OpenCV cannot open the file or its codec)")
        stored = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = 0
        while capture.grab():  # count decodable frames; CAP_PROP_FRAME_COUNT is an estimate for some containers
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise DatasetError(f"{path}: unreadable video (no frame could be decoded; unsupported codec?)")
    if fps:
        rate, source = float(fps), "--fps"
    elif stored > 0:
        rate, source = stored, "video"
    else:
        raise ValueError(f"{path}: the video stores no frame rate; give it with --fps")
    return Recording(path, tuple(range(count)), rate, (), source)


def spotting_crops(recording: Recording, size: int, *, face_method: str = "haar") -> tuple[np.ndarray, dict]:
    """Grey face crops ``(N, size, size)`` uint8 of every frame, one alignment for the recording.

    The face is searched on up to ``DETECTION_TRIES`` frames spread over the recording, the first
    hit is used; :class:`NoFaceError` lists the frames tried.
    """
    from mewb.data.face import align_transform, apply_transform

    n = len(recording)
    tries = sorted(set(np.linspace(0, n - 1, min(DETECTION_TRIES, n)).round().astype(int).tolist()))
    wanted = {recording.numbers[i] for i in tries}
    alignment, used = None, None
    for number, image in recording.iter_frames():
        if number not in wanted:
            continue
        try:
            alignment = align_transform(image, size=(size, size), method=face_method,
                                        source=f"{recording.path} frame {number}")
            used = number
            break
        except DatasetError:
            continue
    if alignment is None:
        tried = ", ".join(str(recording.numbers[i]) for i in tries)
        raise NoFaceError(f"{recording.path}: no face found by the {face_method} detector in frames {tried}")
    crops = np.empty((n, size, size), np.uint8)
    for i, (_, image) in enumerate(recording.iter_frames()):
        crops[i] = cv2.cvtColor(apply_transform(image, alignment), cv2.COLOR_RGB2GRAY)
    info = {"detected_on_frame": used, "box": [int(v) for v in alignment.box], "eyes_found": alignment.eyes is not None}
    if alignment.eyes is not None:  # the eye line's height in the crop, as a fraction
        ys = [alignment.matrix[1] @ np.array([x, y, 1.0]) for x, y in alignment.eyes]
        info["eye_y"] = round(float(np.mean(ys)) / size, 4)
    return crops, info


def _eye_band(eye_y: float | None, default: tuple[float, float] | None) -> tuple[float, float] | None:
    """The default eye band moved to centre on the detected eye line (kept when no eyes were found)."""
    if default is None or eye_y is None:
        return default
    half = (default[1] - default[0]) / 2
    return (round(eye_y - half, 4), round(eye_y + half, 4))


@dataclass
class Analysis:
    """One analysed interval: probabilities ``(K,)``, the clip the model saw and its saliency overlay."""

    interval: Interval
    probabilities: np.ndarray  # (K,)
    frames: np.ndarray  # (T, H, W, 3) uint8, the face clip the model saw
    overlay: np.ndarray | None  # (T, S, S, 3) uint8 saliency over the face at display size (frames too, then)
    frame_labels: list[str]
    saliency_method: str
    seconds: float


@dataclass
class PredictResult:
    """Everything ``mewb predict`` reports for a recording."""

    recording: Recording
    model: RunModel
    intervals: list[Interval]
    analyses: list[Analysis]
    spotting: dict | None  # None when the interval was given; else signal, threshold, ...
    given: bool
    timings: dict = field(default_factory=dict)

    def chosen_interval_command(self) -> str:
        """The ``mewb predict`` line that analyses an interval the user picks (prefilled with the
        strongest rejected candidate, if any): what to run when nothing was spotted."""
        rejected = sorted((i for i in self.intervals if not i.accepted), key=lambda i: -i.score)
        n = self.recording.numbers
        frames = ((n[rejected[0].onset], n[rejected[0].apex], n[rejected[0].offset]) if rejected
                  else ("ONSET", "APEX", "OFFSET"))
        fps = f" --fps {self.recording.fps:g}" if self.recording.fps_source == "--fps" else ""
        return (f"mewb predict {shlex.quote(str(self.recording.path))} --run {shlex.quote(str(self.model.run_dir))}"
                f"{fps} --onset {frames[0]} --apex {frames[1]} --offset {frames[2]}")

    def to_json(self) -> dict:
        names = self.model.class_names
        fps = self.recording.fps
        out = {
            "input": str(self.recording.path),
            "frames": len(self.recording),
            "fps": fps,
            "fps_source": self.recording.fps_source,
            "frame_numbers": "0-based positions in the video" if self.recording.is_video
            else "the numbers in the frame file names",
            "run": str(self.model.run_dir),
            "variant": self.model.variant,
            "model_source": self.model.source,
            "model_kind": self.model.kind,
            "checkpoints": [str(p) for p in self.model.checkpoints],
            "class_names": names,
            "preprocess": self.model.preprocess.to_dict(),
            "interval_source": "given on the command line" if self.given else "spotted (mewb.spotting)",
            "intervals": [_interval_json(i, self.recording, fps) for i in self.intervals if i.accepted],
            "rejected": [_interval_json(i, self.recording, fps) for i in self.intervals if not i.accepted],
            "analyses": [],
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }
        for a in self.analyses:
            probs = {name: round(float(p), 6) for name, p in zip(names, a.probabilities)}
            out["analyses"].append({
                **_interval_json(a.interval, self.recording, fps),
                "probabilities": probs,
                "predicted": names[int(np.argmax(a.probabilities))],
                "saliency": a.saliency_method,
                "clip_frames": a.frame_labels,
            })
        if not self.analyses:
            out["finding"] = "no micro-expression interval spotted"
            out["analyse_chosen_interval"] = self.chosen_interval_command()
        if self.spotting is not None:
            s = self.spotting
            out["spotting"] = {
                "method": "second temporal difference of rigid-motion-free optical flow; "
                          "median + n_mad * MAD threshold",
                "k": s["k"], "baseline": round(s["baseline"], 5), "sigma": round(s["sigma"], 5),
                "threshold": round(s["threshold"], 5), "blink_frames": int(np.sum(s["blinking"])),
                "config": s["config"], "crop": s.get("crop", {}),
                "signal": [round(float(v), 5) for v in s["signal"]],
                "eye_signal": [round(float(v), 5) for v in s["eye_signal"]],
            }
        return out


def _interval_json(interval: Interval, recording: Recording, fps: float) -> dict:
    n = recording.numbers
    out = interval.to_dict(fps)
    out.update(onset=n[interval.onset], apex=n[interval.apex], offset=n[interval.offset])
    return out


def _index_of(recording: Recording, number: int, what: str) -> int:
    try:
        return recording.numbers.index(int(number))
    except ValueError:
        first, last = recording.numbers[0], recording.numbers[-1]
        raise ValueError(f"{recording.path}: --{what} {number} is not a frame of the recording "
                         f"({first}..{last})") from None


def given_interval(recording: Recording, onset, apex, offset) -> Interval:
    """The user's ``--onset/--apex/--offset`` (frame numbers) as an :class:`Interval` of indices."""
    if onset is None or offset is None:
        raise ValueError("give --onset and --offset (and optionally --apex), or none of them to spot automatically")
    a = _index_of(recording, onset, "onset")
    b = _index_of(recording, offset, "offset")
    if b <= a:
        raise ValueError(f"--offset {offset} must come after --onset {onset}")
    m = _index_of(recording, apex, "apex") if apex is not None else (a + b) // 2
    if not a <= m <= b:
        raise ValueError(f"--apex {apex} is not between --onset {onset} and --offset {offset}")
    return Interval(a, m, b, float("nan"), float("nan"), extra={"given": True})


def _clip_labels(sample: Sample, recording: Recording, config) -> list[str]:
    """Which recording frame each of the clip's ``T`` frames shows (``frame N``)."""
    sampling = "uniform" if config.evm else config.sampling
    indices, weights = select_indices(sample, recording.numbers, frames=config.clip_length, sampling=sampling)
    if weights is not None:
        indices = np.where(weights[:, None] < 0.5, indices, indices[:, ::-1])[:, 0]  # the nearer frame
    return [f"frame {recording.numbers[int(i)]}" for i in np.asarray(indices).ravel()[: config.clip_length]]


def saliency_for(model: RunModel, inputs: dict, target: int, method: str) -> np.ndarray:
    """Per-frame saliency ``(T, H, W)`` in [0, 1]: each model's map normalised, then averaged."""
    from mewb.explain import attribute, normalise_saliency, saliency_volume

    volumes = []
    for m in model.models:
        attribution = attribute(m, {k: inputs[k] for k in m.modalities}, method, target=target)
        frames = inputs["frames"].shape[2]
        volume = saliency_volume(attribution, frames=frames)[0]  # (T, H, W)
        volumes.append(normalise_saliency(volume))
    return np.mean(volumes, axis=0)


def display_faces(sample: Sample, config) -> np.ndarray:
    """The frames the model saw, cropped from the recording at display size: ``(T, S, S, 3)`` uint8.

    The same alignment (face found on the onset frame) and the same sampled frames as the model's
    input, but cut from the original frames at :data:`mewb.explain.DISPLAY_SIDE` pixels instead
    of the model's ``size``, without EVM: a reader sees the real face, not an upscaled 32-px crop.
    """
    from mewb.data.pipeline import ClipPipeline
    from mewb.explain.volume import DISPLAY_SIDE

    return ClipPipeline(replace(config, size=max(DISPLAY_SIDE, config.size), evm=False), ("frames",)).arrays(sample)["frames"]


def analyse(recording: Recording, interval: Interval, model: RunModel, *, saliency: str | None = "gradcam") -> Analysis:
    """Classify one interval with the run's preprocessing, and explain the predicted class."""
    from mewb.data.pipeline import ClipPipeline
    from mewb.explain import display_overlay

    started = time.perf_counter()
    config = model.preprocess
    n = recording.numbers
    sample = recording.sample(n[interval.onset], n[interval.apex], n[interval.offset])
    try:
        arrays = ClipPipeline(config, ("frames", "flow")).arrays(sample)
    except DatasetError as error:
        raise DatasetError(f"{error} (the face is aligned on the interval's onset frame {n[interval.onset]}, "
                           "as in training)") from None
    clip = arrays["frames"]  # (T, H, W, 3) uint8
    inputs = ClipPipeline.to_tensors(arrays, batch=True)  # frames (1, 3, T, H, W), flow (1, 3, T', H, W)
    probs = model.probabilities(inputs)[0]  # (K,)
    shown = None
    if saliency:  # drawn at display resolution: the face cropped again from the recording, the map bilinearly onto it
        volume = saliency_for(model, inputs, int(np.argmax(probs)), saliency)  # (T, H, W)
        clip, shown = display_overlay(display_faces(sample, config), volume)
    return Analysis(interval, probs, clip, shown, _clip_labels(sample, recording, config), saliency or "",
                    time.perf_counter() - started)


def predict_recording(
    path: str | Path | Recording,
    model: RunModel,
    *,
    onset: int | None = None,
    apex: int | None = None,
    offset: int | None = None,
    fps: float | None = None,
    analyse_all: bool = False,
    saliency: str | None = "gradcam",
    spot_config: SpotConfig | None = None,
    face_method: str = "haar",
    log=None,
) -> PredictResult:
    """Spot (unless an interval is given), classify and explain a recording (a path or an opened one).

    Raises ``FileNotFoundError``/``ValueError``/``DatasetError`` naming the file for unreadable
    input, no face, a recording shorter than the run's clip length, or no micro-movement found.
    """
    say = log or (lambda line: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    recording = path if isinstance(path, Recording) else open_recording(path, fps)
    need = max(model.preprocess.clip_length, 3)
    if len(recording) < need:
        raise ValueError(f"{recording.path}: {len(recording)} frames, fewer than the run's clip length of "
                         f"{model.preprocess.clip_length} frames (preprocess.clip_length in {model.run_dir / 'config.yaml'})")
    timings["read"] = time.perf_counter() - t0
    given = any(v is not None for v in (onset, apex, offset))
    details = None
    if given:
        intervals = [given_interval(recording, onset, apex, offset)]
    else:
        config = spot_config or SpotConfig()
        t1 = time.perf_counter()
        crops, crop_info = spotting_crops(recording, config.size, face_method=face_method)
        timings["align"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        config = replace(config, eye_band=_eye_band(crop_info.get("eye_y"), config.eye_band))
        intervals, details = spot(crops, recording.fps, config)
        details["crop"] = {**crop_info, "size": config.size}
        timings["spot"] = time.perf_counter() - t1
        accepted = [i for i in intervals if i.accepted]
        say(f"spotted {len(accepted)} micro-movement interval(s) in {len(recording)} frames "
            f"(threshold {details['threshold']:.3f} px, k = {details['k']} frames)")
        if not accepted:  # a finding, not a failure: the page shows the curve and why each candidate was rejected
            rejected = "; ".join(f"frames {recording.numbers[i.onset]}-{recording.numbers[i.offset]}: {i.reason}"
                                 for i in intervals) or "nothing rose above the threshold"
            say(f"no micro-expression interval spotted ({rejected})")
    chosen = [i for i in intervals if i.accepted]
    chosen = chosen if analyse_all else chosen[:1]
    analyses = []
    t1 = time.perf_counter()
    for interval in chosen:
        analyses.append(analyse(recording, interval, model, saliency=saliency))
    timings["classify_explain"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    return PredictResult(recording, model, intervals, analyses, details, given, timings)
