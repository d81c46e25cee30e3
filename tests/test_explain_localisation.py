"""Is the map right? Localisation scores on hand-made maps, deletion curves on a model whose
output depends on a known region, and SynthME ground truth aligned with the frames seen."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mewb.explain.localisation import (
    area_share,
    curve_auc,
    deletion_curve,
    deletion_inputs,
    deletion_scores,
    energy_share,
    localisation_scores,
    pointing_game,
    random_maps,
    region_volume,
)

T, S = 4, 16


@pytest.fixture
def region() -> np.ndarray:
    r = np.zeros((T, S, S), bool)
    r[:, 4:8, 6:12] = True
    return r


def test_energy_share_is_one_inside_and_the_area_share_for_a_uniform_map(region):
    inside = np.where(region, np.random.default_rng(0).uniform(0.5, 1, region.shape), 0.0)
    assert energy_share(inside, region) == pytest.approx(1.0)
    assert energy_share(-inside, region) == pytest.approx(1.0)  # energy is |s|
    assert energy_share(np.ones(region.shape), region) == pytest.approx(area_share(region))
    assert area_share(region) == pytest.approx(24 / 256)
    assert np.isnan(energy_share(np.zeros(region.shape), region))


def test_pointing_game_and_its_tolerance(region):
    m = np.zeros(region.shape)
    m[2, 5, 7] = 1.0
    assert pointing_game(m, region)
    m[1, 0, 0] = 2.0
    assert not pointing_game(m, region)
    m[1, 0, 0] = 0.0
    m[1, 3, 6] = -5.0  # one pixel above the region: |s| counts
    assert not pointing_game(m, region) and pointing_game(m, region, tolerance=1)


def test_random_baseline_is_near_the_area_share(region):
    scores = localisation_scores(np.where(region, 1.0, 0.0), region, n_random=40)
    assert scores["energy_share"] == 1.0 and scores["pointing"] == 1.0
    assert scores["random_energy_share"] == pytest.approx(scores["area_share"], abs=0.05)
    assert 0.0 <= scores["random_pointing"] <= 0.4
    maps = random_maps((T, S, S), n=3, seed=1)
    assert maps.shape == (3, T, S, S) and (maps >= 0).all()
    assert np.array_equal(maps, random_maps((T, S, S), n=3, seed=1))


def test_random_peaks_fall_anywhere_so_a_central_region_is_hit_by_its_area_share():
    region = np.zeros((2, 32, 32), bool)
    region[:, 12:22, 10:22] = True  # a mouth-sized patch in the middle: 11.7% of the voxels
    hits = np.mean([pointing_game(m, region) for m in random_maps(region.shape, n=400, seed=0)])
    assert hits == pytest.approx(area_share(region), abs=0.05)


def test_region_volume_kinds():
    motion = np.zeros((T, S, S), np.float32)
    motion[2, 4:8, 4:8] = 1.0
    motion[3, 4:8, 4:8] = 0.05
    mask = motion[2] > 0
    gt = {"motion": motion, "mask": mask}
    assert region_volume(gt, "mask").sum() == T * 16
    moving = region_volume(gt, "motion")
    assert moving[2].sum() == 16 and moving[3].sum() == 0  # 5% of the peak is below the 10% threshold
    with pytest.raises(ValueError, match="valid"):
        region_volume(gt, "box")


class RegionModel(nn.Module):
    """Class 0's logit grows with the frames inside ``region`` (T, H, W); class 1's logit is 0."""

    modalities = ("frames",)

    def __init__(self, region: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("region", torch.as_tensor(region, dtype=torch.float32))

    def forward(self, x: dict) -> torch.Tensor:
        evidence = (x["frames"] * self.region).mean(dim=1).sum(dim=(1, 2, 3)) / self.region.sum() * 4.0  # (N,)
        return torch.stack([evidence, torch.zeros_like(evidence)], dim=1)


def test_deletion_curve_falls_faster_for_the_right_map_than_at_random(region):
    model = RegionModel(region).eval()
    frames = torch.zeros(1, 3, T, S, S)
    frames[:, :, 1:] = torch.as_tensor(region[1:], dtype=torch.float32)  # the onset frame is still
    inputs = {"frames": frames}
    fractions = np.linspace(0, 1, 11)
    right = deletion_curve(model, inputs, region.astype(float), target=0, fractions=fractions)
    assert right[0] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item(), abs=1e-4)  # 3 of 4 frames active
    assert right[-1] == pytest.approx(0.5, abs=1e-5)  # everything replaced by the onset frame
    assert np.all(np.diff(right) <= 1e-6)
    scores = deletion_scores(model, inputs, region.astype(float), target=0, fractions=fractions, n_random=3)
    assert scores["deletion_auc"] < scores["random_deletion_auc"] - 0.1
    wrong = deletion_curve(model, inputs, (~region).astype(float), target=0, fractions=fractions)
    assert curve_auc(fractions, wrong) > scores["random_deletion_auc"]
    with pytest.raises(ValueError, match="does not match"):
        deletion_curve(model, inputs, np.zeros((T, S, S + 1)), target=0)


def test_deletion_inputs_align_flow_and_use_the_reference():
    frames = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(1, 3, T, 2, 2).clone()
    flow = torch.ones(1, 3, T - 1, 2, 2)
    order = np.array([4 * 2 + 0])  # voxel (t=2, y=0, x=0) first
    out = deletion_inputs({"frames": frames, "flow": flow}, order, [0.0, 1 / (T * 4)])
    assert out["frames"].shape == (2, 3, T, 2, 2) and out["flow"].shape == (2, 3, T - 1, 2, 2)
    assert torch.equal(out["frames"][0], frames[0])
    assert (out["frames"][1, :, 2, 0, 0] == 0).all()  # onset value
    assert (out["flow"][1, :, 1, 0, 0] == 0).all() and out["flow"][1].sum() == 3 * (T - 1) * 4 - 3  # step 1 = frame 2
    mean = deletion_inputs({"frames": frames}, order, [1 / (T * 4)], reference="mean")
    assert torch.allclose(mean["frames"][0, :, 2, 0, 0], torch.full((3,), 1.5))
    with pytest.raises(ValueError):
        deletion_inputs({"frames": frames}, order, [0.5], reference="blur")


def test_curve_auc():
    assert curve_auc([0, 1], [1, 1]) == pytest.approx(1.0)
    assert curve_auc([0, 0.5, 1], [1, 0.5, 0]) == pytest.approx(0.5)


def _localisation_rows(energy: dict[tuple[str, str], tuple[float, float]], clips: int = 16):
    import pandas as pd

    return pd.DataFrame([
        {"method": m, "variant": v, "energy_share": e, "energy_share_sd": sd, "random_energy_share": 0.10,
         "area_share": 0.10, "pointing": 0.75 if e > 0.2 else 0.0, "random_pointing": 0.10, "clips": clips}
        for (m, v), (e, sd) in energy.items()
    ])


def test_localisation_findings_follow_the_numbers():
    from mewb.explain.evaluate import localisation_findings

    table = _localisation_rows({("integrated_gradients", "full"): (0.30, 0.12), ("attention", "full"): (0.11, 0.04),
                                ("saliency", "flow_only"): (0.25, 0.10)})
    lines = localisation_findings(table)
    full = next(line for line in lines if line.startswith("full:"))
    assert "integrated_gradients localises best" in full and "0.300" in full and "3.0x" in full and "75%" in full
    assert "sd 0.120 over 16 clips" in full
    weak = lines[-1]
    assert weak.startswith("No better than a random map") and "attention on full (0.110 vs 0.100)" in weak
    assert "integrated_gradients on full" not in weak and "flow_only" not in weak
    # the same attention map, tighter over more clips, is now above the random map: the sentence goes
    table = _localisation_rows({("attention", "full"): (0.13, 0.02)}, clips=64)
    lines = localisation_findings(table)
    assert not any(line.startswith("No better") for line in lines) and "attention localises best" in lines[0]
