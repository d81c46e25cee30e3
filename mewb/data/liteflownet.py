"""LiteFlowNet in pure PyTorch (CPU and GPU), loading the public PyTorch weights.

Paper: Hui, Tang and Loy, "LiteFlowNet: A Lightweight Convolutional Neural Network for Optical
Flow Estimation", CVPR 2018, https://arxiv.org/abs/1805.07036. IM3DR-MFER computes its flow
modality with it.

Weights: the widely used PyTorch port's state dict (``network-default.pytorch`` and siblings
from sniklaus/pytorch-liteflownet). The module names below follow that state dict, so its
keys load directly; both its older ``module*`` key spelling and the newer ``net*`` one are
accepted. mewb never downloads weights: pass ``weights=PATH`` or set
``MEWB_LITEFLOWNET_WEIGHTS`` (see ``weights_path``).

What differs from that port: the correlation (cost volume) layer is written here in plain
PyTorch (``correlation``) instead of a CUDA kernel, so the network also runs on the CPU;
its semantics (7x7 displacements, stride, channel order, mean over channels, zero padding)
follow the original kernel and are tested against a naive loop in ``tests/test_liteflownet.py``.
The backward warp samples exactly ``p + flow`` (``align_corners=True`` with a matching pixel
scale); the port's newer revisions mix ``align_corners=False`` with a ``(W - 1) / 2`` scale,
which differs by a factor ``W / (W - 1)`` in the warp (under 1 % at these sizes).

What could not be verified here (no weights on the development machines, no downloads): that
real weights give the published accuracy (e.g. Sintel/KITTI EPE). The tests check the
correlation layer against a loop reference, output shapes and finiteness with random weights,
state-dict key compatibility with the public naming, and the missing-weights error. Before
relying on it, compare ``estimate_flow`` on the port's ``images/first.png``/``second.png``
against its ``out.flo``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_ENV = "MEWB_LITEFLOWNET_WEIGHTS"

# Per-level constants, indexed by pyramid level 2..6 (level L has 1/2**(L-1) of the input size).
_BACKWARD_SCALE = {2: 10.0, 3: 5.0, 4: 2.5, 5: 1.25, 6: 0.625}  # flow units -> level pixels
_KERNEL = {2: 7, 3: 5, 4: 5, 5: 3, 6: 3}  # flow-head kernel / regularisation window
_FEATURE_CHANNELS = {2: 32, 3: 64, 4: 96, 5: 128, 6: 192}
_FLOW_SCALE = 20.0  # the network predicts flow / 20 in input pixels

# Mean colour (B, G, R) of the training images, subtracted from inputs in [0, 1].
_MEAN_FIRST = (0.411618, 0.434631, 0.454253)
_MEAN_SECOND = (0.410782, 0.433645, 0.452793)


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(negative_slope=0.1)


def correlation(first: torch.Tensor, second: torch.Tensor, stride: int = 1, max_displacement: int = 3) -> torch.Tensor:
    """Cost volume of FlowNet-style correlation (kernel size 1), as in LiteFlowNet.

    first, second: (N, C, H, W). Output: (N, D*D, ceil(H/stride), ceil(W/stride)) with
    D = 2 * max_displacement + 1. Output pixel (y, x) compares ``first[:, :, y*s, x*s]`` with
    ``second[:, :, y*s + dy*s, x*s + dx*s]`` (zero outside), averaged over channels, for
    dy, dx in [-max_displacement, max_displacement]; channel index ``(dy + md) * D + (dx + md)``.

    Written here (no OpenCV/scipy equivalent): 49 strided slices of the zero-padded second
    map, one multiply-mean each; memory stays at one (N, C, H', W') product at a time.
    """
    if first.shape != second.shape:
        raise ValueError(f"correlation inputs differ: {tuple(first.shape)} vs {tuple(second.shape)}")
    s, md = stride, max_displacement
    pad = md * s
    padded = F.pad(second, (pad, pad, pad, pad))  # (N, C, H + 2pad, W + 2pad)
    anchors = first[:, :, ::s, ::s]  # (N, C, H', W')
    h_out, w_out = anchors.shape[-2:]
    planes = []
    for dy in range(-md, md + 1):
        for dx in range(-md, md + 1):
            y0, x0 = pad + dy * s, pad + dx * s
            shifted = padded[:, :, y0 : y0 + (h_out - 1) * s + 1 : s, x0 : x0 + (w_out - 1) * s + 1 : s]
            planes.append((anchors * shifted).mean(dim=1))
    return torch.stack(planes, dim=1)  # (N, D*D, H', W')


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (N, C, H, W) at ``p + flow(p)``; flow (N, 2, H, W) in pixels; zeros outside."""
    n, _, h, w = flow.shape
    ys = torch.linspace(-1.0, 1.0, h, device=flow.device, dtype=flow.dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=flow.device, dtype=flow.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    # With align_corners=True, one pixel is 2 / (size - 1) in grid units.
    gx = grid_x + flow[:, 0] * (2.0 / max(w - 1, 1))
    gy = grid_y + flow[:, 1] * (2.0 / max(h - 1, 1))
    grid = torch.stack([gx, gy], dim=-1)  # (N, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class Features(nn.Module):
    """NetC: the shared 6-level feature pyramid (strides 1, 2, 4, 8, 16, 32)."""

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int, extra: int) -> nn.Sequential:
            layers = [nn.Conv2d(c_in, c_out, 3, stride, 1), _lrelu()]
            for _ in range(extra):
                layers += [nn.Conv2d(c_out, c_out, 3, 1, 1), _lrelu()]
            return nn.Sequential(*layers)

        self.netOne = nn.Sequential(nn.Conv2d(3, 32, 7, 1, 3), _lrelu())
        self.netTwo = block(32, 32, 2, extra=2)
        self.netThr = block(32, 64, 2, extra=1)
        self.netFou = block(64, 96, 2, extra=1)
        self.netFiv = block(96, 128, 2, extra=0)
        self.netSix = block(128, 192, 2, extra=0)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in (self.netOne, self.netTwo, self.netThr, self.netFou, self.netFiv, self.netSix):
            x = stage(x)
            feats.append(x)
        return feats  # six maps, (N, 32|32|64|96|128|192, H/2**i, W/2**i)


