"""CASME II (Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the
Baseline Evaluation", PLoS ONE 2014), read exactly as published.

Layouts (``layout=``):

- ``raw``: ``CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`` (full frames; the clip pipeline
  detects and aligns the face),
- ``cropped``: ``CASME2_Cropped/sub01/EP02_01f/reg_img46.jpg`` (already cropped and aligned),
- ``root`` given directly as the folder holding ``subNN/`` (how SynthME writes
  ``OUT/sub01/EP01_01/img1.jpg``); cropped when its frames are named ``reg_*``.

``auto`` (the default) takes ``CASME2_Cropped`` when present, else ``CASME2_RAW_selected``, else
``root`` itself. ``Sample.extra["cropped"]`` records which, so the pipeline skips face detection.

Coding sheet ``CASME2-coding-*.xlsx`` (in ``root``, its parent, or below ``root``): columns
Subject, Filename, (empty), OnsetFrame, ApexFrame, OffsetFrame, (empty), Action Units, Estimated
Emotion. Quirks handled: the unnamed empty columns; ``/`` in ApexFrame (apex set to the midpoint,
``apex_estimated=True``, listed in the report's notes); file names with and without the trailing
``f`` of the folder names; integer subjects against ``subNN`` folders. 200 fps.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pandas as pd

from mewb.data.common import (
    DatasetError,
    ReadReport,
    canonical_subject,
    clip_match_key,
    find_one,
    frame_cell,
    require_dir,
    select_columns,
)
from mewb.data.frames import IMAGE_EXTENSIONS, check_gaps, numbered_frames
from mewb.data.labels import label_index
from mewb.data.sample import Sample

FPS = 200.0
SHEET_GLOB = "CASME2-coding-*.xlsx"
COLUMNS = {
    "subject": "Subject",
    "filename": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}
LAYOUTS = ("auto", "raw", "cropped", "root")
_SUBJECT_DIR = re.compile(r"sub\d+", re.IGNORECASE)


def has_subject_dirs(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_dir() and _SUBJECT_DIR.fullmatch(p.name) for p in folder.iterdir())


def resolve_layout(root: Path, layout: str = "auto") -> tuple[Path, bool]:
    """``(folder holding subNN/, cropped)`` for a CASME II root and a layout name."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown CASME II layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    cropped_dir, raw_dir = root / "CASME2_Cropped", root / "CASME2_RAW_selected"
    if layout in ("auto", "cropped") and cropped_dir.is_dir():
        return cropped_dir, True
    if layout in ("auto", "raw") and raw_dir.is_dir():
        return raw_dir, False
    if layout in ("auto", "root") and has_subject_dirs(root):
        # Look at one frame only (lazy generator): cropped frames are named ``reg_*``.
        first = next(
            (
                frame
                for subject in sorted(root.iterdir())
                if subject.is_dir() and _SUBJECT_DIR.fullmatch(subject.name)
                for clip in sorted(subject.iterdir())
                if clip.is_dir()
                for frame in clip.iterdir()
                if frame.suffix.lower() in IMAGE_EXTENSIONS
            ),
            None,
        )
        cropped = root.name == "CASME2_Cropped" or (first is not None and first.name.startswith("reg_"))
        return root, cropped
    expected = {
        "auto": "CASME2_Cropped/, CASME2_RAW_selected/ or subNN/ folders",
        "raw": "CASME2_RAW_selected/",
        "cropped": "CASME2_Cropped/",
        "root": "subNN/ folders",
    }[layout]
    raise DatasetError(f"{root}: no CASME II frames found (expected {expected})")


def find_sheet(root: Path, pattern: str = SHEET_GLOB) -> Path:
    """The coding sheet next to the frames: in ``root``, below it, or in its parent."""
    hit = find_one(root, [pattern]) or find_one(root.parent, [pattern], depth=0)
    if hit is None:
        raise DatasetError(f"{root}: no coding sheet {pattern} in this folder, below it or in its parent")
    return hit


def _clip_folder(frames_root: Path, subject: str, filename: str) -> Path | None:
    """The clip folder, accepting the sheet's name with or without the trailing ``f``."""
    subject_dir = frames_root / subject
    for name in (filename, filename + "f", filename.rstrip("fF")):
        if (subject_dir / name).is_dir():
            return subject_dir / name
    return None


