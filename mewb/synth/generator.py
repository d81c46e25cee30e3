"""The SynthME generator: configuration, timing, one clip, and a whole dataset written to disk.

A clip is ``frames`` neutral frames at ``fps`` into which one micro-expression is placed:
onset -> apex -> offset with a raised-cosine envelope (zero motion outside onset..offset, peak
at apex). Every frame is the neutral face warped once with ``cv2.remap`` by the sum of

    head pose (a similarity transform)  +  envelope(t) * expression field  +  blink(t) * AU45 field

then lit with a flicker gain, given sensor noise, and JPEG-encoded. The ground-truth ``motion``
is the magnitude of the expression term alone, in the frame's own pixel coordinates.

Randomness is split into independent streams per clip (numpy ``SeedSequence``): the identity
(per subject), the label assignment (per dataset), and per clip the expression (depends on the
label), the timing and amplitude, and the nuisances (neither depends on the label).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import io
import os
from pathlib import Path
import re
import zipfile

import cv2
import numpy as np

from mewb import jsonio
from mewb.synth.action_units import au_field, combine
from mewb.synth.emotions import BALANCE_PRESETS, CLASSES, Expression, draw_expression
from mewb.synth.faces import Face, face_from_photo, random_identity, render_face
from mewb.synth.nuisance import blink_envelope, flicker, head_motion, jpeg_encode, raised_cosine, sensor_noise

GENERATOR_VERSION = "synthme-1.1"  # 1.1: default amplitude 3.0 px at 128 (was 1.5), default size 128 (was 64)
SHEET_NAME = "CASME2-coding-synthme.xlsx"
SHEET_COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
                 "Estimated Emotion")
REFERENCE_SIZE = 128  # pixel lengths in SynthConfig are given for a 128-px face and scaled with size


class OutputExistsError(FileExistsError, ValueError):
    """The output folder already holds files; SynthME never overwrites a dataset."""


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a SynthME dataset. Same config + seed -> identical files.

    Defaults make the demo dataset: 8 subjects x 12 clips = 96 clips of 64 frames at 64 px,
    small enough to generate in a few seconds and to train 5 model variants with 8-fold LOSO on
    a CPU in minutes, large enough for 32 clips per class and a fold of 12 test clips.
    """

    # Dataset shape
    subjects: int = 8  # LOSO folds; 8 keeps a CPU demo to minutes
    clips_per_subject: int = 12  # 96 clips in all: 32 per class with 3 balanced classes
    clips: int = 0  # total clips spread unevenly over subjects, as in real sets (0: subjects x clips_per_subject)
    seed: int = 0  # the only source of randomness
    # Face crop side in pixels. 128: the face a report shows is the rendered one, and the demo's
    # flow computed at 128 px puts 0.45 of its magnitude inside the moving region against 0.28 at
    # 64 (the model still sees 32 px); 142 MB and 10 s to generate against 49 MB and 6 s at 64.
    size: int = 128
    classes: int = 3  # 3 = negative/positive/surprise (MEGC2019), 5 = CASME II words
    balance: str | tuple[float, ...] = "uniform"  # class weights, or "uniform"/"composite"/"casme2"
    photos: tuple[str, ...] = ()  # face photos to animate instead of procedural faces (cycled over subjects)
    # Timing
    frames: int = 64  # clip length T; 64 frames = 0.32 s at 200 fps, room for 40 moving frames + neutral
    fps: float = 200.0  # nominal frame rate, as CASME II
    min_duration_s: float = 1 / 25  # shortest onset->offset (8 frames at 200 fps)
    max_duration_s: float = 1 / 5  # longest onset->offset: the micro-expression upper bound
    # Expression amplitude
    # Peak expression displacement at a 128-px face (SynthME's default size): 0.75 px in the
    # demo's 32-px input (real micro-expressions move a few pixels on a 250-300 px face). At 1.5 the
    # demo's frames-only models stayed near UF1 0.6 (baseline 0.59-0.64 over seeds 0-2) and the
    # frames carried little; at 3.0 baseline 0.79, improved 0.76-0.79 (seed 0), while a linear
    # classifier on the apex frame alone stays at chance (UF1 0.325, chance 0.333: the leak test).
    amplitude_px: float = 3.0
    min_amplitude: float = 0.6  # each clip's peak is uniform in [min_amplitude, 1] * amplitude_px
    unilateral_prob: float = 0.2  # chance that a clip's lateral AUs happen on one side only
    # Nuisances (never depend on the label)
    head_drift_px: float = 1.0  # peak head translation at a 128-px face over a clip
    head_rotation_deg: float = 0.5  # peak in-plane head rotation over a clip
    blink_prob: float = 0.3  # chance of a blink (AU45) in a clip, in any class
    flicker: float = 0.02  # relative illumination flicker amplitude
    noise_sigma: float = 1.5  # sensor noise, grey levels (0-255)
    jpeg_quality: int = 90  # JPEG quality of the written frames
    grayscale: bool = False  # write grey frames in three equal channels (SAMM's camera is monochrome)
    # Appearance and expression style (the "shifted" setting of mewb.synth.presets changes these)
    texture_scale: float = 1.0  # multiplies each identity's skin-texture strength
    shading: float = 0.0  # a fixed directional lighting gradient per subject: +-shading of the grey level
    extra_au_prob: float = 0.0  # chance that a clip mixes in one weak AU of another class's families
    # Execution
    workers: int = 0  # clip-rendering processes: 0 = one per CPU core (demo 6.5 s -> 3.5 s on 2 cores), 1 = inline

    def validate(self) -> None:
        if self.classes not in CLASSES:
            raise ValueError(f"classes must be one of {sorted(CLASSES)}, got {self.classes}")
        if self.subjects < 1 or self.clips_per_subject < 1:
            raise ValueError("subjects and clips_per_subject must be at least 1")
        if self.clips and self.clips < self.subjects:
            raise ValueError(f"clips={self.clips} cannot give each of {self.subjects} subjects a clip")
        if not 0.0 <= self.extra_au_prob <= 1.0 or not 0.0 <= self.shading < 1.0 or self.texture_scale < 0:
            raise ValueError("need 0 <= extra_au_prob <= 1, 0 <= shading < 1 and texture_scale >= 0")
        if self.size < 32:
            raise ValueError(f"size must be at least 32 px, got {self.size}")
        longest = int(np.ceil(self.max_duration_s * self.fps)) + 4
        if self.frames < longest:
            raise ValueError(f"frames={self.frames} cannot hold a {self.max_duration_s}s movement at "
                             f"{self.fps} fps plus neutral frames; use at least {longest}")
        if not 0 < self.min_duration_s <= self.max_duration_s:
            raise ValueError("need 0 < min_duration_s <= max_duration_s")
        class_weights(self)

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASSES[self.classes]

    @property
    def total_clips(self) -> int:
        return self.clips or self.subjects * self.clips_per_subject


