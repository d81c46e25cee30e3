"""Sample -> tensors: shapes per modality, flow that follows the motion, caching, EVM path."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mewb.data.cache import PreprocessCache
from mewb.data.dataset import ClipDataset
from mewb.data.pipeline import ClipPipeline
from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample


def blob_clip(folder, *, frames=12, size=48, shift_px=0.25, label=0, subject="sub01", clip="EP01_01"):
    """A textured face-sized image with a Gaussian blob moving right by ``shift_px`` per frame."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(60, 190, (size, size)).astype(np.float32), (0, 0), 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    paths = []
    for t in range(frames):
        cx = size / 2 - 4 + shift_px * t
        blob = 60 * np.exp(-((xx - cx) ** 2 + (yy - size / 2) ** 2) / (2 * 4.0**2))
        image = np.clip(texture + blob, 0, 255).astype(np.uint8)
        path = folder / f"img{t + 1}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
        paths.append(path)
    return Sample(
        dataset="synth", subject=subject, clip=clip, label=label, emotion="negative",
        onset=1, apex=frames // 2, offset=frames, frames=tuple(paths),
        frame_numbers=tuple(range(1, frames + 1)), fps=200.0, extra={"cropped": True},
    )


@pytest.fixture
def sample(tmp_path):
    return blob_clip(tmp_path / "sub01" / "EP01_01")


def test_items_hold_only_the_requested_modalities_with_documented_shapes(sample):
    config = PreprocessConfig(clip_length=6, size=32, flow_backend="farneback")
    both = ClipDataset([sample], config, modalities=("frames", "flow"))[0]
    assert both["frames"].shape == (3, 6, 32, 32) and both["frames"].dtype == torch.float32
    assert both["flow"].shape == (3, 5, 32, 32)
    assert both["label"].item() == 0 and both["index"] == 0
    flow_only = ClipDataset([sample], config, modalities=("flow",))[0]
    assert "frames" not in flow_only and torch.equal(flow_only["flow"], both["flow"])


def test_flow_follows_the_moving_blob(sample):
    config = PreprocessConfig(clip_length=6, size=48, flow_backend="farneback")
    flow = ClipPipeline(config, ("flow",)).arrays(sample)["flow"]  # (3, T-1, H, W)
    u, v, strain = flow[:, -1]  # onset -> last frame: the blob moved right by ~2.75 px
    moving = np.hypot(u, v) > 0.5
    assert moving.any()
    assert u[moving].mean() > 1.0 and abs(v[moving].mean()) < 0.5 * u[moving].mean()
    assert (strain >= 0).all()


def test_onset_apex_mode_gives_one_flow(sample):
    config = PreprocessConfig(clip_length=2, size=32, sampling="onset_apex", flow_mode="onset_apex", flow_backend="dis")
    item = ClipDataset([sample], config, modalities=("frames", "flow"))[0]
    assert item["frames"].shape == (3, 2, 32, 32) and item["flow"].shape == (3, 1, 32, 32)


def test_flow_computed_larger_is_resized_with_its_pixels(sample, tmp_path):
    small = PreprocessConfig(clip_length=2, size=24, sampling="onset_apex", flow_mode="onset_apex", flow_backend="farneback")
    large = PreprocessConfig(**{**small.to_dict(), "flow_size": 48})
    native = ClipPipeline(PreprocessConfig(**{**small.to_dict(), "size": 48}), ("flow",)).arrays(sample)["flow"]
    cache = PreprocessCache(tmp_path / "cache")
    both = ClipPipeline(large, ("frames", "flow"), cache).arrays(sample)
    assert both["frames"].shape == (2, 24, 24, 3) and both["flow"].shape == (3, 1, 24, 24)
    # The blob moved ~1.5 px at 48 px, so ~0.75 px in 24-px units; the mean over the face is kept.
    np.testing.assert_allclose(both["flow"][0].mean(), native[0].mean() / 2, rtol=0.05)
    direct = ClipPipeline(small, ("flow",), cache).arrays(sample)["flow"]
    assert not np.allclose(direct, both["flow"])  # its own cache entry, not the 24-px flow
    with pytest.raises(ValueError, match="flow_size"):
        PreprocessConfig(size=48, flow_size=32)


