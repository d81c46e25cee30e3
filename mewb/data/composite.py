"""The MEGC2019 composite: CASME II, SAMM and SMIC-HS merged into three classes.

Labels: 0 negative (CASME II disgust, repression; SAMM anger, contempt, disgust, fear, sadness;
SMIC negative), 1 positive (happiness; SMIC positive), 2 surprise. Every other emotion is dropped
(``labels.MEGC2019_3CLASS``). Samples keep their own ``dataset``, ``subject`` and ``emotion``
(so ``Sample.key`` and LOSO subject keys stay unique across datasets); only ``label`` changes.

When the official ground truth (``combined_3class_gt.csv``, rows ``casme2,sub01,EP02_01f,1``,
``samm,6,006_1_2,0``, ``smic,s01,s01_ne_01,0``; with or without a header) is given, it decides
membership and labels. With the full data the composite has 442 samples (SMIC 164, CASME II 145,
SAMM 133), 68 subjects and classes 250/109/83; any difference is reported in one warning listing
it (users may hold partial data), never raised.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path

import pandas as pd

from mewb.data import casme2, samm, smic
from mewb.data.common import (
    DatasetError,
    DatasetWarning,
    ReadReport,
    canonical_subject,
    clip_match_key,
    find_one,
)
from mewb.data.labels import MEGC3_CLASSES, megc3_label
from mewb.data.sample import Sample

PARTS = ("smic", "casme2", "samm")
EXPECTED_SAMPLES = {"smic": 164, "casme2": 145, "samm": 133}  # 442
EXPECTED_SUBJECTS = {"smic": 16, "casme2": 24, "samm": 28}  # 68
EXPECTED_CLASSES = (250, 109, 83)  # negative, positive, surprise
_DATASET_ALIASES = {"casme2": "casme2", "casmeii": "casme2", "samm": "samm", "smic": "smic", "smichs": "smic"}


def dataset_name(raw: object, *, where: str) -> str:
    """``CASME_2``, ``casme2``, ``CASME II`` -> ``casme2`` (and SAMM, SMIC); else DatasetError."""
    key = re.sub(r"[^a-z0-9]", "", str(raw).lower())
    try:
        return _DATASET_ALIASES[key]
    except KeyError:
        raise DatasetError(f"{where}: unknown dataset {raw!r}; valid: casme2, samm, smic") from None


def read_megc_csv(path: str | Path) -> pd.DataFrame:
    """A MEGC ground-truth style CSV as columns ``dataset, subject, clip, label, csv_row``.

    Accepts the header-less official form (``casme2,sub01,EP02_01f,1``) and the common header form
    ``dataset,sub,filename_o,label,...`` (extra columns ignored). Cells are stripped of whitespace.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: ground-truth CSV not found")
    raw = pd.read_csv(path, header=None, dtype=str, skipinitialspace=True, keep_default_na=False)
    if raw.shape[1] < 4:
        raise DatasetError(f"{path}: expected at least 4 columns (dataset, subject, clip, label)")
    raw = raw.apply(lambda column: column.str.strip())
    first = [str(v).lower() for v in raw.iloc[0]]
    has_header = not first[3].lstrip("-").isdigit()
    if has_header:
        names = {name: i for i, name in enumerate(first)}
        wanted = [("dataset", ("dataset",)), ("subject", ("sub", "subject")),
                  ("clip", ("filename_o", "filename", "clip")), ("label", ("label",))]
        positions = []
        for ours, options in wanted:
            hit = next((names[o] for o in options if o in names), None)
            if hit is None:
                raise DatasetError(
                    f"{path}: no column for {ours} (one of {', '.join(options)}); header: {', '.join(first)}"
                )
            positions.append(hit)
        table = raw.iloc[1:, positions].copy()
        rows = range(2, len(raw) + 1)
    else:
        table = raw.iloc[:, :4].copy()
        rows = range(1, len(raw) + 1)
    table.columns = ["dataset", "subject", "clip", "label"]
    table["csv_row"] = list(rows)
    return table[(table["dataset"] != "") | (table["clip"] != "")]


def _locate(root: Path | None, part: str) -> Path | None:
    """Find a dataset's root under ``root`` by its published markers."""
    if root is None:
        return None
    if part == "casme2":
        hit = find_one(root, ["CASME2_Cropped", "CASME2_RAW_selected"])
    elif part == "samm":
        hit = find_one(root, [samm.SHEET_GLOB])
    else:
        hit = find_one(root, ["SMIC_all_cropped"])
    return None if hit is None else hit.parent


