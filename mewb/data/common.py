"""What every dataset reader shares: the error type, the skip report, ids and annotation cells.

A reader either raises :class:`DatasetError` (``strict=True``, the default) or, with
``strict=False``, skips the offending sample and records why in a :class:`ReadReport`. A skip is
never silent: it is appended to the report *and* issued as a :class:`DatasetWarning`, so a script
that passes no report still sees it.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


class DatasetError(ValueError):
    """A dataset on disk does not match its published layout or its annotation file.

    The message names the file (and the sheet row, where there is one) and the problem.
    """


class DatasetWarning(UserWarning):
    """A sample was skipped (``strict=False``) or a documented quirk was worked around."""


@dataclass
class ReadReport:
    """Everything a reader did not take at face value: skipped samples and worked-around quirks.

    ``skipped`` lists the samples left out (only with ``strict=False``), each message naming the
    file, the sheet row and the problem; ``notes`` lists samples kept after a documented quirk was
    handled (e.g. a CASME II apex written ``/``, replaced by the midpoint). ``mewb info`` prints
    both.
    """

    dataset: str = ""
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, error: DatasetError, *, strict: bool) -> None:
        """Re-raise ``error`` (strict) or record it as a skipped sample and warn (lenient)."""
        if strict:
            raise error
        self.skipped.append(str(error))
        warnings.warn(f"{self.dataset or 'dataset'}: skipped {error}", DatasetWarning, stacklevel=3)

    def note(self, message: str) -> None:
        """Record (and warn about) a quirk that was handled without dropping the sample."""
        self.notes.append(message)
        warnings.warn(f"{self.dataset or 'dataset'}: {message}", DatasetWarning, stacklevel=3)

    def extend(self, other: "ReadReport") -> None:
        self.skipped.extend(other.skipped)
        self.notes.extend(other.notes)


# ---------------------------------------------------------------------------------------------
# Subject and clip ids


def canonical_subject(dataset: str, raw: object) -> str:
    """The subject id as MEGC files write it: ``sub01`` (CASME II), ``006`` (SAMM), ``s01`` (SMIC).

    Accepts what the datasets actually contain: CASME II sheets hold ints (``1``) and folders
    ``sub01``; SAMM sheets hold ``6`` or ``006``; SMIC folders are ``s1`` while MEGC files use
    ``s01``. Other datasets' ids pass through as strings.
    """
    text = str(raw).strip()
    if isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    digits = re.fullmatch(r"(?:sub|s)?0*(\d+)", text, flags=re.IGNORECASE)
    if (dataset in ("casme2", "synth") or dataset.startswith("synth-")) and digits:  # SynthME parts too
        return f"sub{int(digits.group(1)):02d}"
    if dataset == "samm" and digits:
        return f"{int(digits.group(1)):03d}"
    if dataset == "smic" and digits:
        return f"s{int(digits.group(1)):02d}"
    return text


def canonical_clip(dataset: str, clip: str) -> str:
    """A clip id for matching across files: SMIC ``s1_ne_01`` -> ``s01_ne_01``, else unchanged."""
    clip = str(clip).strip()
    if dataset == "smic":
        match = re.fullmatch(r"s0*(\d+)_(.*)", clip, flags=re.IGNORECASE)
        if match:
            return f"s{int(match.group(1)):02d}_{match.group(2)}"
    return clip


def clip_match_key(dataset: str, clip: str) -> str:
    """A loose key for clip names: CASME II names appear with and without the trailing ``f``."""
    clip = canonical_clip(dataset, clip)
    if dataset in ("casme2", "synth") or dataset.startswith("synth-"):
        return clip.rstrip("fF")
    return clip


# ---------------------------------------------------------------------------------------------
# Annotation sheets


def _squash(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def select_columns(table: pd.DataFrame, wanted: dict[str, str], *, source: Path) -> pd.DataFrame:
    """Rename the sheet's columns to ``wanted``'s keys, matching names loosely.

    ``wanted`` maps our name to the published header (``{"onset": "OnsetFrame"}``); case, spaces
    and punctuation are ignored, so ``Onset Frame`` and ``OnsetFrame`` both match. Unnamed empty
    columns (the CASME II sheet has two) are dropped. A missing column is a :class:`DatasetError`
    listing the headers that were found.
    """
    table = table.dropna(axis=1, how="all")
    by_squashed = {_squash(c): c for c in table.columns}
    renames = {}
    for ours, published in wanted.items():
        column = by_squashed.get(_squash(published))
        if column is None:
            found = ", ".join(str(c) for c in table.columns)
            raise DatasetError(f"{source}: no column {published!r}; the sheet has: {found}")
        renames[column] = ours
    return table.rename(columns=renames)[list(wanted)]


def frame_cell(value: object, *, where: str, column: str) -> int | None:
    """Parse a frame-number cell: an int, ``None`` for an empty cell, ``/``, ``-`` or ``-1``.

    The CASME II sheet writes ``/`` where no apex was coded; SAMM leaves cells empty or ``-1``.
    Anything else that is not a whole number raises :class:`DatasetError`.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "/", "-", "-1", "nan", "NaN"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise DatasetError(f"{where}: {column} {value!r} is not a frame number") from None
    number = float(value)  # ints, floats and numpy scalars
    if not number.is_integer():
        raise DatasetError(f"{where}: {column} {value!r} is not a whole frame number")
    return None if number < 0 else int(number)


def find_one(root: Path, patterns: list[str], *, depth: int = 2) -> Path | None:
    """The first file or folder under ``root`` (searching ``depth`` levels) matching a pattern."""
    for level in range(depth + 1):
        prefix = "*/" * level
        for pattern in patterns:
            hits = sorted(root.glob(prefix + pattern))
            if hits:
                return hits[0]
    return None


def require_dir(path: Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")
    return path