def test_cache_serves_identical_arrays_without_reading_frames(sample, tmp_path, monkeypatch):
    cache = PreprocessCache(tmp_path / "cache")
    config = PreprocessConfig(clip_length=4, size=32, flow_backend="farneback")
    ds = ClipDataset([sample], config, modalities=("frames", "flow"), cache=cache)
    ds.warm(progress=False)
    assert cache.info()["entries"] == 2  # frames + flow
    first = ds[0]

    import mewb.data.preprocess as preprocess

    def fail(*args, **kwargs):
        raise AssertionError("a warm cache must not load or compute anything")

    monkeypatch.setattr(preprocess, "load_frames", fail)
    monkeypatch.setattr(preprocess, "flow_from_frames", fail)
    second = ds[0]
    assert torch.equal(first["frames"], second["frames"]) and torch.equal(first["flow"], second["flow"])
    # a different setting is a different entry
    ClipDataset([sample], PreprocessConfig(clip_length=4, size=24, flow_backend="farneback"), modalities=("frames",), cache=cache)
    assert cache.info()["entries"] == 2


def test_evm_magnifies_the_motion_before_flow(sample):
    plain = PreprocessConfig(clip_length=6, size=48, flow_backend="farneback")
    magnified = PreprocessConfig(clip_length=6, size=48, flow_backend="farneback", evm=True, evm_alpha=3.0, evm_low_hz=2.0, evm_high_hz=60.0)
    base = ClipPipeline(plain, ("flow",)).arrays(sample)["flow"]
    more = ClipPipeline(magnified, ("flow",)).arrays(sample)["flow"]
    # the blob's displacement over the clip is larger after magnification
    assert np.abs(more[0]).max() > 1.2 * np.abs(base[0]).max()


def test_evm_in_onset_apex_mode_magnifies_the_single_flow(sample):
    plain = PreprocessConfig(clip_length=2, size=48, sampling="onset_apex", flow_mode="onset_apex", flow_backend="farneback")
    magnified = PreprocessConfig(**{**plain.to_dict(), "evm": True, "evm_alpha": 3.0, "evm_low_hz": 2.0, "evm_high_hz": 60.0})
    base = ClipPipeline(plain, ("frames", "flow")).arrays(sample)
    more = ClipPipeline(magnified, ("frames", "flow")).arrays(sample)
    assert more["frames"].shape == base["frames"].shape == (2, 48, 48, 3)
    assert more["flow"].shape == (3, 1, 48, 48)
    assert np.abs(more["flow"][0]).max() > 1.2 * np.abs(base["flow"][0]).max()


def test_bad_settings_fail_clearly(sample, tmp_path):
    with pytest.raises(ValueError, match="modalities"):
        ClipDataset([sample], PreprocessConfig(), modalities=("audio",))
    with pytest.raises(ValueError, match="evm needs sampling"):
        ClipPipeline(PreprocessConfig(evm=True, sampling="apex_window"), ("frames",)).arrays(sample)
    with pytest.raises(ValueError, match="unknown preprocessing settings"):
        PreprocessConfig.from_dict({"clip_length": 4, "colour_space": "hsv"})
    with pytest.raises(ValueError, match="needs a cache"):
        ClipDataset([sample], PreprocessConfig()).warm()
    flow_image = Sample(dataset="x", subject="s1", clip="c", label=0, emotion="n", flow_image=tmp_path / "f.png")
    with pytest.raises(ValueError, match="no face frames"):
        ClipPipeline(PreprocessConfig(), ("frames",)).arrays(flow_image)


def test_config_round_trips():
    config = PreprocessConfig(clip_length=4, flow_backend="dis")
    assert PreprocessConfig.from_dict(config.to_dict()) == config
