"""Flow backends, optical strain and the clip flow tensor.

Accuracy tolerance for the OpenCV backends on a smooth random texture shifted by a known
amount (64x64, 8-px border ignored): the median u and v are within ``TOLERANCE_PX`` of the true
shift (TV-L1 and Farneback 0.05 px, i.e. 10 % of a 0.5-px shift and 2.5 % of a 2-px one; DIS
0.08 px, as it reads a 0.5-px shift as ~0.55 px), and the mean flow points within 5 degrees of
the true direction. Measured errors are ~0.01 px (TV-L1), <0.005 px (Farneback).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy import ndimage

from mewb.data.flow import (
    remove_rigid_motion,
    FLOW_BACKENDS,
    clip_flow,
    compute_flow,
    normalise_flow,
    onset_apex_flow,
    optical_strain,
)

OPENCV_BACKENDS = ["tvl1", "farneback", "dis"]
TOLERANCE_PX = {"tvl1": 0.05, "farneback": 0.05, "dis": 0.08}
SIZE = 64
BORDER = 8


def _texture(seed: int = 0, size: int = SIZE + 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 1.5)
    return (tex - tex.min()) / (tex.max() - tex.min()) * 200 + 20


def _shifted(tex: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The texture moved by (dx, dy) px (content at x goes to x + dx), centre crop SIZE x SIZE.

    scipy's cubic spline shift, not cv2.warpAffine: OpenCV's bicubic kernel (a = -0.75) moves
    this texture by ~0.62 px when asked for 0.5, which would make the ground truth wrong.
    """
    moved = ndimage.shift(tex, (dy, dx), order=3, mode="reflect")
    c = (tex.shape[0] - SIZE) // 2
    return moved[c : c + SIZE, c : c + SIZE]


@pytest.mark.parametrize("backend", OPENCV_BACKENDS)
@pytest.mark.parametrize("dx,dy", [(0.5, 0.0), (0.0, 0.5), (2.0, 0.0), (-1.5, 2.0)])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_known_shift_is_recovered(backend, dx, dy, dtype):
    tex = _texture()
    prev, nxt = _shifted(tex, 0, 0), _shifted(tex, dx, dy)
    if dtype == "uint8":
        prev, nxt = np.rint(prev).astype(np.uint8), np.rint(nxt).astype(np.uint8)
    flow = compute_flow(prev, nxt, backend)
    assert flow.shape == (2, SIZE, SIZE) and flow.dtype == np.float32
    inner = flow[:, BORDER:-BORDER, BORDER:-BORDER].reshape(2, -1)
    med_u, med_v = np.median(inner, axis=1)
    tol = TOLERANCE_PX[backend]
    assert abs(med_u - dx) < tol and abs(med_v - dy) < tol, (med_u, med_v)
    mean = inner.mean(axis=1)
    cos = (mean[0] * dx + mean[1] * dy) / (np.hypot(*mean) * math.hypot(dx, dy))
    assert cos > math.cos(math.radians(5))


def _blob(cx: float, cy: float, size: int = SIZE, sigma: float = 6.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return (30 + 200 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))).astype(np.float32)


@pytest.mark.parametrize("backend", OPENCV_BACKENDS)
@pytest.mark.parametrize("step", [(1.0, 0.0), (0.0, -1.0), (-1.0, 1.0)])
def test_moving_gaussian_blob_mean_flow_points_its_way(backend, step):
    """The PyTorchVideo idea: the flow, weighted by where the blob is, follows the blob."""
    a = _blob(32, 32)
    b = _blob(32 + step[0], 32 + step[1])
    flow = compute_flow(a, b, backend)
    weight = (a - a.min()) / (a.max() - a.min())  # where the blob (the only structure) is
    mean = (flow * weight).sum(axis=(1, 2)) / weight.sum()
    cos = (mean @ np.array(step)) / (np.linalg.norm(mean) * np.linalg.norm(step))
    assert cos > 0.95, mean


def test_compute_flow_rejects_bad_input_and_unknown_backend():
    a = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="valid names: dis, farneback, liteflownet, tvl1"):
        compute_flow(a, a, "raft")
    with pytest.raises(ValueError, match="grey frame"):
        compute_flow(np.zeros((16, 16, 3), np.uint8), a)
    with pytest.raises(ValueError, match="differ in size"):
        compute_flow(a, np.zeros((16, 17), np.uint8))
    with pytest.raises(ValueError, match="unknown tvl1 options"):
        compute_flow(a, a, "tvl1", iterations=3)


