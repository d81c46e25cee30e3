"""Every registered model: shapes, finiteness, gradients, attention maps, clear input errors."""

from __future__ import annotations

import pytest
import torch

from mewb.device import use_memory_format
from mewb.models import create_model, data_defaults, list_models
from mewb.models.complexity import complexity_table, count_parameters, example_inputs
from mewb.models.layers import CASANet, MSCAF, channel_shuffle

VARIANTS = ["baseline", "flow_only", "improved", "dual", "full"]


def make_inputs(model, batch, frames, height, width, flow_frames=None):
    steps = {"frames": frames, "flow": flow_frames or frames}
    return {m: torch.randn(batch, 3, steps[m], height, width) for m in model.modalities}


def test_registry_lists_reference_and_every_ablation_variant():
    assert set(list_models()) == {"r3d18", *VARIANTS}


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'resnet50'.*baseline.*full"):
        create_model("resnet50")


def test_variants_use_the_modalities_of_the_paper_ablation():
    modalities = {name: create_model(name).modalities for name in list_models()}
    assert modalities["baseline"] == modalities["improved"] == ("frames",)
    assert modalities["flow_only"] == ("flow",)
    assert modalities["dual"] == modalities["full"] == ("frames", "flow")
    assert data_defaults("full") == {"evm": True}  # read before any model is built
    assert data_defaults("dual") == {}
    assert create_model("full").attention_modules() and not create_model("dual").attention_modules()
    assert any(isinstance(m, MSCAF) for m in create_model("improved").modules())
    assert not any(isinstance(m, MSCAF) for m in create_model("baseline").modules())


def test_dense_reference_has_torchvision_r3d18_parameter_count():
    # torchvision's r3d_18 has 33,371,472 parameters with its 400-class head; with a 3-class
    # head that is 33,371,472 - 513 * 397.
    assert count_parameters(create_model("r3d18")) == 33_371_472 - 513 * 397


@pytest.mark.parametrize("name", ["r3d18", *VARIANTS])
@pytest.mark.parametrize("frames,height,width", [(1, 16, 16), (1, 28, 28), (4, 28, 28), (8, 32, 48)])
def test_forward_shapes_and_finite(name, frames, height, width):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5).eval()
    inputs = make_inputs(model, 2, frames, height, width)
    with torch.no_grad():
        logits = model(inputs)
        embedding = model.features(inputs)
    assert logits.shape == (2, 5)
    assert embedding.shape == (2, model.embedding_dim) == (2, 512)
    assert torch.isfinite(logits).all() and torch.isfinite(embedding).all()


