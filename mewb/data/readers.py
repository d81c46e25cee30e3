"""The dataset registry: every reader by name, and the summary ``mewb info`` prints.

``DATASETS.get(name)(root, strict=..., report=..., **options)`` returns ``list[Sample]``;
``read_dataset`` is the same call that also returns the :class:`ReadReport`.
"""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path
from typing import Callable

from mewb.data import casme2, composite, flowimages, samm, smic, synth
from mewb.data.common import ReadReport
from mewb.data.labels import MEGC2019_3CLASS, MEGC3_CLASSES, VOCABULARIES, megc3_label
from mewb.data.sample import Sample
from mewb.registry import Registry

Reader = Callable[..., list[Sample]]
DATASETS: Registry[Reader] = Registry("dataset")
DATASETS.register("casme2")(casme2.read)
DATASETS.register("samm")(samm.read)
DATASETS.register("smic")(smic.read)
DATASETS.register("composite")(composite.read)
DATASETS.register("flowimages")(flowimages.read)
DATASETS.register("synth")(synth.read)


def read_dataset(name: str, root: str | Path, *, strict: bool = True, **options) -> tuple[list[Sample], ReadReport]:
    """Read dataset ``name`` under ``root``; returns the samples and what was skipped or noted."""
    reader = DATASETS.get(name)
    accepted = set(inspect.signature(reader).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        valid = ", ".join(sorted(accepted - {"root", "strict", "report"}))
        raise ValueError(f"dataset {name!r} takes no option {', '.join(unknown)}; its options: {valid}")
    report = ReadReport(name)
    samples = reader(root, strict=strict, report=report, **options)
    return samples, report


def combine_datasets(parts: list[tuple[str, list[Sample]]]) -> tuple[list[Sample], tuple[str, ...], dict[str, int]]:
    """Samples of several datasets under one label vocabulary, for cross-dataset protocols.

    ``parts`` are ``(reader name, samples)``. When every part has the same class names, labels
    are kept. Otherwise every sample is mapped to the MEGC2019 classes (negative, positive,
    surprise) with the composite's per-dataset map, and samples of an emotion outside it (CASME
    II's "others", SAMM's "other") are dropped; a label index never silently means one emotion in
    one dataset and another elsewhere.

    Returns ``(samples, class names, dropped count per dataset)``.
    """
    names = [class_names(name, samples) for name, samples in parts]
    if all(n == names[0] for n in names):
        return [s for _, part in parts for s in part], names[0], {}
    out: list[Sample] = []
    dropped: dict[str, int] = {}
    for (name, samples), classes in zip(parts, names):
        if name not in MEGC2019_3CLASS and classes != MEGC3_CLASSES:
            raise ValueError(f"dataset {name!r} has classes {list(classes)}, unlike the others, and no map to "
                             f"the MEGC2019 classes; cross-dataset runs need one vocabulary")
        for sample in samples:
            label = megc3_label(name, sample.emotion) if name in MEGC2019_3CLASS else sample.label
            if label is None:
                dropped[name] = dropped.get(name, 0) + 1
            else:
                out.append(sample.with_label(label))
    return out, MEGC3_CLASSES, dropped


def class_names(name: str, samples: list[Sample]) -> tuple[str, ...]:
    """Names for the labels of ``samples`` read by reader ``name``."""
    if name == "synth" and samples:
        # SynthME's vocabulary comes from its manifest; recover it from the samples.
        by_label = {s.label: s.emotion for s in samples}
        return tuple(by_label.get(i, str(i)) for i in range(max(by_label) + 1))
    return VOCABULARIES.get(name, ())


def summarize(name: str, samples: list[Sample], report: ReadReport) -> str:
    """The text ``mewb info`` prints: counts, subjects, classes, fps, skips and notes."""
    lines = [f"dataset: {name}", f"samples: {len(samples)}"]
    subjects = sorted({f"{s.dataset}/{s.subject}" for s in samples})
    lines.append(f"subjects: {len(subjects)}")
    per_dataset = Counter(s.dataset for s in samples)
    if len(per_dataset) > 1:
        lines.append("per dataset: " + ", ".join(f"{d} {n}" for d, n in sorted(per_dataset.items())))
    names = class_names(name, samples)
    counts = Counter(s.label for s in samples)
    lines.append("classes:")
    for label in sorted(set(counts) | set(range(len(names)))):
        word = names[label] if label < len(names) else "?"
        lines.append(f"  {label} {word}: {counts.get(label, 0)}")
    fps = Counter(s.fps for s in samples)
    lines.append("fps: " + (", ".join(f"{f:g} ({n} samples)" for f, n in sorted(fps.items())) or "-"))
    cropped = sum(bool(s.extra.get("cropped")) for s in samples)
    lines.append(f"already cropped: {cropped} of {len(samples)}")
    estimated = sum(s.apex_estimated for s in samples)
    if estimated:
        lines.append(f"apex estimated (midpoint): {estimated}")
    lines.append(f"skipped: {len(report.skipped)}")
    lines += [f"  - {entry}" for entry in report.skipped]
    if report.notes:
        lines.append(f"notes: {len(report.notes)}")
        lines += [f"  - {entry}" for entry in report.notes]
    return "\n".join(lines)
