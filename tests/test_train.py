"""One fold: config round trip, motion-aware augmentation, losses, determinism, selection protocols."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mewb.models import create_model
from mewb.train.augment import PARAMS, Augment, AugmentedDataset, apply, shift_time
from mewb.train.config import TrainConfig
from mewb.train.loop import FocalLoss, class_weights, train_fold
from mewb.train.toy import ToyClipDataset, toy_samples

FAST = dict(epochs=1, batch_size=8)  # one step per epoch


def identity(**changes) -> dict:
    params = {"angle": 0.0, "zoom": 1.0, "shift_x": 0.0, "shift_y": 0.0, "flip": False, "shift_t": 0}
    params.update(changes)
    return params


# ---------------------------------------------------------------------------------------------
# Config


def test_train_config_dict_round_trip_and_validation():
    config = TrainConfig(epochs=3, lr=1e-3, loss="focal", sampler="balanced", selection="inner-val")
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(ValueError, match="unknown selection"):
        TrainConfig(selection="test")
    assert TrainConfig().selection == "fixed"  # never selection on the test subject by default
    assert TrainConfig(selection="test-leaky").protocol == "test-selected (leaky)"


# ---------------------------------------------------------------------------------------------
# Augmentation


def ramp_item(t=3, size=16):
    """Frames with a horizontal gradient; flow u=1, v=0 with strain increasing to the right."""
    x = torch.linspace(-1, 1, size)
    frames = x.expand(3, t, size, size).clone()
    flow = torch.zeros(3, t - 1, size, size)
    flow[0] = 1.0
    flow[2] = x.expand(t - 1, size, size)
    return {"frames": frames, "flow": flow, "label": torch.tensor(1), "index": 0}


def test_identity_transform_leaves_the_clip_unchanged():
    item = ramp_item()
    out = apply(item, identity())
    torch.testing.assert_close(out["frames"], item["frames"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out["flow"], item["flow"], atol=1e-5, rtol=0)
    assert out["label"] is item["label"]


def test_flip_mirrors_frames_and_strain_and_negates_u():
    item = ramp_item()
    out = apply(item, identity(flip=True))
    torch.testing.assert_close(out["frames"], item["frames"].flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out["flow"][0], -item["flow"][0], atol=1e-5, rtol=0)  # u negated
    torch.testing.assert_close(out["flow"][1], item["flow"][1], atol=1e-5, rtol=0)  # v unchanged
    torch.testing.assert_close(out["flow"][2], item["flow"][2].flip(-1), atol=1e-5, rtol=0)  # strain mirrored


def test_rotation_turns_flow_vectors_and_zoom_scales_them():
    item = ramp_item(size=32)
    out = apply(item, identity(angle=math.radians(90)))
    centre = out["flow"][:2, :, 12:20, 12:20]  # away from the zero padding
    # a 90-degree turn of the image turns (u, v) = (1, 0) to (0, +-1)
    assert centre[0].abs().max() < 1e-4
    assert torch.allclose(centre[1].abs(), torch.ones_like(centre[1]), atol=1e-4)
    zoomed = apply(item, identity(zoom=1.25))
    torch.testing.assert_close(zoomed["flow"][0, :, 12:20, 12:20], torch.full((2, 8, 8), 1.25), atol=1e-4, rtol=0)


def test_temporal_jitter_moves_frames_and_flow_together():
    frames = torch.arange(4.0).view(1, 4, 1, 1).expand(3, 4, 16, 16).clone()
    flow = torch.arange(1.0, 4.0).view(1, 3, 1, 1).expand(3, 3, 16, 16).clone()
    out = apply({"frames": frames, "flow": flow}, identity(shift_t=1), flow_mode="consecutive")
    assert out["frames"][0, :, 0, 0].tolist() == [1, 2, 3, 3]
    assert out["flow"][0, :, 8, 8].tolist() == pytest.approx([2, 3, 0])  # repeated edge frames: no motion
    assert shift_time(flow, -1, zero_outside=False)[0, :, 0, 0].tolist() == [1, 1, 2]


def test_augmented_dataset_is_deterministic_per_seed_epoch_index():
    base = ToyClipDataset(toy_samples(1, 2), frames=3, size=16)
    aug = AugmentedDataset(base, Augment(), seed=3)
    aug.set_epoch(1)
    a = aug[0]
    b = AugmentedDataset(base, Augment(), seed=3)
    b.set_epoch(1)
    torch.testing.assert_close(a["augment"], b[0]["augment"])
    b.set_epoch(2)
    assert not torch.equal(a["augment"], b[0]["augment"])
    torch.testing.assert_close(a["flow"], base[0]["flow"])  # items carry their draw; batches are transformed


def test_a_batch_is_transformed_clip_by_clip_as_each_clip_alone():
    base = ToyClipDataset(toy_samples(1, 4), frames=4, size=16)
    aug = AugmentedDataset(base, Augment(temporal_jitter=1), seed=0)
    aug.set_epoch(3)
    items = [aug[i] for i in range(4)]
    batch = aug.transform(torch.utils.data.default_collate(items))
    for i, item in enumerate(items):
        params = dict(zip(PARAMS, item["augment"].tolist()))
        alone = apply(item, params)
        for key in ("frames", "flow"):
            torch.testing.assert_close(batch[key][i], alone[key])
    assert not torch.equal(batch["flow"][0], items[0]["flow"])


# ---------------------------------------------------------------------------------------------
# Losses


def test_class_weights_come_from_training_counts():
    w = class_weights([0, 0, 0, 1], 3)
    assert w.tolist() == pytest.approx([4 / 6, 4 / 2, 0.0])


def test_focal_loss_with_gamma_zero_is_weighted_cross_entropy_and_focuses_otherwise():
    torch.manual_seed(0)
    logits, target = torch.randn(10, 3), torch.randint(0, 3, (10,))
    weight = torch.tensor([0.5, 1.0, 2.0])
    torch.testing.assert_close(FocalLoss(0.0, weight)(logits, target), F.cross_entropy(logits, target, weight=weight))
    easy = torch.tensor([[5.0, 0.0, 0.0]])
    assert FocalLoss(2.0)(easy, torch.tensor([0])) < 0.01 * F.cross_entropy(easy, torch.tensor([0]))


# ---------------------------------------------------------------------------------------------
# The loop


def fold_data(variant="flow_only", subjects=3):
    samples = toy_samples(subjects, 4)
    train, test = samples[:-4], samples[-4:]
    model_modalities = create_model(variant).modalities
    return (ToyClipDataset(train, modalities=model_modalities), [s.label for s in train],
            ToyClipDataset(test, modalities=model_modalities))


def run_once(config, variant="flow_only"):
    torch.set_num_threads(2)
    torch.manual_seed(config.seed)
    model = create_model(variant)
    train, labels, test = fold_data(variant)
    return train_fold(model, train, labels, config=config, num_classes=3, test_set=test)


def test_training_is_deterministic_on_cpu_for_a_seed():
    config = TrainConfig(**FAST, sampler="balanced", loss="focal")
    a, b = run_once(config), run_once(config)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.probs.shape == (4, 3) and np.allclose(a.probs.sum(1), 1, atol=1e-5)
    c = run_once(TrainConfig(**{**FAST, "seed": 1}, sampler="balanced", loss="focal"))
    assert not np.array_equal(a.probs, c.probs)


def test_selection_modes_need_their_data_and_leaky_is_labelled():
    train, labels, test = fold_data()
    model = create_model("flow_only")
    with pytest.raises(ValueError, match="validation set"):
        train_fold(model, train, labels, config=TrainConfig(selection="inner-val"), num_classes=3, test_set=test)
    lines: list[str] = []
    out = train_fold(model, train, labels, config=TrainConfig(**{**FAST, "epochs": 2}, selection="test-leaky"),
                     num_classes=3, test_set=test, log_fn=lines.append)
    assert lines and all("test-selected (leaky)" in line for line in lines)
    assert out.selected_epoch in (1, 2) and "test_uf1" in out.history[0]


def test_inner_validation_early_stops_on_the_validation_set():
    train, labels, test = fold_data()
    val = ToyClipDataset(toy_samples(4, 4)[12:16], modalities=("flow",))
    config = TrainConfig(**{**FAST, "epochs": 3}, selection="inner-val", patience=1, augment=False)
    out = train_fold(create_model("flow_only"), train, labels, config=config, num_classes=3, test_set=test, val_set=val)
    assert "val_uf1" in out.history[0] and "test_uf1" not in out.history[0]
    assert 1 <= out.selected_epoch <= len(out.history) <= 3


@pytest.mark.slow
def test_a_motion_model_learns_the_toy_signal():
    samples = toy_samples(6, 6)
    train, test = samples[:24], samples[24:]
    config = TrainConfig(epochs=6, batch_size=6, lr=2e-3)
    torch.manual_seed(0)
    out = train_fold(create_model("flow_only"), ToyClipDataset(train, modalities=("flow",)), [s.label for s in train],
                     config=config, num_classes=3, test_set=ToyClipDataset(test, modalities=("flow",)))
    assert (out.preds == out.labels).mean() >= 0.75


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_training_step_never_waits_for_the_gpu():
    """Host-device synchronisations per epoch do not grow with the steps: none inside a step (AMP on)."""
    import warnings

    def syncs(clips: int) -> int:
        samples = toy_samples(1, clips)
        data = ToyClipDataset(samples, modalities=("flow",))
        config = TrainConfig(epochs=1, batch_size=4, precision="fp16", recalibrate_bn=False)
        torch.manual_seed(0)
        model = create_model("flow_only", width=16)
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                train_fold(model, data, [s.label for s in samples], config=config, num_classes=3, device="cuda")
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    assert syncs(8) == syncs(32)  # 2 steps or 8 steps: the same epoch-level reads