@pytest.mark.parametrize("name", ["r3d18", *VARIANTS])
def test_every_parameter_receives_a_gradient(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    logits = model(make_inputs(model, 2, 4, 32, 32))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"parameters without gradient: {missing[:5]}"


@pytest.mark.parametrize("flow_frames", [1, 3, 7])
def test_dual_models_fuse_streams_of_different_length(flow_frames):
    # T frames give T-1 flows; an onset-apex pair gives a single flow (T' = 1).
    model = create_model("full").eval()
    with torch.no_grad():
        logits = model(make_inputs(model, 2, 8 if flow_frames > 1 else 2, 32, 32, flow_frames=flow_frames))
    assert logits.shape == (2, 3)


def test_channel_shuffle_is_a_permutation_that_mixes_groups():
    groups, per_group = 4, 3
    x = torch.arange(groups * per_group, dtype=torch.float32).reshape(1, -1, 1, 1, 1)
    shuffled = channel_shuffle(x, groups).flatten()
    assert sorted(shuffled.tolist()) == x.flatten().tolist()  # a permutation
    source_group = (shuffled // per_group).long()
    # every run of `groups` consecutive output channels takes one channel from each input group
    for start in range(0, groups * per_group, groups):
        assert sorted(source_group[start : start + groups].tolist()) == list(range(groups))
    # works on any number of trailing axes, and rejects an indivisible count
    assert channel_shuffle(torch.randn(2, 8, 5), 2).shape == (2, 8, 5)
    with pytest.raises(ValueError, match="do not split"):
        channel_shuffle(torch.randn(1, 6, 2), 4)


def test_channel_shuffle_keeps_a_channels_last_layout_and_its_values():
    x = torch.randn(2, 16, 3, 5, 4)
    cl = x.contiguous(memory_format=torch.channels_last_3d)
    out = channel_shuffle(cl, 4)
    assert out.is_contiguous(memory_format=torch.channels_last_3d) and not out.is_contiguous()
    assert torch.equal(out, channel_shuffle(x, 4))


@pytest.mark.parametrize("name", ["flow_only", "full"])
def test_a_channels_last_model_computes_what_the_contiguous_one_does(name):
    torch.manual_seed(0)
    model = create_model(name)
    inputs = make_inputs(model, 2, 2, 32, 32, flow_frames=1)
    twin = create_model(name)
    twin.load_state_dict(model.state_dict())
    use_memory_format(twin, "channels_last")
    model.train(), twin.train()
    torch.manual_seed(1)  # the same dropout masks for both
    out = model(inputs)
    torch.manual_seed(1)
    out_cl = twin({m: x.contiguous(memory_format=torch.channels_last_3d) for m, x in inputs.items()})
    torch.testing.assert_close(out_cl, out, rtol=1e-4, atol=1e-5)
    out.square().sum().backward()
    out_cl.square().sum().backward()
    for (key, p), q in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-3, atol=1e-5, msg=key)


def test_grouped_blocks_see_every_input_channel():
    # With the shuffle, a block's output depends on input channels of every group.
    model = create_model("improved", groups=8).eval()
    block = model.trunk[-1][-1]  # stage 4, last block (512 channels, 8 groups)
    x = torch.randn(1, 512, 1, 4, 4, requires_grad=True)
    block(x)[0, 0].sum().backward()
    touched_groups = {int(c) // 64 for c in torch.nonzero(x.grad.abs().sum(dim=(0, 2, 3, 4)))}
    assert touched_groups == set(range(8))


def test_attention_maps_have_the_right_shapes_and_range():
    model = create_model("full").eval()
    with pytest.raises(RuntimeError, match="forward pass first"):
        model.attention_maps()
    with torch.no_grad():
        model(make_inputs(model, 2, 8, 64, 64, flow_frames=7))
    maps = model.attention_maps()
    # stage 4 of an 8x64x64 clip: T 8 -> 1 (three strided stages), H, W 64 -> 4
    assert maps["channel_time"].shape == (2, 512, 1)
    assert maps["spatial_time"].shape == (2, 1, 4, 4)
    for m in maps.values():
        assert m.min() >= 0 and m.max() <= 1 and not m.requires_grad
    with pytest.raises(ValueError, match="no CASANet"):
        create_model("dual").attention_maps()


def test_casanet_in_stage_3_attends_at_twice_the_resolution_and_stage_4_stays_the_default():
    paper, finer = create_model("full").eval(), create_model("full", casanet_stage=3).eval()
    inputs = make_inputs(paper, 1, 4, 64, 64, flow_frames=3)
    with torch.no_grad():
        paper(inputs), finer(inputs)
    assert paper.attention_maps()["spatial_time"].shape[-2:] == (4, 4)  # 64 px / 16
    assert finer.attention_maps()["spatial_time"].shape[-2:] == (8, 8)  # 64 px / 8
    assert finer.attention_maps()["channel_time"].shape[1] == 256  # stage 3's width
    from mewb.explain import attention_maps

    volume = attention_maps(finer, inputs)
    assert next(iter(volume.values())).shape[-2:] == (64, 64)  # upsampled to the clip like the paper's
    with pytest.raises(ValueError, match="casanet_stage must be in the shared trunk, stages 3-4"):
        create_model("full", casanet_stage=2)


def test_casanet_block_alone_keeps_shape_and_exposes_maps():
    block = CASANet(64)
    x = torch.randn(3, 64, 5, 7, 9)
    assert block(x).shape == x.shape
    assert block.channel_time_map.shape == (3, 64, 5)
    assert block.spatial_time_map.shape == (3, 5, 7, 9)


@pytest.mark.parametrize(
    "name,bad,message",
    [
        ("full", {"frames": torch.randn(1, 3, 4, 32, 32)}, "'flow' is missing"),
        ("baseline", {"frames": torch.randn(1, 2, 4, 32, 32)}, r"must be \(N, 3, .*got shape \(1, 2, 4, 32, 32\)"),
        ("flow_only", {"flow": torch.randn(1, 3, 4, 8, 8)}, r"H>=16"),
        ("improved", {"frames": torch.randn(3, 4, 32, 32)}, "got shape"),
    ],
)
def test_bad_inputs_raise_clear_errors(name, bad, message):
    with pytest.raises(ValueError, match=message):
        create_model(name)(bad)


def test_sizes_meet_the_paper_aims_against_r3d18():
    rows = {r["name"]: r for r in complexity_table(["r3d18", "full", "baseline"], frames=16, size=112)}
    assert rows["r3d18"]["flops"] == pytest.approx(81.4e9, rel=0.01)  # torchvision: 40.7 GMAC
    assert rows["baseline"]["params_ratio"] == pytest.approx(1.0)
    assert rows["full"]["params_ratio"] < 0.40
    assert rows["full"]["flops_ratio"] < 0.50


def test_example_inputs_give_flow_one_step_less():
    inputs = example_inputs(create_model("dual"), batch=2, frames=16, size=32)
    assert inputs["frames"].shape == (2, 3, 16, 32, 32) and inputs["flow"].shape == (2, 3, 15, 32, 32)


@pytest.mark.parametrize("name", ["improved", "full"])
def test_difference_input_sees_only_what_changed_since_the_first_frame(name):
    torch.manual_seed(0)
    raw = create_model(name).eval()
    diff = create_model(name, frames_input="difference").eval()
    assert raw.state_dict().keys() == diff.state_dict().keys()  # the same network, another input
    diff.load_state_dict(raw.state_dict())
    x = {"frames": torch.randn(2, 3, 3, 32, 32), "flow": torch.randn(2, 3, 2, 32, 32)}
    with torch.no_grad():
        expected = raw({**x, "frames": x["frames"][:, :, 1:] - x["frames"][:, :, :1]})
        torch.testing.assert_close(diff(x), expected)
        # a face's appearance (any fixed image added to every frame) cancels exactly
        face = 5 * torch.randn(2, 3, 1, 32, 32)
        torch.testing.assert_close(diff({**x, "frames": x["frames"] + face}), diff(x), atol=1e-5, rtol=1e-4)
        assert not torch.allclose(raw({**x, "frames": x["frames"] + face}), raw(x), atol=1e-3)
    with pytest.raises(ValueError, match="at least 2 frames"):
        diff({**x, "frames": x["frames"][:, :, :1]})
    with pytest.raises(ValueError, match="frames_input must be one of"):
        create_model(name, frames_input="ratio")


@pytest.mark.parametrize("name", ["baseline", "improved", "full"])
def test_width_scales_every_stage_and_keeps_the_architecture(name):
    default, narrow = create_model(name), create_model(name, width=32)
    assert create_model(name, width=64).state_dict().keys() == default.state_dict().keys()
    assert count_parameters(create_model(name, width=64)) == count_parameters(default)
    # the same layers (MSCAF, CASANet, groups), every convolution with half the channels
    assert narrow.state_dict().keys() == default.state_dict().keys()
    assert narrow.embedding_dim == 256 and default.embedding_dim == 512
    # parameters are quadratic in width: about a quarter (CASANet's and the head's 1D parts are not)
    assert 0.23 < count_parameters(narrow) / count_parameters(default) < 0.27
    torch.manual_seed(0)
    inputs = make_inputs(narrow, 2, 3, 32, 32, flow_frames=2)
    assert narrow.eval()(inputs).shape == (2, 3) and narrow.features(inputs).shape == (2, 256)
    with pytest.raises(ValueError, match="width must be a positive multiple of 8, got 12"):
        create_model(name, width=12)
