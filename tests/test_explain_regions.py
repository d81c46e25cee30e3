"""Facial regions of saliency (mewb.explain.regions): right places, disjoint, shares that add up."""

from __future__ import annotations

import numpy as np
import pytest

from mewb.data.readers import read_dataset
from mewb.explain.localisation import read_ground_truth
from mewb.explain.regions import (FACE_REGIONS, face_regions, region_masks, region_shares, region_table,
                                  template_regions)
from mewb.synth import SynthConfig, generate_dataset
from mewb.synth.generator import _subject_face


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("regions") / "s",
                            SynthConfig(subjects=2, clips_per_subject=6, size=64, seed=3, workers=1))


def test_regions_are_disjoint_and_in_facial_order(synth):
    masks = region_masks(template_regions(96), (96, 96))
    assert set(masks) == set(FACE_REGIONS) and all(m.any() for m in masks.values())
    assert int(np.sum([m.astype(int) for m in masks.values()], axis=0).max()) == 1
    rows = {r: np.nonzero(m)[0].mean() for r, m in masks.items()}
    assert rows["brows"] < rows["eyes"] < rows["nose"] < rows["mouth_corners"] < rows["chin"]


def test_synthme_regions_are_the_rendered_faces_landmarks(synth):
    sample = read_dataset("synth", synth)[0][0]
    regions, source = face_regions(sample, 128)
    rendered = _subject_face(SynthConfig(subjects=2, clips_per_subject=6, size=64, seed=3), 0).regions
    assert source == "synthme"
    np.testing.assert_allclose(regions.mouth_corner_l, np.array(rendered.mouth_corner_l) * 2, atol=1e-6)
    assert regions.scale == pytest.approx(rendered.scale * 2)


def test_ground_truth_motion_lands_where_its_action_units_are(synth):
    """Used as a 'saliency map', each clip's true motion puts its largest share where its AUs act."""
    where = {"positive": {"mouth_corners", "cheeks"}, "surprise": {"brows"}}
    checked = 0
    for sample in read_dataset("synth", synth)[0]:
        if sample.emotion not in where:
            continue
        motion, _ = read_ground_truth(sample.ground_truth)
        regions, _ = face_regions(sample, motion.shape[1])
        shares = region_shares(motion, region_masks(regions, motion.shape[1:]))
        assert sum(shares.values()) == pytest.approx(1.0)
        top = max(FACE_REGIONS, key=shares.get)
        assert top in where[sample.emotion], (sample.key, sample.action_units, shares)
        checked += 1
    assert checked >= 4


def test_region_table_averages_per_variant_method_and_class():
    import pandas as pd

    rows = [{"variant": "full", "method": "gradcam", "class": "positive", "landmarks": "synthme",
             **{f"share_{r}": v for r, v in zip((*FACE_REGIONS, "other"), (0.1, 0.2, 0.0, 0.3, 0.4, 0.0, 0.0))}},
            {"variant": "full", "method": "gradcam", "class": "positive", "landmarks": "synthme",
             **{f"share_{r}": v for r, v in zip((*FACE_REGIONS, "other"), (0.3, 0.2, 0.0, 0.1, 0.2, 0.0, 0.2))}}]
    table = region_table(pd.DataFrame(rows))
    assert len(table) == 1 and table["clips"].iloc[0] == 2 and table["share_brows"].iloc[0] == pytest.approx(0.2)
    assert table["landmarks"].iloc[0] == "synthme"
    assert region_table(pd.DataFrame()).empty
