"""SMIC (Li et al., "A Spontaneous Micro-expression Database: Inducement, Collection and Baseline",
FG 2013), read exactly as published in its cropped release.

Layout: ``SMIC_all_cropped/HS/s1/micro/negative/s1_ne_01/<frames>`` for the three cameras
``HS`` (100 fps), ``VIS`` and ``NIR`` (25 fps); ``root`` may be the folder holding
``SMIC_all_cropped/``, that folder, or a camera folder. The label is the emotion folder
(negative, positive, surprise); ``non_micro/`` clips are not micro-expressions and are not read.

Quirks handled: subjects are ``s1`` on disk and ``s01`` in MEGC files, so ``Sample.subject`` is
``s01`` and ``Sample.clip`` ``s01_ne_01`` (the on-disk names are kept in ``extra``). Each folder
holds the onset..offset span, so onset and offset are its first and last frame numbers; the
original annotations give no apex, so the apex is the midpoint and ``apex_estimated=True``.
The release is already cropped (``cropped=True``).
"""

from __future__ import annotations

import re
from pathlib import Path

from mewb.data.common import DatasetError, ReadReport, canonical_clip, canonical_subject, require_dir
from mewb.data.frames import check_gaps, natural_key, numbered_frames
from mewb.data.labels import label_index
from mewb.data.sample import Sample

FPS = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}
_SUBJECT_DIR = re.compile(r"s\d+", re.IGNORECASE)


def resolve_camera_root(root: Path, modality: str) -> Path:
    """The folder holding ``s1/``, ``s2/``... for one camera."""
    for candidate in (root / "SMIC_all_cropped" / modality, root / modality, root):
        if candidate.is_dir() and any(p.is_dir() and _SUBJECT_DIR.fullmatch(p.name) for p in candidate.iterdir()):
            if candidate is root and root.name.upper() in FPS and root.name.upper() != modality:
                break  # root is another camera's folder
            return candidate
    raise DatasetError(f"{root}: no SMIC {modality} frames found (expected SMIC_all_cropped/{modality}/s1/micro/)")


def read(
    root: str | Path,
    *,
    strict: bool = True,
    modality: str = "HS",
    report: ReadReport | None = None,
) -> list[Sample]:
    """Read one SMIC camera (``modality`` HS, VIS or NIR) under ``root``.

    Labels index ``labels.VOCABULARIES["smic"]`` (negative, positive, surprise).
    With ``strict=False`` bad samples are skipped and listed in ``report`` (and warned about).
    """
    modality = modality.upper()
    if modality not in FPS:
        raise ValueError(f"unknown SMIC modality {modality!r}; valid: {', '.join(FPS)}")
    root = require_dir(Path(root), "SMIC root")
    report = report if report is not None else ReadReport("smic")
    report.dataset = report.dataset or "smic"
    camera_root = resolve_camera_root(root, modality)

    samples: list[Sample] = []
    seen: dict[str, Path] = {}
    subject_dirs = sorted(
        (p for p in camera_root.iterdir() if p.is_dir() and _SUBJECT_DIR.fullmatch(p.name)), key=natural_key
    )
    for subject_dir in subject_dirs:
        micro = subject_dir / "micro"
        if not micro.is_dir():
            report.record(DatasetError(f"{micro}: subject folder has no micro/ folder"), strict=strict)
            continue
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            for clip_dir in sorted((p for p in emotion_dir.iterdir() if p.is_dir()), key=natural_key):
                try:
                    label = label_index(emotion_dir.name, "smic", where=str(emotion_dir))
                    subject = canonical_subject("smic", subject_dir.name)
                    clip = canonical_clip("smic", clip_dir.name)
                    if clip in seen:
                        raise DatasetError(f"{clip_dir}: duplicate clip {clip}, also at {seen[clip]}")
                    seen[clip] = clip_dir
                    paths, numbers = numbered_frames(clip_dir)
                    onset, offset = numbers[0], numbers[-1]
                    check_gaps(str(clip_dir), clip_dir, numbers, onset, offset, report)
                    samples.append(
                        Sample(
                            dataset="smic",
                            subject=subject,
                            clip=clip,
                            label=label,
                            emotion=emotion_dir.name,
                            onset=onset,
                            apex=(onset + offset) // 2,
                            offset=offset,
                            frames=paths,
                            frame_numbers=numbers,
                            fps=FPS[modality],
                            apex_estimated=True,
                            extra={
                                "cropped": True,
                                "modality": modality,
                                "disk_subject": subject_dir.name,
                                "disk_clip": clip_dir.name,
                            },
                        )
                    )
                except DatasetError as error:
                    report.record(error, strict=strict)
    return samples