def clips_per_subject(config: SynthConfig) -> list[int]:
    """Clips of each subject: ``clips_per_subject`` each, or ``clips`` split unevenly (at least one each).

    Real sets are uneven (the MEGC2019 composite has 1 to 20 clips per subject): the split draws
    gamma(2) weights per subject from its own stream and rounds by largest remainder.
    """
    if not config.clips:
        return [config.clips_per_subject] * config.subjects
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 4]))
    weights = rng.gamma(2.0, 1.0, config.subjects)
    spare = config.clips - config.subjects
    exact = weights / weights.sum() * spare
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: spare - counts.sum()]:
        counts[i] += 1
    return (counts + 1).tolist()


def class_weights(config: SynthConfig) -> tuple[float, ...]:
    """The class weights a config asks for, checked against its number of classes."""
    if isinstance(config.balance, str):
        presets = BALANCE_PRESETS.get(config.balance)
        if presets is None:
            raise ValueError(f"unknown balance {config.balance!r}; valid: {', '.join(BALANCE_PRESETS)}")
        if config.classes not in presets:
            raise ValueError(f"balance {config.balance!r} is defined for {sorted(presets)} classes, "
                             f"not {config.classes}")
        weights = presets[config.classes]
    else:
        weights = tuple(float(w) for w in config.balance)
    if len(weights) != config.classes or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"balance needs {config.classes} non-negative weights, got {weights}")
    return tuple(float(w) for w in weights)