def read_coding_sheet(sheet: Path) -> pd.DataFrame:
    """The sheet with our column names (``subject, filename, onset, ...``) and ``excel_row``."""
    try:
        table = pd.read_excel(sheet, header=0)
    except Exception as error:  # openpyxl raises many types for a broken file
        raise DatasetError(f"{sheet}: cannot read the coding sheet ({error})") from error
    table = select_columns(table, COLUMNS, source=sheet)
    table["excel_row"] = table.index + 2  # header on Excel row 1
    return table.dropna(subset=["subject", "filename"], how="all")


def read_casme_like(
    root: str | Path,
    *,
    dataset: str,
    classes: tuple[str, ...] | str,
    strict: bool,
    layout: str,
    sheet: str | Path | None,
    sheet_glob: str,
    report: ReadReport | None,
    fps: float = FPS,
    make_extra: Callable[[str, str], dict] | None = None,
) -> list[Sample]:
    """The CASME II reader, parameterised for SynthME (which writes the same layout)."""
    root = require_dir(Path(root), f"{dataset} root")
    report = report if report is not None else ReadReport(dataset)
    report.dataset = report.dataset or dataset
    frames_root, cropped = resolve_layout(root, layout)
    sheet_path = Path(sheet) if sheet is not None else find_sheet(root, sheet_glob)
    table = read_coding_sheet(sheet_path)

    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for row in table.itertuples(index=False):
        where = f"{sheet_path} row {row.excel_row}"
        try:
            subject = canonical_subject("casme2", row.subject)
            filename = str(row.filename).strip()
            where = f"{where} ({subject}/{filename})"
            key = (subject, clip_match_key("casme2", filename))
            if key in seen:
                raise DatasetError(f"{where}: duplicate clip, already on row {seen[key]}")
            seen[key] = row.excel_row
            onset = frame_cell(row.onset, where=where, column="OnsetFrame")
            apex = frame_cell(row.apex, where=where, column="ApexFrame")
            offset = frame_cell(row.offset, where=where, column="OffsetFrame")
            if onset is None or offset is None:
                raise DatasetError(f"{where}: OnsetFrame or OffsetFrame is empty")
            if onset > offset:
                raise DatasetError(f"{where}: onset {onset} is after offset {offset}")
            label = label_index(row.emotion, classes, where=where)
            folder = _clip_folder(frames_root, subject, filename)
            if folder is None:
                raise DatasetError(f"{where}: clip folder {frames_root / subject / filename} not found")
            paths, numbers = numbered_frames(folder)
            estimated = apex is None
            if estimated:
                apex = (onset + offset) // 2
                report.note(f"{where}: no ApexFrame ({row.apex!r}); using the midpoint {apex}")
            elif not onset <= apex <= offset:
                raise DatasetError(f"{where}: apex {apex} is outside onset..offset {onset}..{offset}")
            for what, number in (("onset", onset), ("apex", apex), ("offset", offset)):
                if what == "apex" and estimated:
                    continue
                if number not in numbers:
                    raise DatasetError(
                        f"{where}: {what} frame {number} is named in the sheet but absent from {folder}"
                    )
            check_gaps(where, folder, numbers, onset, offset, report)
            action_units = "" if pd.isna(row.action_units) else str(row.action_units).strip()
            extra = {"cropped": cropped, "layout": frames_root.name, "sheet_row": int(row.excel_row)}
            if make_extra is not None:
                extra.update(make_extra(subject, folder.name))
            samples.append(
                Sample(
                    dataset=dataset,
                    subject=subject,
                    clip=folder.name,
                    label=label,
                    emotion=str(row.emotion).strip(),
                    onset=onset,
                    apex=apex,
                    offset=offset,
                    frames=paths,
                    frame_numbers=numbers,
                    action_units=action_units,
                    fps=fps,
                    apex_estimated=estimated,
                    extra=extra,
                )
            )
        except DatasetError as error:
            report.record(error, strict=strict)
    return samples


def read(
    root: str | Path,
    *,
    strict: bool = True,
    layout: str = "auto",
    sheet: str | Path | None = None,
    report: ReadReport | None = None,
) -> list[Sample]:
    """Read CASME II under ``root`` (see the module docstring for layouts and quirks).

    Labels index ``labels.VOCABULARIES["casme2"]``. ``sheet`` overrides the coding-sheet search.
    With ``strict=False`` bad samples are skipped and listed in ``report`` (and warned about).
    """
    return read_casme_like(
        root,
        dataset="casme2",
        classes="casme2",
        strict=strict,
        layout=layout,
        sheet=sheet,
        sheet_glob=SHEET_GLOB,
        report=report,
    )
