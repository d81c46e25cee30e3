"""Named SynthME settings: the composite-shaped proxy and the shifted style for checking transfer.

``composite``: the MEGC2019 composite's shape in three parts generated like SMIC, CASME II and
SAMM (subjects, clips, class counts, frame rate, face size, noise, illumination), written as one
folder per part under one root that the ``synth`` reader reads as datasets ``synth-smic``,
``synth-casme2`` and ``synth-samm``:

| part | subjects | clips | negative / positive / surprise | fps | face px | look |
| --- | ---: | ---: | --- | ---: | ---: | --- |
| smic | 16 | 164 | 70 / 51 / 43 | 100 | 48 | noisier, more flicker, JPEG 80 |
| casme2 | 24 | 145 | 88 / 32 / 25 | 200 | 64 | the SynthME defaults |
| samm | 28 | 133 | 92 / 26 / 15 | 200 | 80 | grey, little noise, steadier head |

250 / 109 / 83 clips in all, as in the composite. Subjects are unevenly loaded, as in the real
sets (``SynthConfig.clips``).

``shifted`` (:data:`SHIFTED`): a style that differs from the default renderer where real data
differs from SynthME: stronger, coarser skin texture, side lighting, more head drift and
rotation, more sensor noise, weaker and more varied expressions, AU mixtures (a weak AU of
another class in 35% of clips), more blinks and one-sided movements. Pretraining on default
SynthME and testing on the shifted composite is a test of transfer, not of memorising one
renderer.

Identities are disjoint by construction between sets of different seeds, and between parts:
part ``k`` of a composite with seed ``s`` is generated with seed ``PART_SEED_STRIDE * (k + 1) + s``
(:func:`identity_seeds` lists a folder's seeds, so a pretraining set can be checked against an
evaluation set).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mewb import jsonio
from mewb.synth.generator import GENERATOR_VERSION, SynthConfig, check_new_output, generate_dataset

PRESETS = ("default", "composite")
PART_SEED_STRIDE = 1_000_003  # part seeds never meet the small seeds people type

# part name -> SynthConfig fields (the class counts are the part's own, in MEGC2019 order)
# Every part keeps amplitude 1.5 (half the default SynthME's): the proxy for real data is the harder
# set, and the README's #19 table was measured on it.
COMPOSITE_PARTS: dict[str, dict] = {
    "smic": dict(subjects=16, clips=164, balance=(70, 51, 43), fps=100.0, frames=32, size=48, amplitude_px=1.5,
                 noise_sigma=3.0, flicker=0.04, jpeg_quality=80),
    "casme2": dict(subjects=24, clips=145, balance=(88, 32, 25), fps=200.0, frames=64, size=64, amplitude_px=1.5),
    "samm": dict(subjects=28, clips=133, balance=(92, 26, 15), fps=200.0, frames=64, size=80, amplitude_px=1.5,
                 grayscale=True, noise_sigma=1.0, head_drift_px=0.6),
}

# The shifted style: changes to the fields above (noise is scaled, not set, so each part keeps its own look).
SHIFTED: dict[str, float] = dict(texture_scale=1.8, shading=0.25, head_drift_px=2.0, head_rotation_deg=1.5,
                                 amplitude_px=1.2, min_amplitude=0.45, extra_au_prob=0.35, blink_prob=0.45,
                                 unilateral_prob=0.35)
SHIFTED_NOISE_FACTOR = 1.6


def shifted(config: SynthConfig) -> SynthConfig:
    """``config`` in the shifted style (:data:`SHIFTED`, noise x :data:`SHIFTED_NOISE_FACTOR`)."""
    return dataclasses.replace(config, **SHIFTED, noise_sigma=config.noise_sigma * SHIFTED_NOISE_FACTOR)


def composite_configs(seed: int = 0, *, shift: bool = False, scale: float = 1.0,
                      workers: int = 0) -> dict[str, SynthConfig]:
    """The three part configs of the composite-shaped SynthME (see the module docstring).

    ``scale`` < 1 shrinks every part's subjects and clips (at least 2 subjects, 2 clips each)
    and keeps its class proportions: the same shape, small enough for tests and smoke runs.
    """
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    configs = {}
    for k, (part, fields) in enumerate(COMPOSITE_PARTS.items()):
        fields = dict(fields)
        if scale < 1:
            fields["subjects"] = max(2, round(fields["subjects"] * scale))
            fields["clips"] = max(2 * fields["subjects"], round(fields["clips"] * scale))
        config = SynthConfig(**fields, seed=PART_SEED_STRIDE * (k + 1) + seed, workers=workers)
        configs[part] = shifted(config) if shift else config
    return configs


def generate_composite(out: str | Path, seed: int = 0, *, shift: bool = False, scale: float = 1.0,
                       workers: int = 0) -> Path:
    """Write the composite-shaped SynthME: ``OUT/<part>/`` (each a SynthME dataset) and ``OUT/manifest.json``.

    Refuses a non-empty ``out`` (:class:`~mewb.synth.generator.OutputExistsError`).
    """
    out = Path(out)
    check_new_output(out)
    configs = composite_configs(seed, shift=shift, scale=scale, workers=workers)
    for config in configs.values():
        config.validate()
    for part, config in configs.items():
        generate_dataset(out / part, config)
    manifest = {
        "generator": GENERATOR_VERSION,
        "preset": "composite",
        "shifted": shift,
        "scale": scale,
        "seed": seed,
        "parts": {part: {"folder": part, "dataset": f"synth-{part}", "seed": c.seed, "subjects": c.subjects,
                         "clips": c.total_clips, "fps": c.fps} for part, c in configs.items()},
    }
    (out / "manifest.json").write_text(jsonio.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def identity_seeds(root: str | Path) -> set[int]:
    """The generator seeds of a SynthME folder (one, or one per composite part); empty if not SynthME."""
    from mewb.data.common import DatasetError
    from mewb.data.synth import read_manifest

    try:
        manifest = read_manifest(Path(root))
    except (DatasetError, OSError):
        return set()
    if "parts" in manifest:
        return {int(p["seed"]) for p in manifest["parts"].values()}
    procedural = not manifest.get("config", {}).get("photos")  # photos are identities of their own
    return {int(manifest["seed"])} if "seed" in manifest and procedural else set()
