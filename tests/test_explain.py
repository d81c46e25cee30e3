"""mewb.explain: attribution wrappers, volumes and overlays, tested as Captum tests its methods.

Tiny models with known gradients; properties rather than pinned numbers: IG completeness
(convergence delta near 0), batched equals unbatched, inputs unchanged, shapes of everything.
Real IM3DR-MFER models run on 4x32x32 clips so the whole file stays fast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from mewb.data.preprocess import frames_to_tensor_array
from mewb.explain import (
    ATTRIBUTION_METHODS,
    attention_maps,
    attribute,
    error_heatmaps,
    frames_from_tensor,
    list_methods,
    normalise_saliency,
    overlay,
    prepare,
    saliency_volume,
    without_inplace,
)
from mewb.models import create_model

T, S = 4, 32  # clip length and size of the fast tests

warnings.filterwarnings("ignore", category=UserWarning, module="captum")


class LinearDual(nn.Module):
    """logits[k] = <W_frames[k], frames> + <W_flow[k], flow>: the input gradient is exactly W."""

    modalities = ("frames", "flow")

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w_frames = nn.Parameter(torch.randn(classes, 3, T, 8, 8, generator=g))
        self.w_flow = nn.Parameter(torch.randn(classes, 3, T - 1, 8, 8, generator=g))

    def forward(self, x: dict) -> torch.Tensor:
        return torch.einsum("nctij,kctij->nk", x["frames"], self.w_frames) + torch.einsum(
            "nctij,kctij->nk", x["flow"], self.w_flow
        )


class TinyConvDual(nn.Module):
    """Two conv streams with in-place ReLUs, summed and pooled: nonlinear, with a 3D layer ``trunk``."""

    modalities = ("frames", "flow")

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.streams = nn.ModuleDict(
            {m: nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(inplace=True)) for m in self.modalities}
        )
        self.trunk = nn.Sequential(nn.Conv3d(4, 6, 3, stride=(1, 2, 2), padding=1), nn.ReLU(inplace=True))
        self.fc = nn.Linear(6, classes)

    def forward(self, x: dict) -> torch.Tensor:
        a = self.streams["frames"](x["frames"])  # (N, 4, T, H, W)
        b = self.streams["flow"](x["flow"])  # (N, 4, T-1, H, W)
        b = nn.functional.pad(b, (0, 0, 0, 0, 1, 0))  # flow step k lines up with frame k+1
        return self.fc(self.trunk(a + b).mean(dim=(2, 3, 4)))


def clip(n: int = 1, size: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"frames": torch.randn(n, 3, T, size, size, generator=g), "flow": torch.randn(n, 3, T - 1, size, size, generator=g)}


@pytest.fixture(scope="module")
def full_model():
    torch.manual_seed(0)
    return create_model("full").eval()


def test_registry_lists_the_methods_and_rejects_unknown_names():
    assert set(list_methods()) == {"attention", "gradcam", "guided_gradcam", "integrated_gradients", "occlusion", "saliency"}
    with pytest.raises(ValueError, match="valid names: attention"):
        attribute(LinearDual(), clip(), "lime")


def test_adapter_takes_positional_inputs_in_modality_order_and_leaves_the_model_alone(full_model):
    adapter = prepare(full_model)
    x = clip(2, S)
    assert torch.allclose(adapter(x["frames"], x["flow"]), full_model(x), atol=1e-5)
    assert prepare(adapter) is adapter
    assert all(not getattr(m, "inplace", False) for m in adapter.modules())
    assert any(getattr(m, "inplace", False) for m in full_model.modules())  # the caller's model is untouched
    with pytest.raises(ValueError, match="missing"):
        adapter.as_tuple({"frames": x["frames"]})


def test_without_inplace_keeps_outputs():
    model = TinyConvDual().eval()
    x = clip()
    assert torch.equal(without_inplace(model)(x), model(x))


def test_saliency_of_a_linear_model_is_its_weight():
    model = LinearDual()
    x = clip(2)
    result = attribute(model, x, "saliency", target=1)
    assert torch.allclose(result["frames"], model.w_frames[1].abs().expand(2, -1, -1, -1, -1))
    assert torch.allclose(result["flow"], model.w_flow[1].abs().expand(2, -1, -1, -1, -1))
    signed = attribute(model, x, "saliency", target=0, absolute=False)
    assert torch.allclose(signed["frames"][0], model.w_frames[0])


def test_integrated_gradients_is_complete_on_a_linear_and_a_nonlinear_model():
    x = clip(2)
    linear = attribute(LinearDual(), x, "integrated_gradients", target=0, n_steps=8, baseline="zero")
    total = sum(a.sum(dim=(1, 2, 3, 4)) for a in linear.maps.values())
    assert torch.allclose(total, LinearDual()(x)[:, 0], atol=1e-3)  # baseline 0 gives logit 0
    conv = attribute(TinyConvDual(), x, "integrated_gradients", n_steps=64, baseline="zero")
    assert conv.delta.abs().max() < 1e-2
    onset = attribute(TinyConvDual(), x, "integrated_gradients", n_steps=64)
    assert onset.options["baseline"] == "onset"  # the default: "the face did not move"
    assert onset.delta.abs().max() < 1e-2
    assert onset["frames"][:, :, 0].abs().max() == 0  # the onset frame equals its baseline: no attribution
    assert onset["frames"][:, :, 1:].abs().sum() > 0


def test_default_target_is_the_predicted_class():
    model = TinyConvDual().eval()
    x = clip(3)
    result = attribute(model, x, "gradcam", layer="trunk")
    assert torch.equal(result.target, model(x).argmax(dim=1))
    assert torch.equal(attribute(model, x, "gradcam", layer="trunk", target=2).target, torch.tensor([2, 2, 2]))


@pytest.mark.parametrize(
    "method, options",
    [
        ("saliency", {}),
        ("integrated_gradients", {"n_steps": 8}),
        ("gradcam", {"layer": "trunk"}),
        ("guided_gradcam", {"layer": "trunk"}),
        ("occlusion", {"window": (2, 4, 4), "stride": (2, 4, 4)}),
    ],
)
def test_batched_equals_unbatched_and_inputs_are_unchanged(method, options):
    model = TinyConvDual().eval()
    x = clip(3)
    before = {k: v.clone() for k, v in x.items()}
    batched = attribute(model, x, method, target=1, **options)
    for k in x:
        assert torch.equal(x[k], before[k]) and not x[k].requires_grad
    for i in range(3):
        single = attribute(model, {k: v[i : i + 1] for k, v in x.items()}, method, target=1, **options)
        for m in model.modalities:
            assert torch.allclose(batched[m][i : i + 1], single[m], atol=1e-4, rtol=1e-3), (method, m, i)


def test_every_method_on_the_full_model_gives_maps_shaped_like_each_input(full_model):
    x = clip(1, S)
    shapes = {"frames": (1, 3, T, S, S), "flow": (1, 3, T - 1, S, S)}
    options = {"integrated_gradients": {"n_steps": 4}, "occlusion": {"window": (2, 16, 16), "stride": (2, 16, 16)}}
    for method in list_methods():
        result = attribute(full_model, x, method, **options.get(method, {}))
        for m, a in result.maps.items():
            expected = shapes[m] if not result.shared else (1, 1) + shapes[m][2:]
            assert tuple(a.shape) == expected, (method, m)
            assert torch.isfinite(a).all(), method
        assert saliency_volume(result).shape == (1, T, S, S)


def test_guided_gradcam_needs_and_gets_an_inplace_free_copy(full_model):
    # The backbone's ReLUs are in place; guided backprop's hooks fail on them unless copied.
    result = attribute(full_model, clip(1, S), "guided_gradcam", layer=full_model.trunk[0])
    assert result["frames"].abs().sum() > 0


def test_gradcam_on_a_named_layer_and_unknown_layer_names(full_model):
    result = attribute(full_model, clip(1, S), "gradcam", layer="streams.flow.2")
    assert result["flow"].shape == (1, 1, T - 1, S, S)
    assert (result["frames"] >= 0).all()  # Grad-CAM keeps positive evidence
    with pytest.raises(ValueError, match="no layer"):
        attribute(full_model, clip(1, S), "gradcam", layer="stage9")


def test_attention_maps_are_upsampled_to_the_frames(full_model):
    maps = attention_maps(full_model, clip(2, S))
    assert maps["spatial_time"].shape == (2, T, S, S)
    assert maps["channel_time"].shape == (2, 512, T)
    assert maps["time"].shape == (2, T)
    assert ((maps["spatial_time"] >= 0) & (maps["spatial_time"] <= 1)).all()
    with pytest.raises(ValueError, match="no CASANet"):
        attention_maps(create_model("dual").eval(), clip(1, S))


def test_saliency_volume_aligns_flow_steps_to_frames_1_to_T_minus_1():
    maps = {"frames": torch.zeros(1, 3, T, 4, 4), "flow": torch.ones(1, 3, T - 1, 4, 4)}
    volume = saliency_volume(maps)
    assert volume.shape == (1, T, 4, 4)
    assert (volume[0, 0] == 0).all() and (volume[0, 1:] == 3).all()  # sum over 3 channels
    assert (saliency_volume(maps, modalities=("frames",)) == 0).all()
    flow_only = saliency_volume({"flow": -torch.ones(1, 3, T - 1, 4, 4)}, channels="abs")
    assert flow_only.shape == (1, T, 4, 4) and (flow_only[0, 1:] == 3).all()
    shared = saliency_volume({"frames": torch.ones(1, 1, T, 4, 4), "flow": torch.ones(1, 1, T - 1, 4, 4)}, shared=True)
    assert np.allclose(shared, 1.0)  # one map resampled twice is averaged, not doubled
    assert np.allclose(saliency_volume({"frames": torch.full((1, 3, T, 2, 2), -2.0)}, channels="norm"), np.sqrt(12))
    with pytest.raises(ValueError):
        saliency_volume(maps, channels="max")


def test_frames_from_tensor_inverts_the_standardisation():
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (T, S, S, 3), dtype=np.uint8)
    assert np.array_equal(frames_from_tensor(frames_to_tensor_array(pictures)), pictures)
    assert frames_from_tensor(torch.zeros(2, 3, T, S, S)).shape == (2, T, S, S, 3)


def test_overlay_shapes_signs_and_clipping():
    frames = np.full((T, S, S, 3), 100, np.uint8)
    volume = np.zeros((T, S, S), np.float32)
    assert np.array_equal(overlay(frames, volume), frames)  # no saliency, no colour
    rng = np.random.default_rng(0)
    volume = rng.uniform(0.0, 0.1, (T, S, S)).astype(np.float32)
    volume[1, 4:8, 4:8] = 1.0
    volume[2, 0, 0] = 1000.0  # an outlier
    out = overlay(frames, volume, opacity=0.8, clip_percentile=99.0)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.array_equal(out[2, 0, 0], out[1, 5, 5])  # the outlier is clipped to the region's colour
    assert np.abs(out[1, 5, 5].astype(int) - 100).sum() > 100  # drawn at full opacity
    unclipped = overlay(frames, volume, opacity=0.8, clip_percentile=100.0)
    assert np.abs(unclipped[1, 5, 5].astype(int) - 100).sum() <= 3  # the outlier would wash it out
    grey = overlay(frames[..., 0], volume, weight_by_value=False, opacity=0.0)
    assert np.array_equal(grey, frames)
    signed = normalise_saliency(np.array([-2.0, 0.0, 2.0]), sign="all", clip_percentile=100)
    assert np.allclose(signed, [0.0, 0.5, 1.0])
    assert np.allclose(normalise_saliency(np.array([-2.0, 1.0]), sign="positive", clip_percentile=100), [0, 1])
    assert np.allclose(normalise_saliency(np.array([-2.0, 1.0]), sign="negative", clip_percentile=100), [1, 0])
    assert overlay(frames[0], volume[1], sign="all").shape == (S, S, 3)
    with pytest.raises(ValueError, match="align"):
        overlay(frames, volume[:2])


def test_error_heatmaps_average_correct_and_wrong_clips_per_class():
    volumes = np.stack([np.full((2, 2), v, np.float32) for v in (1, 3, 5, 7)])
    result = error_heatmaps(volumes, labels=[0, 0, 1, 1], predictions=[0, 1, 1, 1], num_classes=3)
    assert result["correct"].shape == (3, 2, 2)
    assert np.allclose(result["correct"][0], 1) and np.allclose(result["wrong"][0], 3)
    assert np.allclose(result["correct"][1], 6) and np.isnan(result["wrong"][1]).all()
    assert result["n_correct"].tolist() == [1, 2, 0] and result["n_wrong"].tolist() == [1, 0, 0]


def test_methods_registry_entries_are_callables():
    assert all(callable(ATTRIBUTION_METHODS.get(name)) for name in ATTRIBUTION_METHODS.names())


def test_time_methods_reports_a_median_per_method():
    from mewb.explain import time_methods

    table = time_methods(TinyConvDual(), clip(), methods=("saliency", "attention"), repeats=2, warmup=0)
    assert list(table.method) == ["saliency"]  # no CASANet, no attention row
    assert (table.median_s > 0).all() and (table.min_s <= table.median_s).all() and (table.repeats == 2).all()


def test_default_cam_layer_is_the_deepest_stage_that_still_has_a_spatial_map():
    from mewb.explain.adapter import prepare, resolve_layer
    from mewb.models import create_model

    adapter = prepare(create_model("dual").eval())
    trunk = adapter.model.trunk
    small = (torch.randn(1, 3, 2, 32, 32), torch.randn(1, 3, 1, 32, 32))  # stage 4 is 2x2 here
    large = (torch.randn(1, 3, 2, 128, 128), torch.randn(1, 3, 1, 128, 128))  # stage 4 is 4x4
    assert resolve_layer(adapter, None) is trunk[-1]
    assert resolve_layer(adapter, None, large) is trunk[-1]
    chosen = resolve_layer(adapter, None, small)
    assert chosen is not trunk[-1] and chosen in list(trunk)


def test_display_overlay_draws_the_map_bilinearly_on_the_face_at_display_size():
    from mewb.explain import display_overlay

    faces = np.full((2, 32, 32, 3), 100, np.uint8)
    volume = np.zeros((2, 32, 32), np.float32)
    volume[1, 8, 24] = 1.0  # one hot pixel, frame 1
    big, drawn = display_overlay(faces, volume, side=160)
    assert big.shape == drawn.shape == (2, 160, 160, 3) and big.dtype == drawn.dtype == np.uint8
    assert (drawn[0] == big[0]).all()  # no saliency on frame 0: the face alone (one scale per clip)
    changed = np.argwhere((drawn[1] != big[1]).any(axis=-1))
    centre = changed.mean(axis=0)
    assert np.allclose(centre, [8.5 * 5 - 0.5, 24.5 * 5 - 0.5], atol=1.5)  # where the pixel lands at 5x
    assert 4 < np.ptp(changed[:, 0]) < 15  # spread by interpolation over about two source pixels, not one block
