"""The ``Sample`` record every dataset reader returns (the contract in DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip as annotated by its dataset.

    Frame numbers (``onset``, ``apex``, ``offset``) are the dataset's own numbers, as written in
    its annotation file, or ``None`` when the dataset gives none. ``frames`` holds the clip's
    frame paths in natural order, and ``frame_numbers`` their numbers, so a frame number maps to
    a path without guessing. A precomputed flow-image sample has ``flow_image`` instead.
    """

    dataset: str  # "casme2", "samm", "smic", "synth", ...
    subject: str  # the dataset's own subject id as used in MEGC files ("sub01", "006", "s01")
    clip: str  # the dataset's clip id ("EP02_01f", "006_1_2", "s01_ne_01")
    label: int  # class index in the reader's label vocabulary
    emotion: str  # the dataset's own emotion word ("repression", "Anger", "negative")
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    frames: tuple[Path, ...] = ()
    frame_numbers: tuple[int, ...] = ()
    flow_image: Path | None = None
    action_units: str = ""
    fps: float = 0.0
    apex_estimated: bool = False  # True when the dataset gives no apex and one was inferred
    ground_truth: Path | None = None  # SynthME's per-clip motion ground truth, if any
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Unique id across datasets: ``dataset/subject/clip``."""
        return f"{self.dataset}/{self.subject}/{self.clip}"

    def with_label(self, label: int, emotion: str | None = None) -> "Sample":
        """A copy relabelled (e.g. into the MEGC2019 3-class vocabulary)."""
        return replace(self, label=label, emotion=self.emotion if emotion is None else emotion)
