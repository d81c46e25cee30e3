"""LiteFlowNet: the pure-PyTorch correlation against a loop, shapes with random weights,
state-dict compatibility, and the missing-weights error. Accuracy with real weights cannot be
checked here (no weights on these machines); see mewb/data/liteflownet.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mewb.data import liteflownet as lfn
from mewb.data.flow import compute_flow


def _naive_correlation(first: torch.Tensor, second: torch.Tensor, stride: int, md: int = 3) -> torch.Tensor:
    """Direct transcription of the definition: one output value at a time."""
    n, c, h, w = first.shape
    d = 2 * md + 1
    ho, wo = math.ceil(h / stride), math.ceil(w / stride)
    out = torch.zeros(n, d * d, ho, wo, dtype=torch.float64)
    for b in range(n):
        for y in range(ho):
            for x in range(wo):
                for dy in range(-md, md + 1):
                    for dx in range(-md, md + 1):
                        y2, x2 = y * stride + dy * stride, x * stride + dx * stride
                        if 0 <= y2 < h and 0 <= x2 < w:
                            total = sum(float(first[b, ch, y * stride, x * stride]) * float(second[b, ch, y2, x2]) for ch in range(c))
                            out[b, (dy + md) * d + (dx + md), y, x] = total / c
    return out


@pytest.mark.parametrize("stride,h,w", [(1, 9, 11), (2, 10, 12), (2, 9, 7)])
def test_correlation_matches_naive_loop(stride, h, w):
    g = torch.Generator().manual_seed(stride * 100 + h)
    first = torch.randn(2, 3, h, w, generator=g)
    second = torch.randn(2, 3, h, w, generator=g)
    fast = lfn.correlation(first, second, stride=stride)
    assert fast.shape == (2, 49, math.ceil(h / stride), math.ceil(w / stride))
    torch.testing.assert_close(fast.double(), _naive_correlation(first, second, stride), rtol=1e-5, atol=1e-6)


def test_correlation_peaks_at_the_true_displacement():
    g = torch.Generator().manual_seed(0)
    first = torch.randn(1, 16, 20, 20, generator=g)
    second = torch.roll(first, shifts=(1, -2), dims=(2, 3))  # content moves down 1, left 2
    cost = lfn.correlation(first, second)[0, :, 5:15, 5:15]  # (49, 10, 10), away from the wrap
    best = cost.mean(dim=(1, 2)).argmax().item()
    assert divmod(best, 7) == (1 + 3, -2 + 3)  # (dy + 3, dx + 3)


def test_backward_warp_integer_shift_is_exact():
    img = torch.arange(48.0).view(1, 1, 6, 8)
    flow = torch.zeros(1, 2, 6, 8)
    flow[:, 0] = 1.0  # sample one pixel to the right
    warped = lfn.backward_warp(img, flow)
    torch.testing.assert_close(warped[..., :-1], img[..., 1:])
    assert warped[..., -1].abs().max() < 1e-3  # zeros outside (up to grid rounding)


def test_network_shapes_with_random_weights():
    torch.manual_seed(0)
    net = lfn.LiteFlowNet().eval()
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(5.38e6, rel=0.01)  # paper: 5.37M
    x1, x2 = torch.rand(2, 3, 64, 96), torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        out = net(x1, x2)
    assert out.shape == (2, 2, 32, 48) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.rand(1, 3, 50, 64), torch.rand(1, 3, 50, 64))
    grey = (np.random.default_rng(0).random((50, 70)) * 255).astype(np.uint8)
    flow = lfn.run_network(net, grey, grey)
    assert flow.shape == (2, 50, 70) and flow.dtype == np.float32 and np.isfinite(flow).all()


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = lfn.LiteFlowNet()
    net(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)).square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None]
    assert not missing


# The public state dict's spelling and a few shapes, from the published architecture.
PUBLIC_KEYS = {
    "moduleFeatures.moduleOne.0.weight": (32, 3, 7, 7),
    "moduleFeatures.moduleSix.0.weight": (192, 128, 3, 3),
    "moduleMatching.0.moduleFeat.0.weight": (64, 32, 1, 1),
    "moduleMatching.0.moduleUpflow.weight": (2, 1, 4, 4),
    "moduleMatching.1.moduleUpcorr.weight": (49, 1, 4, 4),
    "moduleMatching.4.moduleMain.6.weight": (2, 32, 3, 3),
    "moduleSubpixel.0.moduleMain.0.weight": (128, 130, 3, 3),
    "moduleSubpixel.4.moduleMain.0.weight": (128, 386, 3, 3),
    "moduleRegularization.0.moduleFeat.0.weight": (128, 32, 1, 1),
    "moduleRegularization.0.moduleDist.1.weight": (49, 49, 1, 7),
    "moduleRegularization.4.moduleMain.0.weight": (128, 195, 3, 3),
    "moduleRegularization.4.moduleDist.0.weight": (9, 32, 3, 3),
    "moduleRegularization.2.moduleScaleX.weight": (1, 25, 1, 1),
}


def test_state_dict_follows_the_public_naming():
    state = lfn.LiteFlowNet().state_dict()
    converted = lfn.convert_state_dict(dict.fromkeys(PUBLIC_KEYS))
    for old_key, shape in PUBLIC_KEYS.items():
        new_key = old_key.replace("module", "net")
        assert new_key in converted and tuple(state[new_key].shape) == shape, old_key
    assert "netMatching.4.netUpflow.weight" not in state  # coarsest level starts from no flow
    assert "netMatching.2.netUpcorr.weight" not in state  # levels >= 4 correlate at stride 1


def test_weights_file_in_old_spelling_loads_and_is_used(tmp_path, monkeypatch):
    torch.manual_seed(1)
    net = lfn.LiteFlowNet().eval()
    old_spelling = {k.replace("net", "module"): v for k, v in net.state_dict().items()}
    path = tmp_path / "network-default.pytorch"
    torch.save(old_spelling, path)
    monkeypatch.setenv(lfn.WEIGHTS_ENV, str(path))
    rng = np.random.default_rng(0)
    a = (rng.random((40, 40)) * 255).astype(np.uint8)
    b = np.roll(a, 1, axis=1)
    via_backend = compute_flow(a, b, "liteflownet", device="cpu")
    np.testing.assert_allclose(via_backend, lfn.run_network(net, a, b), atol=1e-5)


def test_mismatched_weights_file_raises(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="does not match LiteFlowNet"):
        lfn.load_liteflownet(path, device="cpu")


def test_missing_weights_raise_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(lfn.WEIGHTS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        lfn.weights_path()
    with pytest.raises(FileNotFoundError, match="not found"):
        lfn.weights_path(tmp_path / "nope.pytorch")
    monkeypatch.setenv(lfn.WEIGHTS_ENV, str(tmp_path / "nope.pytorch"))
    with pytest.raises(FileNotFoundError, match="MEWB_LITEFLOWNET_WEIGHTS"):
        lfn.weights_path()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cpu_and_gpu_agree():
    torch.manual_seed(0)
    net = lfn.LiteFlowNet().eval()
    grey = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    shifted = np.roll(grey, 1, axis=1)
    cpu = lfn.run_network(net, grey, shifted)
    gpu = lfn.run_network(net.cuda(), grey, shifted)
    np.testing.assert_allclose(cpu, gpu, atol=1e-3)