def parse_balance(text: str) -> str | tuple[float, ...]:
    """A ``--balance`` argument: a preset name, or comma-separated class weights ("250,109,83")."""
    if "," not in text:
        return text
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError:
        raise ValueError(f"balance {text!r} is neither a preset nor comma-separated numbers") from None


def class_counts(config: SynthConfig) -> list[int]:
    """Clips per class: the weights scaled to the total, rounded by largest remainder."""
    w = np.array(class_weights(config))
    total = config.total_clips
    exact = w / w.sum() * total
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


@dataclass
class SynthClip:
    """One synthetic clip with its ground truth.

    ``frames``: (T, H, W, 3) uint8, RGB, exactly as decoded from the written JPEGs.
    ``motion``: (T, H, W) float32, expression displacement magnitude in pixels per frame.
    ``mask``: (H, W) bool, where the apex motion exceeds 10% of its maximum.
    ``onset``/``apex``/``offset``: 1-based frame numbers (img<N>.jpg).
    """

    frames: np.ndarray
    motion: np.ndarray
    mask: np.ndarray
    onset: int
    apex: int
    offset: int
    action_units: str
    emotion: str
    label: int
    amplitude_px: float
    jpegs: list[bytes] = field(default_factory=list, repr=False)


def _scale(config: SynthConfig) -> float:
    return config.size / REFERENCE_SIZE