def _flow_head(c_in: int, level: int) -> nn.Sequential:
    k = _KERNEL[level]
    return nn.Sequential(
        nn.Conv2d(c_in, 128, 3, 1, 1), _lrelu(),
        nn.Conv2d(128, 64, 3, 1, 1), _lrelu(),
        nn.Conv2d(64, 32, 3, 1, 1), _lrelu(),
        nn.Conv2d(32, 2, k, 1, k // 2),
    )


def _level2_feat() -> nn.Sequential:
    # Level 2 features have 32 channels; a 1x1 conv lifts them to 64 for matching.
    return nn.Sequential(nn.Conv2d(32, 64, 1, 1, 0), _lrelu())


class Matching(nn.Module):
    """NetE-M: descriptor matching via the cost volume; adds a flow residual."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.scale = _BACKWARD_SCALE[level]
        self.stride = 2 if level < 4 else 1  # fine levels correlate on a stride-2 grid ...
        self.netFeat = _level2_feat() if level == 2 else nn.Sequential()
        self.netUpflow = None if level == 6 else nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False, groups=2)
        # ... and upsample the cost volume back with a learned depthwise deconvolution.
        self.netUpcorr = nn.ConvTranspose2d(49, 49, 4, 2, 1, bias=False, groups=49) if level < 4 else None
        self.netMain = _flow_head(49, level)

    def forward(self, feat1: torch.Tensor, feat2: torch.Tensor, flow: torch.Tensor | None) -> torch.Tensor:
        feat1, feat2 = self.netFeat(feat1), self.netFeat(feat2)
        if flow is not None:
            flow = self.netUpflow(flow)  # (N, 2, H, W) from the coarser level
            feat2 = backward_warp(feat2, flow * self.scale)
        cost = F.leaky_relu(correlation(feat1, feat2, stride=self.stride), 0.1)  # (N, 49, ., .)
        if self.netUpcorr is not None:
            cost = self.netUpcorr(cost)
        residual = self.netMain(cost)
        return residual if flow is None else flow + residual


class Subpixel(nn.Module):
    """NetE-S: sub-pixel refinement from the features and the current flow."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.scale = _BACKWARD_SCALE[level]
        channels = 64 if level == 2 else _FEATURE_CHANNELS[level]
        self.netFeat = _level2_feat() if level == 2 else nn.Sequential()
        self.netMain = _flow_head(2 * channels + 2, level)

    def forward(self, feat1: torch.Tensor, feat2: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        feat1, feat2 = self.netFeat(feat1), self.netFeat(feat2)
        feat2 = backward_warp(feat2, flow * self.scale)
        return flow + self.netMain(torch.cat([feat1, feat2, flow], dim=1))


class Regularization(nn.Module):
    """NetE-R: feature-driven local convolution (an edge-aware, learned flow smoothing)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.scale = _BACKWARD_SCALE[level]
        k = self.window = _KERNEL[level]
        if level < 5:
            self.netFeat = nn.Sequential(nn.Conv2d(_FEATURE_CHANNELS[level], 128, 1, 1, 0), _lrelu())
            feat_channels = 128
        else:
            self.netFeat = nn.Sequential()
            feat_channels = _FEATURE_CHANNELS[level]
        widths = [feat_channels + 3, 128, 128, 64, 64, 32, 32]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, 1, 1), _lrelu()]
        self.netMain = nn.Sequential(*layers)
        if level >= 5:
            self.netDist = nn.Sequential(nn.Conv2d(32, k * k, k, 1, k // 2))
        else:  # separable k x 1 then 1 x k
            self.netDist = nn.Sequential(
                nn.Conv2d(32, k * k, (k, 1), 1, (k // 2, 0)),
                nn.Conv2d(k * k, k * k, (1, k), 1, (0, k // 2)),
            )
        self.netScaleX = nn.Conv2d(k * k, 1, 1, 1, 0)
        self.netScaleY = nn.Conv2d(k * k, 1, 1, 1, 0)

    def forward(self, img1: torch.Tensor, img2: torch.Tensor, feat1: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        n, _, h, w = flow.shape
        k = self.window
        warped = backward_warp(img2, flow * self.scale)
        brightness_error = (img1 - warped).pow(2).sum(1, keepdim=True).sqrt().detach()  # (N, 1, H, W)
        centred = flow - flow.mean(dim=(2, 3), keepdim=True)
        dist = self.netDist(self.netMain(torch.cat([brightness_error, centred, self.netFeat(feat1)], dim=1)))
        dist = -dist.pow(2)  # (N, k*k, H, W)
        weights = (dist - dist.max(dim=1, keepdim=True).values).exp()
        inv_total = weights.sum(dim=1, keepdim=True).reciprocal()
        u_nbhd = F.unfold(flow[:, 0:1], k, padding=k // 2).view(n, k * k, h, w)
        v_nbhd = F.unfold(flow[:, 1:2], k, padding=k // 2).view(n, k * k, h, w)
        u = self.netScaleX(weights * u_nbhd) * inv_total
        v = self.netScaleY(weights * v_nbhd) * inv_total
        return torch.cat([u, v], dim=1)


class LiteFlowNet(nn.Module):
    """LiteFlowNet: ``forward(first, second)`` on (N, 3, H, W) BGR in [0, 1], H and W multiples of 32.

    Returns flow (N, 2, H/2, W/2) in input pixels (u, v); ``estimate_flow`` handles any size.
    """

    levels = (2, 3, 4, 5, 6)

    def __init__(self) -> None:
        super().__init__()
        self.netFeatures = Features()
        self.netMatching = nn.ModuleList([Matching(level) for level in self.levels])
        self.netSubpixel = nn.ModuleList([Subpixel(level) for level in self.levels])
        self.netRegularization = nn.ModuleList([Regularization(level) for level in self.levels])

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        if first.shape != second.shape or first.ndim != 4 or first.shape[1] != 3:
            raise ValueError(f"expected two (N, 3, H, W) tensors, got {tuple(first.shape)}, {tuple(second.shape)}")
        h, w = first.shape[-2:]
        if h % 32 or w % 32:
            raise ValueError(f"H and W must be multiples of 32, got {h}x{w} (estimate_flow resizes)")
        first = first - first.new_tensor(_MEAN_FIRST).view(1, 3, 1, 1)
        second = second - second.new_tensor(_MEAN_SECOND).view(1, 3, 1, 1)
        feats1, feats2 = self.netFeatures(first), self.netFeatures(second)
        imgs1, imgs2 = [first], [second]
        for feat in feats1[1:]:  # image pyramid matching each feature level's size
            imgs1.append(F.interpolate(imgs1[-1], size=feat.shape[-2:], mode="bilinear", align_corners=False))
            imgs2.append(F.interpolate(imgs2[-1], size=feat.shape[-2:], mode="bilinear", align_corners=False))
        flow = None
        for i in range(len(self.levels) - 1, -1, -1):  # coarse (level 6) to fine (level 2)
            idx = i + 1  # levels 2..6 use features 1..5
            flow = self.netMatching[i](feats1[idx], feats2[idx], flow)
            flow = self.netSubpixel[i](feats1[idx], feats2[idx], flow)
            flow = self.netRegularization[i](imgs1[idx], imgs2[idx], feats1[idx], flow)
        return flow * _FLOW_SCALE  # (N, 2, H/2, W/2)


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    """The weights file: ``weights`` if given, else ``$MEWB_LITEFLOWNET_WEIGHTS``; must exist."""
    chosen = weights if weights is not None else os.environ.get(WEIGHTS_ENV)
    if not chosen:
        raise FileNotFoundError(
            "LiteFlowNet needs a weights file and mewb never downloads one: get the PyTorch "
            "state dict 'network-default.pytorch' (sniklaus/pytorch-liteflownet) yourself, then "
            f"pass weights=PATH or set {WEIGHTS_ENV}=PATH. Or choose another flow backend "
            "(tvl1, farneback, dis)."
        )
    path = Path(chosen).expanduser()
    if not path.is_file():
        source = "weights argument" if weights is not None else f"${WEIGHTS_ENV}"
        raise FileNotFoundError(f"LiteFlowNet weights file not found: {path} (from {source})")
    return path


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Accept the port's older key spelling (``moduleFeatures.moduleOne.0.weight``) too."""
    return {key.replace("module", "net"): value for key, value in state.items()}


def load_liteflownet(weights: str | os.PathLike | None = None, device: str | torch.device = "auto") -> LiteFlowNet:
    """Build the network and load the weights strictly (a key mismatch raises), in eval mode."""
    from mewb.device import resolve_device

    path = weights_path(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a state dict (got {type(state).__name__})")
    net = LiteFlowNet()
    try:
        net.load_state_dict(convert_state_dict(state), strict=True)
    except RuntimeError as error:
        raise ValueError(f"{path} does not match LiteFlowNet's state dict: {error}") from None
    return net.to(resolve_device(device)).eval()


_LOADED: dict[tuple, LiteFlowNet] = {}


def _cached_network(weights, device) -> LiteFlowNet:
    from mewb.device import resolve_device

    path = weights_path(weights)
    dev = resolve_device(device)
    key = (str(path.resolve()), path.stat().st_mtime_ns, str(dev))
    if key not in _LOADED:
        _LOADED.clear()  # one network at a time
        _LOADED[key] = load_liteflownet(path, dev)
    return _LOADED[key]


@torch.no_grad()
def run_network(net: LiteFlowNet, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Flow (2, H, W) float32 from grey frames (H, W) in [0, 255], any size: resize to a
    multiple of 32, run, resize the flow back and rescale u, v to the original pixels."""
    device = next(net.parameters()).device
    h, w = prev.shape

    def prep(frame: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(frame, dtype=np.float32) / 255.0).to(device)
        return t.view(1, 1, h, w).expand(1, 3, h, w)  # grey -> 3 identical channels

    hp, wp = 32 * math.ceil(h / 32), 32 * math.ceil(w / 32)
    one = F.interpolate(prep(prev), size=(hp, wp), mode="bilinear", align_corners=False)
    two = F.interpolate(prep(nxt), size=(hp, wp), mode="bilinear", align_corners=False)
    flow = F.interpolate(net(one, two), size=(h, w), mode="bilinear", align_corners=False)  # (1, 2, H, W)
    flow[:, 0] *= w / wp
    flow[:, 1] *= h / hp
    return flow[0].float().cpu().numpy()


def estimate_flow(
    prev: np.ndarray,
    nxt: np.ndarray,
    *,
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
) -> np.ndarray:
    """LiteFlowNet flow (2, H, W) float32 from grey frames (H, W); loads (and caches) the weights."""
    return run_network(_cached_network(weights, device), prev, nxt)
