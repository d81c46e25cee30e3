"""SAMM (Davison et al., "SAMM: A Spontaneous Micro-Facial Movement Dataset", IEEE TAC 2018),
read exactly as published.

Layout: ``SAMM/006/006_1_2/006_05562.jpg`` (the zero padding of frame numbers varies between
clips; a frame's number is the last digit run of its name). ``root`` may be the folder holding
``SAMM/`` or ``SAMM/`` itself.

Sheet ``SAMM_Micro_FACS_Codes_v2.xlsx`` (in ``root``, below it or in its parent): a title block,
then the header on Excel row 14 (found by looking for the row holding Subject and Filename, so a
re-saved sheet with the header elsewhere reads too), columns Subject, Filename, Inducement Code,
Onset Frame, Apex Frame, Offset Frame, Duration, Micro, Action Units, Estimated Emotion,
Objective Classes, Notes.

Quirks handled: subjects written ``6`` against folders ``006``; empty or ``-1`` apex cells (apex
set to the midpoint, ``apex_estimated=True``); apex cells outside onset..offset (``bad_apex=
"estimate"``, the default, treats them the same way and lists each in the report's notes;
``bad_apex="error"`` makes them errors). Frames are full, uncropped video frames
(``cropped=False``, so the clip pipeline aligns the face). 200 fps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mewb.data.common import (
    DatasetError,
    ReadReport,
    canonical_subject,
    find_one,
    frame_cell,
    require_dir,
    select_columns,
)
from mewb.data.frames import check_gaps, numbered_frames
from mewb.data.labels import label_index
from mewb.data.sample import Sample

FPS = 200.0
SHEET_GLOB = "SAMM_Micro_FACS_Codes*.xlsx"
COLUMNS = {
    "subject": "Subject",
    "filename": "Filename",
    "inducement": "Inducement Code",
    "onset": "Onset Frame",
    "apex": "Apex Frame",
    "offset": "Offset Frame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
    "objective_class": "Objective Classes",
}
BAD_APEX = ("estimate", "error")
_SUBJECT_DIR = re.compile(r"\d{3}")


def resolve_frames_root(root: Path) -> Path:
    """The folder holding the ``006/`` subject folders."""
    for candidate in (root / "SAMM", root):
        if candidate.is_dir() and any(p.is_dir() and _SUBJECT_DIR.fullmatch(p.name) for p in candidate.iterdir()):
            return candidate
    raise DatasetError(f"{root}: no SAMM frames found (expected SAMM/006/006_1_2/ or 006/006_1_2/)")


def read_sheet(sheet: Path) -> pd.DataFrame:
    """The FACS-code sheet with our column names and ``excel_row``; the header row is searched."""
    try:
        raw = pd.read_excel(sheet, header=None)
    except Exception as error:  # openpyxl raises many types for a broken file
        raise DatasetError(f"{sheet}: cannot read the FACS code sheet ({error})") from error
    header_at = None
    for i, values in enumerate(raw.itertuples(index=False)):
        cells = {str(v).strip().lower() for v in values if not pd.isna(v)}
        if {"subject", "filename"} <= cells:
            header_at = i
            break
    if header_at is None:
        raise DatasetError(f"{sheet}: no header row with Subject and Filename")
    table = raw.iloc[header_at + 1 :].copy()
    table.columns = [str(v).strip() if not pd.isna(v) else f"Unnamed: {j}" for j, v in enumerate(raw.iloc[header_at])]
    table = select_columns(table, COLUMNS, source=sheet)
    table["excel_row"] = table.index + 1  # pandas row i is Excel row i + 1 when read header=None
    return table.dropna(subset=["subject", "filename"], how="all")


def read(
    root: str | Path,
    *,
    strict: bool = True,
    sheet: str | Path | None = None,
    bad_apex: str = "estimate",
    report: ReadReport | None = None,
) -> list[Sample]:
    """Read SAMM under ``root`` (see the module docstring for the layout and quirks).

    Labels index ``labels.VOCABULARIES["samm"]``. ``sheet`` overrides the sheet search.
    With ``strict=False`` bad samples are skipped and listed in ``report`` (and warned about).
    """
    if bad_apex not in BAD_APEX:
        raise ValueError(f"unknown bad_apex {bad_apex!r}; valid: {', '.join(BAD_APEX)}")
    root = require_dir(Path(root), "SAMM root")
    report = report if report is not None else ReadReport("samm")
    report.dataset = report.dataset or "samm"
    frames_root = resolve_frames_root(root)
    if sheet is not None:
        sheet_path = Path(sheet)
    else:
        sheet_path = find_one(root, [SHEET_GLOB]) or find_one(root.parent, [SHEET_GLOB], depth=0)
        if sheet_path is None:
            raise DatasetError(f"{root}: no sheet {SHEET_GLOB} in this folder, below it or in its parent")
    table = read_sheet(sheet_path)

    samples: list[Sample] = []
    seen: dict[tuple[str, str], int] = {}
    for row in table.itertuples(index=False):
        where = f"{sheet_path} row {row.excel_row}"
        try:
            subject = canonical_subject("samm", row.subject)
            clip = str(row.filename).strip()
            where = f"{where} ({clip})"
            if (subject, clip) in seen:
                raise DatasetError(f"{where}: duplicate clip, already on row {seen[subject, clip]}")
            seen[subject, clip] = row.excel_row
            onset = frame_cell(row.onset, where=where, column="Onset Frame")
            apex = frame_cell(row.apex, where=where, column="Apex Frame")
            offset = frame_cell(row.offset, where=where, column="Offset Frame")
            if onset is None or offset is None:
                raise DatasetError(f"{where}: Onset Frame or Offset Frame is empty")
            if onset > offset:
                raise DatasetError(f"{where}: onset {onset} is after offset {offset}")
            label = label_index(row.emotion, "samm", where=where)
            folder = frames_root / subject / clip
            if not folder.is_dir():
                raise DatasetError(f"{where}: clip folder {folder} not found")
            paths, numbers = numbered_frames(folder)
            estimated = False
            if apex is None:
                estimated, apex = True, (onset + offset) // 2
                cell = "empty" if pd.isna(row.apex) else repr(row.apex)
                report.note(f"{where}: no Apex Frame ({cell}); using the midpoint {apex}")
            elif not onset <= apex <= offset:
                if bad_apex == "error":
                    raise DatasetError(f"{where}: apex {apex} is outside onset..offset {onset}..{offset}")
                midpoint = (onset + offset) // 2
                report.note(
                    f"{where}: apex {apex} is outside onset..offset {onset}..{offset}; "
                    f"using the midpoint {midpoint}"
                )
                estimated, apex = True, midpoint
            for what, number in (("onset", onset), ("apex", apex), ("offset", offset)):
                if what == "apex" and estimated:
                    continue
                if number not in numbers:
                    raise DatasetError(
                        f"{where}: {what} frame {number} is named in the sheet but absent from {folder}"
                    )
            check_gaps(where, folder, numbers, onset, offset, report)
            samples.append(
                Sample(
                    dataset="samm",
                    subject=subject,
                    clip=clip,
                    label=label,
                    emotion=str(row.emotion).strip(),
                    onset=onset,
                    apex=apex,
                    offset=offset,
                    frames=paths,
                    frame_numbers=numbers,
                    action_units="" if pd.isna(row.action_units) else str(row.action_units).strip(),
                    fps=FPS,
                    apex_estimated=estimated,
                    extra={
                        "cropped": False,
                        "sheet_row": int(row.excel_row),
                        "objective_class": None if pd.isna(row.objective_class) else str(row.objective_class),
                        "inducement": None if pd.isna(row.inducement) else str(row.inducement),
                    },
                )
            )
        except DatasetError as error:
            report.record(error, strict=strict)
    return samples
