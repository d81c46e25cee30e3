"""Precomputed onset-apex flow images, as several public MER releases ship them.

One RGB image per sample holding the horizontal flow, the vertical flow and the optical strain
(``u, v, strain``), named ``<sub>_<filename>.png`` (stray whitespace before the extension, as in
``sub01_EP02_01f .png``, is tolerated), next to a CSV manifest: the MEGC ground-truth form
(``casme2,sub01,EP02_01f,1``, no header) or the common header form ``dataset,sub,filename_o,label,
...``. Images may sit in ``root`` or in folders below it. ``mewb export flowimages`` writes this
layout from any dataset mewb reads (:mod:`mewb.data.export`).

Each sample has ``flow_image`` set and no frames: a flow clip with ``T = 1``. Labels are the MEGC2019
classes (0 negative, 1 positive, 2 surprise).
"""

from __future__ import annotations

from pathlib import Path

from mewb.data.common import DatasetError, ReadReport, canonical_subject, require_dir
from mewb.data.composite import dataset_name, read_megc_csv
from mewb.data.frames import IMAGE_EXTENSIONS
from mewb.data.labels import MEGC3_CLASSES
from mewb.data.sample import Sample

FPS = {"casme2": 200.0, "samm": 200.0, "smic": 100.0, "synth": 200.0}


def _part(raw: object, *, where: str) -> str:
    """The manifest's dataset column: the composite's parts, ``synth`` (SynthME exported by mewb), or
    ``synth-<part>`` (a part of the composite-shaped SynthME, ``synth-smic`` ...)."""
    text = str(raw).strip().lower()
    if text in ("synth", "synthme"):
        return "synth"
    if text.startswith("synth-") and text[len("synth-"):] in FPS:
        return text
    return dataset_name(raw, where=where)


def _fps(part: str) -> float:
    return FPS[part.removeprefix("synth-")]


def _find_manifest(root: Path) -> Path:
    csvs = sorted(root.glob("*.csv"))
    if len(csvs) != 1:
        found = ", ".join(p.name for p in csvs) or "none"
        raise DatasetError(f"{root}: expected one CSV manifest, found {found}; pass manifest=")
    return csvs[0]


def read(
    root: str | Path,
    *,
    strict: bool = True,
    manifest: str | Path | None = None,
    report: ReadReport | None = None,
) -> list[Sample]:
    """Read a folder of flow images and its CSV manifest (the only ``*.csv`` in ``root`` by default).

    With ``strict=False`` rows whose image is missing or unusable are skipped and listed in
    ``report`` (and warned about).
    """
    root = require_dir(Path(root), "flow-image")
    report = report if report is not None else ReadReport("flowimages")
    report.dataset = report.dataset or "flowimages"
    manifest_path = Path(manifest) if manifest is not None else _find_manifest(root)
    table = read_megc_csv(manifest_path)

    # Index images by their stem with surrounding whitespace removed ("x .png" -> "x").
    images: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            stem = path.stem.strip()
            if stem in images:
                report.record(DatasetError(f"{path}: same sample name as {images[stem]}"), strict=strict)
                continue
            images[stem] = path

    samples: list[Sample] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in table.itertuples(index=False):
        where = f"{manifest_path} row {row.csv_row}"
        try:
            part = _part(row.dataset, where=where)
            subject = canonical_subject(part, row.subject)
            key = (part, subject, row.clip)
            if key in seen:
                raise DatasetError(f"{where}: duplicate clip {part}/{subject}/{row.clip}, already on row {seen[key]}")
            seen[key] = row.csv_row
            if not row.label.isdigit() or int(row.label) >= len(MEGC3_CLASSES):
                raise DatasetError(f"{where}: label {row.label!r} is not 0, 1 or 2")
            names = [f"{row.subject}_{row.clip}", f"{subject}_{row.clip}"]
            path = next((images[n] for n in names if n in images), None)
            if path is None:
                raise DatasetError(f"{where}: flow image {names[0]}.png not found under {root}")
            if path.stat().st_size == 0:
                raise DatasetError(f"{path}: unreadable image (empty file)")
            label = int(row.label)
            samples.append(
                Sample(
                    dataset=part,
                    subject=subject,
                    clip=row.clip,
                    label=label,
                    emotion=MEGC3_CLASSES[label],
                    flow_image=path,
                    fps=_fps(part),
                    extra={"cropped": True, "manifest_row": int(row.csv_row)},
                )
            )
        except DatasetError as error:
            report.record(error, strict=strict)
    return samples