def test_registry_lists_all_backends():
    assert FLOW_BACKENDS.names() == ["dis", "farneback", "liteflownet", "tvl1"]


def test_liteflownet_backend_without_weights_raises_and_never_falls_back(monkeypatch):
    monkeypatch.delenv("MEWB_LITEFLOWNET_WEIGHTS", raising=False)
    a = np.zeros((32, 32), np.uint8)
    with pytest.raises(FileNotFoundError, match="MEWB_LITEFLOWNET_WEIGHTS"):
        compute_flow(a, a, "liteflownet")


# Optical strain -----------------------------------------------------------------------------


def test_strain_of_linear_flow_matches_analytic_value():
    """u = a x + b y, v = c x + d y: ux = a, uy = b, vx = c, vy = d everywhere.

    b != c and a != d so that using du/dy for ux (or dv/dx for vy), the bug some public code
    has, gives a different number.
    """
    a, b, c, d = 0.03, 0.10, -0.02, 0.05
    y, x = np.mgrid[0:20, 0:30].astype(np.float32)
    flow = np.stack([a * x + b * y, c * x + d * y])
    strain = optical_strain(flow)
    expected = math.sqrt(a**2 + d**2 + 0.5 * (b + c) ** 2)
    assert strain.shape == (20, 30) and strain.dtype == np.float32
    np.testing.assert_allclose(strain, expected, rtol=1e-5)
    wrong = math.sqrt(b**2 + c**2 + 0.5 * (a + d) ** 2)  # derivatives along the wrong axes
    assert abs(expected - wrong) > 0.02


def test_strain_of_quadratic_flow_in_the_interior():
    """u = x^2 / 100, v = x y / 100: ux = x/50, uy = 0, vx = y/100, vy = x/100."""
    y, x = np.mgrid[0:40, 0:50].astype(np.float64)
    flow = np.stack([x**2 / 100, x * y / 100]).astype(np.float32)
    expected = np.sqrt((x / 50) ** 2 + (x / 100) ** 2 + 0.5 * (y / 100) ** 2)
    np.testing.assert_allclose(optical_strain(flow)[1:-1, 1:-1], expected[1:-1, 1:-1], rtol=1e-4, atol=1e-5)


def test_strain_of_rigid_translation_and_rotation_is_zero():
    y, x = np.mgrid[0:16, 0:16].astype(np.float32)
    theta = 0.01  # small rotation: u = -theta y, v = theta x (antisymmetric gradient)
    flow = np.stack([1.5 - theta * y, -0.5 + theta * x])
    np.testing.assert_allclose(optical_strain(flow), 0.0, atol=1e-6)


# Clip flow ----------------------------------------------------------------------------------


def _clip(shifts: list[float]) -> np.ndarray:
    tex = _texture(1)
    return np.stack([np.rint(_shifted(tex, s, 0)).astype(np.uint8) for s in shifts])