def expected_differences(samples: list[Sample]) -> list[str]:
    """How ``samples`` differ from the published full composite (empty when they match)."""
    differences = []
    counts = Counter(s.dataset for s in samples)
    subjects = {p: len({s.subject for s in samples if s.dataset == p}) for p in PARTS}
    for part in PARTS:
        if counts[part] != EXPECTED_SAMPLES[part]:
            differences.append(f"{part}: {counts[part]} samples, expected {EXPECTED_SAMPLES[part]}")
        if subjects[part] != EXPECTED_SUBJECTS[part]:
            differences.append(f"{part}: {subjects[part]} subjects, expected {EXPECTED_SUBJECTS[part]}")
    if len(samples) != sum(EXPECTED_SAMPLES.values()):
        differences.append(f"total: {len(samples)} samples, expected {sum(EXPECTED_SAMPLES.values())}")
    n_subjects = sum(subjects.values())
    if n_subjects != sum(EXPECTED_SUBJECTS.values()):
        differences.append(f"total: {n_subjects} subjects, expected {sum(EXPECTED_SUBJECTS.values())}")
    classes = Counter(s.label for s in samples)
    got = tuple(classes[i] for i in range(len(MEGC3_CLASSES)))
    if got != EXPECTED_CLASSES:
        differences.append(
            "classes (negative/positive/surprise): "
            f"{'/'.join(map(str, got))}, expected {'/'.join(map(str, EXPECTED_CLASSES))}"
        )
    return differences


def read(
    root: str | Path | None = None,
    *,
    strict: bool = True,
    gt_csv: str | Path | None = None,
    casme2_root: str | Path | None = None,
    samm_root: str | Path | None = None,
    smic_root: str | Path | None = None,
    report: ReadReport | None = None,
) -> list[Sample]:
    """Read the MEGC2019 composite.

    ``root`` is a folder holding the three datasets in their published layouts (found by their
    markers: ``CASME2_Cropped``/``CASME2_RAW_selected``, ``SAMM_Micro_FACS_Codes*.xlsx``,
    ``SMIC_all_cropped``); ``casme2_root``, ``samm_root``, ``smic_root`` override the search.
    A missing dataset is noted, not raised. ``gt_csv`` (``combined_3class_gt.csv``) decides
    membership and labels when given. Labels: 0 negative, 1 positive, 2 surprise.
    """
    report = report if report is not None else ReadReport("composite")
    report.dataset = report.dataset or "composite"
    root = None if root is None else Path(root)
    if root is not None and not root.is_dir():
        raise DatasetError(f"{root}: composite root folder not found")
    explicit = {"casme2": casme2_root, "samm": samm_root, "smic": smic_root}
    readers = {"casme2": casme2.read, "samm": samm.read, "smic": smic.read}

    native: list[Sample] = []
    for part in PARTS:
        part_root = Path(explicit[part]) if explicit[part] is not None else _locate(root, part)
        if part_root is None:
            report.note(f"no {part} data found under {root}; the composite will lack it")
            continue
        sub_report = ReadReport(part)
        native += readers[part](part_root, strict=strict, report=sub_report)
        report.extend(sub_report)

    if gt_csv is None:
        samples = []
        for sample in native:
            label = megc3_label(sample.dataset, sample.emotion)
            if label is not None:
                samples.append(sample.with_label(label))
    else:
        samples = _from_ground_truth(native, Path(gt_csv), strict=strict, report=report)

    differences = expected_differences(samples)
    if differences:
        message = "composite differs from the published MEGC2019 composite: " + "; ".join(differences)
        report.notes.append(message)
        warnings.warn(message, DatasetWarning, stacklevel=2)
    return samples


def _from_ground_truth(native: list[Sample], gt_csv: Path, *, strict: bool, report: ReadReport) -> list[Sample]:
    by_key = {(s.dataset, s.subject, clip_match_key(s.dataset, s.clip)): s for s in native}
    table = read_megc_csv(gt_csv)
    present = {s.dataset for s in native}
    samples: list[Sample] = []
    missing: list[str] = []
    used: set[tuple] = set()
    for row in table.itertuples(index=False):
        where = f"{gt_csv} row {row.csv_row}"
        try:
            part = dataset_name(row.dataset, where=where)
            key = (part, canonical_subject(part, row.subject), clip_match_key(part, row.clip))
            if not row.label.lstrip("-").isdigit() or int(row.label) not in range(len(MEGC3_CLASSES)):
                raise DatasetError(f"{where}: label {row.label!r} is not 0, 1 or 2")
            if key in used:
                raise DatasetError(f"{where}: duplicate clip {part}/{row.subject}/{row.clip}")
            used.add(key)
        except DatasetError as error:
            report.record(error, strict=strict)
            continue
        sample = by_key.get(key)
        if sample is None:
            if part in present:
                missing.append(f"{part}/{row.subject}/{row.clip}")
            continue
        label = int(row.label)
        derived = megc3_label(part, sample.emotion)
        if derived != label:
            report.note(
                f"{where}: {sample.key} is {sample.emotion!r} in its dataset but class {label} "
                f"({MEGC3_CLASSES[label]}) in the ground truth; the ground truth is used"
            )
        samples.append(sample.with_label(label))
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        report.note(f"{gt_csv}: {len(missing)} ground-truth clips not found on disk: {shown}")
    return samples
