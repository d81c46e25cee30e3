"""SynthME: synthetic micro-expressions with ground truth of where and when the face moved.

The embedded dataset of mewb: procedural (or photographed) faces animated by facial action
units, written in the CASME II layout with per-clip motion masks. See ``README.md`` here.

    >>> from mewb.synth import SynthConfig, generate_dataset, example_clip
    >>> clip = example_clip(seed=0)          # frames (T, H, W, 3), motion (T, H, W), mask (H, W)
    >>> generate_dataset("data/synthme", SynthConfig(subjects=8, clips_per_subject=12))
"""

from mewb.synth.action_units import AU_NAMES, au_field
from mewb.synth.emotions import CLASSES, THREE_CLASS_OF, draw_expression
from mewb.synth.faces import Face, FaceRegions, face_from_photo, random_identity, render_face
from mewb.synth.generator import (
    GENERATOR_VERSION,
    SHEET_COLUMNS,
    SHEET_NAME,
    OutputExistsError,
    SynthClip,
    SynthConfig,
    example_clip,
    generate_dataset,
    make_clip,
)
from mewb.synth.leakage import appearance_vs_motion

__all__ = [
    "AU_NAMES",
    "CLASSES",
    "GENERATOR_VERSION",
    "SHEET_COLUMNS",
    "SHEET_NAME",
    "THREE_CLASS_OF",
    "Face",
    "FaceRegions",
    "OutputExistsError",
    "SynthClip",
    "SynthConfig",
    "appearance_vs_motion",
    "au_field",
    "draw_expression",
    "example_clip",
    "face_from_photo",
    "generate_dataset",
    "make_clip",
    "random_identity",
    "render_face",
]