@pytest.mark.parametrize("backend", ["farneback", "dis"])
def test_clip_flow_onset_and_consecutive_modes(backend):
    frames = _clip([0.0, 1.0, 2.0, 3.0])
    onset = clip_flow(frames, backend=backend, mode="onset")
    consecutive = clip_flow(frames, backend=backend, mode="consecutive")
    assert onset.shape == consecutive.shape == (3, 3, SIZE, SIZE) and onset.dtype == np.float32
    inner = (slice(None), slice(None), slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    u_onset = np.median(onset[inner][0], axis=(1, 2))
    u_consec = np.median(consecutive[inner][0], axis=(1, 2))
    np.testing.assert_allclose(u_onset, [1, 2, 3], atol=0.15)  # displacement from the first frame
    np.testing.assert_allclose(u_consec, [1, 1, 1], atol=0.15)  # frame-to-frame
    np.testing.assert_allclose(onset[2], np.stack([optical_strain(onset[:2, i]) for i in range(3)]), atol=1e-6)


def test_onset_apex_flow_is_a_one_frame_clip():
    frames = _clip([0.0, 1.0])
    out = onset_apex_flow(frames[0], frames[1], backend="farneback")
    assert out.shape == (3, 1, SIZE, SIZE)
    np.testing.assert_allclose(out, clip_flow(frames, backend="farneback"), atol=1e-6)


def test_clip_max_normalisation_uses_only_this_clip():
    frames = _clip([0.0, 1.0, 2.0])
    raw = clip_flow(frames, backend="farneback")
    norm = clip_flow(frames, backend="farneback", normalise="clip_max")
    peak = np.hypot(raw[0], raw[1]).max()
    np.testing.assert_allclose(norm[:2], raw[:2] / peak, rtol=1e-5, atol=1e-6)
    assert np.hypot(norm[0], norm[1]).max() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(norm[2], raw[2] / peak, rtol=1e-4, atol=1e-6)  # strain shares the scale
    # Another clip with bigger motion leaves this clip's normalised flow unchanged.
    other = clip_flow(_clip([0.0, 3.0, 6.0]), backend="farneback", normalise="clip_max")
    again = clip_flow(frames, backend="farneback", normalise="clip_max")
    np.testing.assert_array_equal(again, norm)
    assert np.hypot(other[0], other[1]).max() == pytest.approx(1.0, abs=1e-5)


def test_fixed_normalisation_and_argument_checks():
    flows = np.ones((2, 2, 4, 4), np.float32) * 3
    np.testing.assert_allclose(normalise_flow(flows, "fixed", scale=1.5), 2.0)
    np.testing.assert_array_equal(normalise_flow(flows, "none"), flows)
    np.testing.assert_array_equal(normalise_flow(np.zeros_like(flows), "clip_max"), 0.0)  # still clip
    with pytest.raises(ValueError, match="positive scale"):
        normalise_flow(flows, "fixed")
    with pytest.raises(ValueError, match="only used with normalise='fixed'"):
        normalise_flow(flows, "clip_max", scale=2.0)
    with pytest.raises(ValueError, match="unknown normalise"):
        clip_flow(_clip([0.0, 1.0]), normalise="dataset_mean")
    with pytest.raises(ValueError, match="unknown mode"):
        clip_flow(_clip([0.0, 1.0]), mode="apex")
    with pytest.raises(ValueError, match="T >= 2"):
        clip_flow(_clip([0.0]))


def test_tvl1_float_frames_in_0_255_match_uint8_without_outliers():
    from scipy.ndimage import gaussian_filter, shift

    rng = np.random.default_rng(0)
    a = gaussian_filter(rng.uniform(0, 255, (64, 64)), 2)
    a = (a - a.min()) / (a.max() - a.min()) * 200 + 20
    b = shift(a, (0, 1.0), mode="reflect")
    as_float = compute_flow(a.astype(np.float32), b.astype(np.float32), "tvl1")
    as_uint8 = compute_flow(np.rint(a).astype(np.uint8), np.rint(b).astype(np.uint8), "tvl1")
    assert np.abs(as_float).max() < 3.0  # was ~120 px before float frames were rescaled
    assert np.median(as_float[0]) == pytest.approx(np.median(as_uint8[0]), abs=0.05)


def test_remove_rigid_motion_keeps_only_the_local_movement():
    h = w = 48
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    rigid = np.stack([0.7 + 0.01 * (ys - 24), -0.3 - 0.01 * (xs - 24)])  # translation + small rotation
    local = np.zeros((2, h, w), np.float32)
    local[1, 30:38, 10:18] = 1.0  # a mouth corner moving down 1 px
    residual = remove_rigid_motion(rigid + local)
    assert np.abs(residual[:, 30:38, 10:18] - local[:, 30:38, 10:18]).max() < 0.1
    outside = np.ones((h, w), bool)
    outside[30:38, 10:18] = False
    assert np.abs(residual[:, outside]).max() < 0.05


def test_stabilised_clip_flow_drops_a_head_shift_but_keeps_the_expression():
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64)).astype(np.float32), (0, 0), 2.0)
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    local = np.zeros((64, 64), np.float32)
    local[40:52, 20:44] = 1.0  # the mouth region moves down 1 px more than the head
    map_x = xs - 0.8  # the whole head moves right 0.8 px
    map_y = ys - cv2.GaussianBlur(local, (0, 0), 1.5)
    moved = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    clip = np.stack([texture, moved])
    raw = clip_flow(clip, backend="farneback")
    steady = clip_flow(clip, backend="farneback", stabilise=True)
    assert raw[0, 0, 5:35].mean() > 0.5  # the head's shift is in the raw u channel ...
    assert abs(steady[0, 0, 5:35].mean()) < 0.1  # ... and gone once stabilised
    mouth = steady[1, 0, 42:50, 24:40].mean()
    rest = np.abs(steady[1, 0, 5:30]).mean()
    assert mouth > 0.4 and mouth > 4 * rest  # the expression stays
