"""SynthME output (``mewb.synth.generator.generate_dataset``), read through the CASME II reader.

Layout: ``OUT/sub01/EP01_01/img1.jpg``, ``OUT/CASME2-coding-synthme.xlsx``,
``OUT/ground_truth/sub01/EP01_01.npz`` (``motion`` (T, H, W), ``mask`` (H, W), onset, apex,
offset, action_units, label, emotion) and ``OUT/manifest.json`` (the generator's parameters,
including ``class_names``, the label vocabulary, and ``config.fps``).

Labels index ``manifest["class_names"]`` by the sheet's ``Estimated Emotion`` word (negative,
positive, surprise for 3 classes); without a manifest the MEGC2019 3-class vocabulary is used.
Each sample's ``ground_truth`` is its ``.npz``; a missing one is a ``DatasetError``. The frames
are rendered face crops, so ``extra["cropped"]`` is True.

A composite-shaped SynthME (``mewb synth --preset composite``, :mod:`mewb.synth.presets`) is a
root whose ``manifest.json`` lists ``parts``: each part folder is read as above, with its own
frame rate, and its samples belong to dataset ``synth-<part>`` (``synth-smic``, ...), so folds,
per-dataset scores and tables name the part.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from mewb.data.casme2 import has_subject_dirs, read_casme_like
from mewb.data.common import DatasetError, ReadReport, require_dir
from mewb.data.labels import VOCABULARIES
from mewb.data.sample import Sample

SHEET_GLOB = "CASME2-coding-synthme.xlsx"


def read_manifest(root: Path) -> dict:
    """``OUT/manifest.json`` as a dict (empty when absent)."""
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from error


def read(root: str | Path, *, strict: bool = True, report: ReadReport | None = None) -> list[Sample]:
    """Read a SynthME dataset folder ``root`` (see the module docstring)."""
    root = require_dir(Path(root), "SynthME output")
    manifest = read_manifest(root)
    if "parts" in manifest:
        return _read_parts(root, manifest, strict=strict, report=report)
    if not has_subject_dirs(root):
        raise DatasetError(f"{root}: no SynthME clips found (expected subNN/EPxx_01/ frame folders and "
                           f"{SHEET_GLOB}, as `mewb synth OUT` writes them)")
    report = report if report is not None else ReadReport("synth")
    report.dataset = report.dataset or "synth"
    classes = tuple(manifest.get("class_names") or VOCABULARIES["synth"])
    fps = float(manifest.get("config", {}).get("fps", 200.0))

    def ground_truth(subject: str, clip: str) -> dict:
        path = root / "ground_truth" / subject / f"{clip}.npz"
        if not path.is_file():
            raise DatasetError(f"{path}: ground-truth file of {subject}/{clip} not found")
        return {"cropped": True, "ground_truth": path}

    samples = read_casme_like(
        root,
        dataset="synth",
        classes=classes,
        strict=strict,
        layout="root",
        sheet=None,
        sheet_glob=SHEET_GLOB,
        report=report,
        fps=fps,
        make_extra=ground_truth,
    )
    return [
        replace(
            s,
            ground_truth=s.extra["ground_truth"],
            extra={k: v for k, v in s.extra.items() if k != "ground_truth"},
        )
        for s in samples
    ]


def _read_parts(root: Path, manifest: dict, *, strict: bool, report: ReadReport | None) -> list[Sample]:
    """The parts of a composite-shaped SynthME, each as dataset ``synth-<part>``."""
    parts = manifest["parts"]
    if not isinstance(parts, dict) or not parts:
        raise DatasetError(f"{root / 'manifest.json'}: 'parts' must map part names to their folders")
    report = report if report is not None else ReadReport("synth")
    samples: list[Sample] = []
    for part, info in sorted(parts.items()):
        folder = root / str(info.get("folder", part) if isinstance(info, dict) else part)
        if not folder.is_dir():
            raise DatasetError(f"{root / 'manifest.json'}: part {part!r} lists folder {folder.name!r}, which is not there")
        name = f"synth-{part}"
        samples += [replace(s, dataset=name) for s in read(folder, strict=strict, report=report)]
    report.dataset = "synth"
    return samples
