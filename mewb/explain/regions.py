"""Where on the face a map puts its energy: brows, eyes, nose, cheeks, mouth corners, chin.

The paper says the model "focuses on eyes and mouth corners"; this module turns that into a
number per clip: the share of a saliency map's energy ``sum |s|`` inside each facial region (the
rest, hair, background and the forehead above the brows, is ``other``).

Regions are discs around facial landmarks (:class:`mewb.synth.faces.FaceRegions`), sized in
units of the face's half width; a pixel within reach of several landmarks belongs to the nearest
one, so the regions never overlap and the shares add up to 1 with ``other``. Landmarks come from:

- ``synthme``: the face SynthME rendered for the clip's subject, rebuilt exactly from the
  dataset's ``manifest.json`` (its generator settings and seed) and scaled to the map;
- ``template``: average proportions placed from eyes at fixed positions of mewb's aligned crop
  (:func:`template_regions`), for any other dataset. No landmark model that installs offline with
  our stack was found (face-mesh wheels pin their own numpy and OpenCV builds), so real faces
  use the template; the table says which was used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from mewb.data.sample import Sample
from mewb.synth.faces import FaceRegions, regions_from_eyes

FACE_REGIONS = ("brows", "eyes", "nose", "cheeks", "mouth_corners", "chin")
# region -> (landmark names, disc radius in face half-widths)
_LANDMARKS: dict[str, tuple[tuple[str, ...], float]] = {
    "brows": (("brow_r_inner", "brow_r_outer", "brow_l_inner", "brow_l_outer"), 0.2),
    "eyes": (("eye_r", "eye_l"), 0.25),
    "nose": (("nose_tip", "nose_wing_r", "nose_wing_l"), 0.18),
    "cheeks": (("cheek_r", "cheek_l"), 0.28),
    "mouth_corners": (("mouth_corner_r", "mouth_corner_l"), 0.22),
    "chin": (("chin",), 0.25),
}
TEMPLATE_EYES = ((0.33, 0.40), (0.67, 0.40))  # (x, y) fractions of an aligned crop: subject's right, left eye


def region_masks(regions: FaceRegions, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """``{region: (H, W) bool}`` for :data:`FACE_REGIONS`, disjoint (nearest landmark wins)."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    names, distances = [], []
    for region, (landmarks, radius) in _LANDMARKS.items():
        for landmark in landmarks:
            x, y = getattr(regions, landmark)
            d = np.hypot(xs - x, ys - y) / (radius * regions.scale)  # < 1 inside the disc
            names.append(region)
            distances.append(d)
    distances = np.stack(distances)  # (L, H, W)
    nearest = distances.argmin(axis=0)
    inside = distances.min(axis=0) < 1.0
    return {region: inside & np.isin(nearest, [i for i, n in enumerate(names) if n == region])
            for region in FACE_REGIONS}


def scaled(regions: FaceRegions, factor: float) -> FaceRegions:
    """``regions`` in an image ``factor`` times as large (points and lengths scaled)."""
    values = {}
    for f in fields(regions):
        v = getattr(regions, f.name)
        values[f.name] = (v[0] * factor, v[1] * factor) if isinstance(v, tuple) else v * factor
    return replace(regions, **values)


def template_regions(size: int) -> FaceRegions:
    """Average facial proportions in a ``size``-px aligned crop (eyes at :data:`TEMPLATE_EYES`)."""
    (rx, ry), (lx, ly) = TEMPLATE_EYES
    return regions_from_eyes((rx * size, ry * size), (lx * size, ly * size))


@lru_cache(maxsize=512)
def _synth_regions(root: str, subject: str) -> FaceRegions | None:
    from mewb.synth.generator import SynthConfig, _subject_face

    from mewb.data.common import DatasetError
    from mewb.data.synth import read_manifest

    try:
        values = dict(read_manifest(Path(root))["config"])
    except (DatasetError, OSError, KeyError):
        return None
    if values.get("photos"):
        return None  # a photo's landmarks come from its cascade detection: not rebuilt here
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        config = SynthConfig(**values)
        index = int(subject.removeprefix("sub")) - 1
    except (TypeError, ValueError):
        return None
    regions = _subject_face(config, index).regions
    return scaled(regions, 1.0 / config.size)  # in fractions of the image side


def face_regions(sample: Sample, size: int) -> tuple[FaceRegions, str]:
    """The landmarks of ``sample``'s face in a ``size``-px map, and where they came from
    (``"synthme"`` or ``"template"``, see the module docstring)."""
    if sample.ground_truth is not None:
        root = Path(sample.ground_truth).parent.parent.parent  # ROOT/ground_truth/subNN/clip.npz
        regions = _synth_regions(str(root), sample.subject)
        if regions is not None:
            return scaled(regions, float(size)), "synthme"
    return template_regions(size), "template"


def region_shares(volume: np.ndarray, masks: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Share of ``sum |volume|`` (``(T, H, W)`` or ``(H, W)``) in each region, plus ``other``."""
    energy = np.abs(np.asarray(volume, dtype=np.float64))
    if energy.ndim == 3:
        energy = energy.sum(axis=0)
    total = energy.sum()
    shares = {r: float(energy[m].sum() / total) if total > 0 else float("nan") for r, m in masks.items()}
    shares["other"] = float(1.0 - sum(shares.values())) if total > 0 else float("nan")
    return shares


def region_table(scores, *, by: tuple[str, ...] = ("variant", "method", "class")):
    """Mean region shares of :func:`mewb.explain.evaluate.score_runs` rows per variant, method and class.

    Columns: ``by``, one per region (``share_brows`` ... ``share_other``), ``clips`` and
    ``landmarks`` (``synthme`` / ``template``: where the regions came from).
    """
    import pandas as pd

    columns = [f"share_{r}" for r in (*FACE_REGIONS, "other")]
    if scores.empty or columns[0] not in scores:
        return pd.DataFrame(columns=[*by, *columns, "clips", "landmarks"])
    grouped = scores.groupby(list(by), sort=True)
    table = grouped[columns].mean()
    table["clips"] = grouped.size()
    table["landmarks"] = grouped["landmarks"].agg(lambda v: "+".join(sorted(set(v))))
    return table.reset_index()