def _timing(rng: np.random.Generator, config: SynthConfig) -> tuple[int, int, int]:
    """0-based (onset, apex, offset) indices: a movement of 1/25-1/5 s placed among neutral frames."""
    lo = max(2, int(round(config.min_duration_s * config.fps)))
    hi = max(lo, int(round(config.max_duration_s * config.fps)))
    duration = int(rng.integers(lo, hi + 1))
    margin = min(4, (config.frames - duration - 1) // 2)
    onset = int(rng.integers(margin, config.frames - 1 - margin - duration + 1))
    offset = onset + duration
    apex = onset + int(np.clip(round(rng.uniform(0.3, 0.6) * duration), 1, duration - 1))
    return onset, apex, offset


def synthesize(face: Face, expression: Expression, label: int, config: SynthConfig,
               seed: np.random.SeedSequence) -> SynthClip:
    """Render one clip of ``face`` making ``expression``; ``seed`` drives timing and nuisances."""
    timing_rng, nuisance_rng, noise_rng = (np.random.default_rng(s) for s in seed.spawn(3))
    size, n = config.size, config.frames
    shape = (size, size)
    onset, apex, offset = _timing(timing_rng, config)
    amplitude = config.amplitude_px * _scale(config) * timing_rng.uniform(config.min_amplitude, 1.0)
    envelope = raised_cosine(n, onset, apex, offset)  # (T,), 1 at apex, 0 outside (onset, offset)
    expr = combine(expression.aus, face.regions, shape) * amplitude  # (H, W, 2) px at apex
    expr_mag = np.sqrt((expr**2).sum(-1))  # (H, W)

    reg = face.regions
    blink = au_field(45, reg, shape) * (2.0 * reg.eye_half_h)  # (H, W, 2), closes the eye fully
    blinks = blink_envelope(nuisance_rng, n, config.fps, config.blink_prob)  # (T,)
    poses = head_motion(nuisance_rng, n, reg.face_center, config.head_drift_px * _scale(config),
                        config.head_rotation_deg)  # (T, 2, 3)
    gains = flicker(nuisance_rng, n, config.fps, config.flicker)  # (T,)

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    image = face.image.astype(np.float32)
    frames = np.empty((n, size, size, 3), np.uint8)
    motion = np.empty((n, size, size), np.float32)
    jpegs = []
    for t in range(n):
        # Output pixel p shows face point q = pose^-1(p), displaced back by the face motion D(q)
        inv = cv2.invertAffineTransform(poses[t]).astype(np.float32)
        qx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
        qy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
        d = envelope[t] * expr + blinks[t] * blink  # (H, W, 2) in face coordinates
        d_q = cv2.remap(d, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frame = cv2.remap(image, (qx - d_q[..., 0]).astype(np.float32), (qy - d_q[..., 1]).astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        motion[t] = envelope[t] * cv2.remap(expr_mag, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if config.grayscale:  # luminance in three equal channels, noise added once per pixel
            frame = np.repeat(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[..., None], 3, axis=2)
            frame = frame * gains[t] + sensor_noise(noise_rng, frame.shape[:2], config.noise_sigma)[..., None]
        else:
            frame = frame * gains[t] + sensor_noise(noise_rng, frame.shape, config.noise_sigma)
        data = jpeg_encode(np.clip(frame, 0, 255).round().astype(np.uint8), config.jpeg_quality)
        jpegs.append(data)
        frames[t] = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]  # BGR -> RGB
    peak = motion[apex]
    mask = peak > 0.1 * peak.max()
    return SynthClip(frames, motion, mask, onset + 1, apex + 1, offset + 1, expression.code,
                     expression.emotion, label, float(amplitude), jpegs)


def _subject_face(config: SynthConfig, subject: int) -> Face:
    """Subject ``subject`` (0-based): a procedural identity, or one of ``config.photos``."""
    if config.photos:
        face = face_from_photo(config.photos[subject % len(config.photos)], config.size)
        return _styled(face, config, np.random.SeedSequence([config.seed, 5, subject]))
    return _procedural_face(config, np.random.SeedSequence([config.seed, 1, subject]),
                            np.random.SeedSequence([config.seed, 5, subject]), source=f"procedural:{subject + 1}")


def _procedural_face(config: SynthConfig, identity_seed: np.random.SeedSequence,
                     style_seed: np.random.SeedSequence, source: str = "procedural") -> Face:
    """A procedural face drawn from ``identity_seed``, in ``config``'s style (texture, lighting)."""
    identity = random_identity(np.random.default_rng(identity_seed))
    if config.texture_scale != 1.0:
        identity = dataclasses.replace(identity, texture_strength=identity.texture_strength * config.texture_scale)
    return _styled(dataclasses.replace(render_face(identity, config.size), source=source), config, style_seed)


def _styled(face: Face, config: SynthConfig, style_seed: np.random.SeedSequence) -> Face:
    """``face`` lit from one side when ``config.shading`` asks for it (the direction from ``style_seed``)."""
    if not config.shading:
        return face
    return dataclasses.replace(face, image=_shade(face.image, config.shading, np.random.default_rng(style_seed)))


def _shade(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 lit from one side: gain 1 +- ``strength`` along a random direction."""
    h, w = image.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (np.cos(angle) * (xs / (w - 1) - 0.5) + np.sin(angle) * (ys / (h - 1) - 0.5)) * 2  # about -1..1
    gain = 1.0 + strength * np.clip(ramp, -1, 1)
    return np.clip(image.astype(np.float32) * gain[..., None], 0, 255).round().astype(np.uint8)


def _manifest_config(config: SynthConfig) -> dict:
    """Every parameter that shapes the files; ``workers`` changes only the speed, so it is left out
    and the manifest stays byte-identical across machines."""
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "workers"}


def manifest_differences(root: str | Path, config: SynthConfig) -> list[str]:
    """How the SynthME folder ``root`` differs from what ``config`` would generate, one phrase each.

    Compares the folder's ``manifest.json`` (generator version and every setting) with this
    mewb's; an empty list means the folder is what ``generate_dataset(root, config)`` would write.
    """
    import json

    path = Path(root) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return ["no readable manifest.json"]
    out = []
    if manifest.get("generator") != GENERATOR_VERSION:
        out.append(f"generator {manifest.get('generator')} (this mewb: {GENERATOR_VERSION})")
    expected = json.loads(jsonio.dumps(_manifest_config(config)))
    found = manifest.get("config") or {}
    for key, value in expected.items():
        if found.get(key) != value:
            out.append(f"{key} {found.get(key)} (this mewb: {value})")
    return out


def make_clip(emotion: str = "positive", *, seed: int = 0, config: SynthConfig | None = None,
              face: Face | None = None) -> SynthClip:
    """One clip with its ground truth, as arrays, for notebooks and tests.

    Args:
        emotion: a class word of ``config.classes`` (3: negative/positive/surprise; 5: CASME II).
        seed: drives the face (unless given), the AUs, timing and nuisances.
        config: generation settings (size, amplitude, nuisances); default :class:`SynthConfig`.
        face: a :class:`~mewb.synth.faces.Face` to animate, e.g. from ``face_from_photo``.

    Returns:
        :class:`SynthClip`: ``frames`` (T, H, W, 3) uint8 RGB, ``motion`` (T, H, W) float32,
        ``mask`` (H, W) bool, ``onset``/``apex``/``offset`` (1-based), ``action_units``,
        ``emotion``, ``label``.
    """
    config = config or SynthConfig()
    config.validate()
    names = config.class_names
    if emotion not in names:
        raise ValueError(f"emotion {emotion!r} is not a {config.classes}-class word; valid: {', '.join(names)}")
    if face is None:
        face = _procedural_face(config, np.random.SeedSequence([seed, 1]), np.random.SeedSequence([seed, 5]))
    expr_seq, clip_seq = np.random.SeedSequence([seed, 3]).spawn(2)
    expression = draw_expression(emotion, np.random.default_rng(expr_seq), config.unilateral_prob,
                                 extra_au_prob=config.extra_au_prob)
    return synthesize(face, expression, names.index(emotion), config, clip_seq)


def example_clip(seed: int = 0, emotion: str = "positive", size: int = 64) -> SynthClip:
    """A ready-made clip for teaching: ``make_clip(emotion, seed=seed)`` at ``size`` px."""
    return make_clip(emotion, seed=seed, config=SynthConfig(size=size))


# --------------------------------------------------------------------------- the dataset

def _assign_labels(config: SynthConfig) -> list[int]:
    """Labels for all clips in subject-major order, shuffled independently of everything else."""
    labels = np.repeat(np.arange(config.classes), class_counts(config))
    np.random.default_rng(np.random.SeedSequence([config.seed, 2])).shuffle(labels)
    return labels.tolist()


def _clip_job(args: tuple) -> dict:
    """Render and write one clip; returns its sheet row (runs in a worker process or inline)."""
    out, config, face, subject, index, label = args
    names = config.class_names
    expr_seq, clip_seq = np.random.SeedSequence([config.seed, 3, subject, index]).spawn(2)
    expression = draw_expression(names[label], np.random.default_rng(expr_seq), config.unilateral_prob,
                                 extra_au_prob=config.extra_au_prob)
    clip = synthesize(face, expression, label, config, clip_seq)
    sub, name = f"sub{subject + 1:02d}", f"EP{index + 1:02d}_01"
    folder = out / sub / name
    folder.mkdir(parents=True)
    for t, data in enumerate(clip.jpegs, start=1):
        (folder / f"img{t}.jpg").write_bytes(data)
    gt = out / "ground_truth" / sub
    gt.mkdir(parents=True, exist_ok=True)
    # np.savez_compressed is byte-deterministic: its zip entries carry a fixed 1980 date
    np.savez_compressed(gt / f"{name}.npz", motion=clip.motion, mask=clip.mask, onset=np.int64(clip.onset),
                        apex=np.int64(clip.apex), offset=np.int64(clip.offset),
                        action_units=np.str_(clip.action_units), label=np.int64(label),
                        emotion=np.str_(clip.emotion), fps=np.float64(config.fps),
                        amplitude_px=np.float64(clip.amplitude_px))
    return {"Subject": subject + 1, "Filename": name, "OnsetFrame": clip.onset, "ApexFrame": clip.apex,
            "OffsetFrame": clip.offset, "Action Units": clip.action_units, "Estimated Emotion": clip.emotion,
            "label": label, "subject": sub, "face": face.source, "amplitude_px": round(clip.amplitude_px, 4)}


def generate_dataset(out: str | Path, config: SynthConfig | None = None) -> Path:
    """Write a SynthME dataset in the CASME II layout and return its folder.

    Layout: ``OUT/subNN/EPxx_01/img<N>.jpg``, ``OUT/CASME2-coding-synthme.xlsx``,
    ``OUT/ground_truth/subNN/EPxx_01.npz`` and ``OUT/manifest.json`` (see ``mewb/synth/README.md``).
    Refuses (``OutputExistsError``, a ``ValueError``) to write into an existing non-empty folder.
    """
    import pandas as pd

    config = config or SynthConfig()
    config.validate()
    out = Path(out)
    check_new_output(out)
    faces = [_subject_face(config, s) for s in range(config.subjects)]  # fails early on a bad photo
    labels = _assign_labels(config)
    out.mkdir(parents=True, exist_ok=True)
    per_subject = clips_per_subject(config)
    starts = np.concatenate([[0], np.cumsum(per_subject)]).astype(int)
    jobs = [(out, config, faces[s], s, j, labels[starts[s] + j])
            for s in range(config.subjects) for j in range(per_subject[s])]
    workers = config.workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_clip_job, jobs, chunksize=4))
    else:
        rows = [_clip_job(job) for job in jobs]

    sheet = out / SHEET_NAME
    pd.DataFrame(rows, columns=list(SHEET_COLUMNS)).to_excel(sheet, index=False, engine="openpyxl")
    _make_xlsx_deterministic(sheet)
    counts = {name: sum(r["label"] == i for r in rows) for i, name in enumerate(config.class_names)}
    manifest = {
        "generator": GENERATOR_VERSION,
        "seed": config.seed,
        "config": _manifest_config(config),
        "class_names": list(config.class_names),
        "class_counts": counts,
        "n_clips": len(rows),
        "layout": {"frames": "subNN/EPxx_01/img<N>.jpg", "sheet": SHEET_NAME,
                   "ground_truth": "ground_truth/subNN/EPxx_01.npz"},
        "clips": [{"subject": r["subject"], "clip": r["Filename"], "label": r["label"],
                   "emotion": r["Estimated Emotion"], "onset": r["OnsetFrame"], "apex": r["ApexFrame"],
                   "offset": r["OffsetFrame"], "action_units": r["Action Units"], "face": r["face"],
                   "amplitude_px": r["amplitude_px"]} for r in rows],
    }
    (out / "manifest.json").write_text(jsonio.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def check_new_output(out: Path) -> None:
    """Refuse (``OutputExistsError``) a SynthME output that exists and is a file or a non-empty folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputExistsError(f"{out} already exists and is not empty; SynthME does not overwrite, "
                                "choose a new folder")


def _make_xlsx_deterministic(path: Path) -> None:
    """Rewrite an .xlsx with fixed zip dates and document properties.

    Hand-written because openpyxl stamps the current time into every zip entry and into
    docProps/core.xml, and has no option to stop it; without this two runs differ.
    """
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())
