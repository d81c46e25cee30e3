"""Optical flow between grey face frames, optical strain, and the clip-level flow tensor.

Every backend takes two grey frames ``(H, W)`` (uint8, or float32 in [0, 255]) and returns the
flow ``(2, H, W)`` float32 as ``(u, v)`` in pixels, with OpenCV's convention: the content at
``prev[y, x]`` is found at ``nxt[y + v, x + u]`` (a pattern moving right has ``u > 0``, moving
down has ``v > 0``).

Backends (``FLOW_BACKENDS``, looked up by name):

- ``tvl1``: OpenCV contrib Dual TV-L1, the usual choice in MER. Our defaults
  (``TVL1_DEFAULTS``) keep OpenCV's TV-L1 model (tau, lambda, theta, epsilon, median filter)
  but use 3 scales with step 0.5 instead of 5 with step 0.8 (a 112-pixel face moving a few
  pixels needs no deep pyramid), 3 warps instead of 5 and 5 x 10 iterations instead of
  10 x 30. Measured at 112x112 on one core: ~53 ms per pair against ~160 ms for OpenCV's
  defaults, with the same end-point error (~0.01 px) on a texture shifted by 0.5 and 2 px.
  Override any of them with keyword arguments (``compute_flow(a, b, "tvl1", warps=5)``).
- ``farneback``: ``cv2.calcOpticalFlowFarneback`` (polynomial expansion), fast and smooth.
- ``dis``: ``cv2.DISOpticalFlow`` (preset MEDIUM), the fastest; needs uint8 input, so float
  frames are rounded first.
- ``liteflownet``: the network the paper uses (``mewb.data.liteflownet``); it needs a weights
  file and never falls back to another backend.

Normalisation (``clip_flow(normalise=...)``) only ever uses the clip's own values or a constant
chosen in advance. Statistics pooled over other clips would, under leave-one-subject-out
evaluation, carry information from the test subject into the training inputs (and vice versa).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from mewb.registry import Registry

FlowFn = Callable[..., np.ndarray]
FLOW_BACKENDS: Registry[FlowFn] = Registry("flow backend")

# Dual TV-L1 defaults, tuned for speed on ~112x112 faces (see the module docstring).
TVL1_DEFAULTS: dict[str, float | int] = {
    "tau": 0.25,  # time step of the numerical scheme (OpenCV default)
    "lambda_": 0.15,  # data-term weight (OpenCV default)
    "theta": 0.3,  # coupling between the two sub-problems (OpenCV default)
    "nscales": 3,  # pyramid levels (OpenCV: 5)
    "warps": 3,  # warps per level (OpenCV: 5)
    "epsilon": 0.01,  # stopping threshold (OpenCV default)
    "inner_iterations": 10,  # (OpenCV: 30)
    "outer_iterations": 5,  # (OpenCV: 10)
    "scale_step": 0.5,  # pyramid downscale factor (OpenCV: 0.8)
    "median_filtering": 5,  # median filter on the flow between warps (OpenCV default)
}

FARNEBACK_DEFAULTS: dict[str, float | int] = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.1,
}

NORMALISE_MODES = ("none", "clip_max", "fixed")
CLIP_MODES = ("onset", "consecutive")


def _as_grey(frame: np.ndarray, name: str) -> np.ndarray:
    """Check a grey frame (H, W) and return it as uint8 or float32 (OpenCV's accepted types)."""
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"{name} must be a grey frame (H, W), got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype.kind == "f":
        return np.ascontiguousarray(frame, dtype=np.float32)
    raise ValueError(f"{name} must be uint8 or float32 in [0, 255], got {frame.dtype}")


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:
        return frame
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def _from_opencv(flow_hw2: np.ndarray) -> np.ndarray:
    """(H, W, 2) -> (2, H, W) float32."""
    return np.ascontiguousarray(np.moveaxis(flow_hw2, -1, 0), dtype=np.float32)


@FLOW_BACKENDS.register("tvl1")
def tvl1_flow(prev: np.ndarray, nxt: np.ndarray, **options) -> np.ndarray:
    """Dual TV-L1 flow (2, H, W); ``options`` override ``TVL1_DEFAULTS`` by key."""
    unknown = set(options) - set(TVL1_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown tvl1 options {sorted(unknown)}; valid: {sorted(TVL1_DEFAULTS)}")
    p = {**TVL1_DEFAULTS, **options}
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=p["tau"],
        lambda_=p["lambda_"],
        theta=p["theta"],
        nscales=int(p["nscales"]),
        warps=int(p["warps"]),
        epsilon=p["epsilon"],
        innnerIterations=int(p["inner_iterations"]),  # sic: OpenCV's keyword has three n's
        outerIterations=int(p["outer_iterations"]),
        scaleStep=p["scale_step"],
        medianFiltering=int(p["median_filtering"]),
    )
    if prev.dtype != np.uint8:
        # OpenCV's TV-L1 reads float frames as intensities in [0, 1] (its lambda is tuned for
        # that range); our float contract is [0, 255], which gave outliers of ~100 px.
        prev, nxt = prev / np.float32(255), nxt / np.float32(255)
    return _from_opencv(tvl1.calc(prev, nxt, None))


@FLOW_BACKENDS.register("farneback")
def farneback_flow(prev: np.ndarray, nxt: np.ndarray, **options) -> np.ndarray:
    """Farneback flow (2, H, W); ``options`` override ``FARNEBACK_DEFAULTS`` by key."""
    unknown = set(options) - set(FARNEBACK_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown farneback options {sorted(unknown)}; valid: {sorted(FARNEBACK_DEFAULTS)}")
    p = {**FARNEBACK_DEFAULTS, **options}
    flow = cv2.calcOpticalFlowFarneback(
        prev, nxt, None, p["pyr_scale"], int(p["levels"]), int(p["winsize"]),
        int(p["iterations"]), int(p["poly_n"]), p["poly_sigma"], 0,
    )
    return _from_opencv(flow)


@FLOW_BACKENDS.register("dis")
def dis_flow(prev: np.ndarray, nxt: np.ndarray, *, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> np.ndarray:
    """DIS flow (2, H, W); inputs are rounded to uint8 (DIS accepts nothing else)."""
    dis = cv2.DISOpticalFlow_create(preset)
    return _from_opencv(dis.calc(_to_uint8(prev), _to_uint8(nxt), None))


@FLOW_BACKENDS.register("liteflownet")
def liteflownet_flow(prev: np.ndarray, nxt: np.ndarray, *, weights=None, device="auto") -> np.ndarray:
    """LiteFlowNet flow (2, H, W); see ``mewb.data.liteflownet`` for the weights file."""
    from mewb.data.liteflownet import estimate_flow

    return estimate_flow(prev, nxt, weights=weights, device=device)


def compute_flow(prev: np.ndarray, nxt: np.ndarray, backend: str = "tvl1", **options) -> np.ndarray:
    """Flow from ``prev`` to ``nxt``: grey frames (H, W) uint8 or float32 in [0, 255].

    Returns (2, H, W) float32, channels (u, v) in pixels. ``options`` go to the backend.
    """
    fn = FLOW_BACKENDS.get(backend)
    prev = _as_grey(prev, "prev")
    nxt = _as_grey(nxt, "nxt")
    if prev.shape != nxt.shape:
        raise ValueError(f"frames differ in size: {prev.shape} vs {nxt.shape}")
    if prev.dtype != nxt.dtype:  # OpenCV wants both the same type
        prev, nxt = prev.astype(np.float32), nxt.astype(np.float32)
    return fn(prev, nxt, **options)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude (H, W) float32 of a flow (2, H, W).

    ``sqrt(ux^2 + vy^2 + 0.5 * (uy + vx)^2)`` with ux = du/dx (along columns, axis 1),
    vy = dv/dy (along rows, axis 0), uy = du/dy, vx = dv/dx: the norm of the symmetric
    infinitesimal strain tensor, whose off-diagonal term is 0.5 * (uy + vx) and appears twice.
    Central differences (one-sided at the borders) via ``np.gradient``.
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"flow must be (2, H, W), got shape {flow.shape}")
    u, v = flow[0], flow[1]
    uy, ux = np.gradient(u)  # np.gradient returns d/d(axis 0) = d/dy first, then d/dx
    vy, vx = np.gradient(v)
    return np.sqrt(ux**2 + vy**2 + 0.5 * (uy + vx) ** 2).astype(np.float32)


def remove_rigid_motion(flow: np.ndarray, *, mask: np.ndarray | None = None, iterations: int = 2) -> np.ndarray:
    """Subtract the best-fitting affine motion from a flow field: ``(2, H, W) -> (2, H, W)``.

    Least squares over the ``mask`` pixels (default all), refitted ``iterations - 1`` times
    without the 20% of pixels that fit worst, so a local expression does not tilt the fit. Written
    here (six parameters by ``np.linalg.lstsq``) because ``cv2.estimateAffine2D`` wants point
    correspondences and a RANSAC threshold, while a dense field needs neither.
    """
    flow = np.asarray(flow, dtype=np.float32)
    _, h, w = flow.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    design = np.stack([np.ones(h * w, np.float32), xs.ravel() / w, ys.ravel() / h], axis=1)  # (HW, 3)
    target = flow.reshape(2, -1).T  # (HW, 2)
    use = np.ones(h * w, bool) if mask is None else np.asarray(mask, bool).ravel()
    for i in range(max(1, iterations)):
        coef, *_ = np.linalg.lstsq(design[use], target[use], rcond=None)  # (3, 2)
        residual = target - design @ coef
        if i + 1 < iterations:
            err = np.einsum("ij,ij->i", residual, residual)
            use = use & (err <= np.quantile(err[use], 0.8))
    return residual.T.reshape(2, h, w)


def _with_strain(flows: np.ndarray) -> np.ndarray:
    """(2, N, H, W) -> (3, N, H, W) with strain as channel 2."""
    strain = np.stack([optical_strain(flows[:, i]) for i in range(flows.shape[1])])
    return np.concatenate([flows, strain[None]], axis=0).astype(np.float32)


def normalise_flow(flows: np.ndarray, normalise: str = "none", scale: float | None = None) -> np.ndarray:
    """Scale a clip's flow (2, N, H, W) using only this clip (``clip_max``) or a constant (``fixed``).

    ``clip_max`` divides by the largest flow magnitude in this clip (so the clip's fastest
    motion has length 1); ``fixed`` divides by ``scale`` pixels, the same for every clip.
    Never by a mean or max over other clips or subjects: under LOSO that leaks the test
    subject's statistics into training.
    """
    if normalise not in NORMALISE_MODES:
        raise ValueError(f"unknown normalise {normalise!r}; valid: {', '.join(NORMALISE_MODES)}")
    if normalise == "none":
        if scale is not None:
            raise ValueError("scale is only used with normalise='fixed'")
        return flows
    if normalise == "fixed":
        if scale is None or not scale > 0:
            raise ValueError(f"normalise='fixed' needs a positive scale, got {scale!r}")
        return flows / np.float32(scale)
    if scale is not None:
        raise ValueError("scale is only used with normalise='fixed'")
    peak = float(np.sqrt(flows[0] ** 2 + flows[1] ** 2).max(initial=0.0))
    return flows / np.float32(peak) if peak > 0 else flows


def clip_flow(
    frames: np.ndarray,
    *,
    backend: str = "tvl1",
    mode: str = "onset",
    normalise: str = "none",
    scale: float | None = None,
    stabilise: bool = False,
    **options,
) -> np.ndarray:
    """Flow of a grey clip ``frames`` (T, H, W) -> (3, T-1, H, W) float32, channels (u, v, strain).

    ``mode="onset"``: flow from the first frame to each later frame (displacement from neutral);
    ``mode="consecutive"``: flow between neighbouring frames. ``stabilise=True`` subtracts each
    field's affine part (head translation, rotation, scale; :func:`remove_rigid_motion`), so only
    the face's own deformation remains. Strain is computed from the normalised flow, so all three
    channels share one scale. ``options`` go to the backend.
    """
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.shape[0] < 2:
        raise ValueError(f"frames must be (T, H, W) with T >= 2, got shape {frames.shape}")
    if mode not in CLIP_MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(CLIP_MODES)}")
    if normalise not in NORMALISE_MODES:  # fail before the slow part
        raise ValueError(f"unknown normalise {normalise!r}; valid: {', '.join(NORMALISE_MODES)}")
    FLOW_BACKENDS.get(backend)
    pairs = (
        [(0, t) for t in range(1, len(frames))]
        if mode == "onset"
        else [(t - 1, t) for t in range(1, len(frames))]
    )
    flows = [compute_flow(frames[a], frames[b], backend, **options) for a, b in pairs]
    if stabilise:
        flows = [remove_rigid_motion(f) for f in flows]
    flows = np.stack(flows, axis=1)  # (2, T-1, H, W)
    flows = normalise_flow(flows, normalise, scale)  # (2, T-1, H, W)
    return _with_strain(flows)


def onset_apex_flow(
    onset: np.ndarray,
    apex: np.ndarray,
    *,
    backend: str = "tvl1",
    normalise: str = "none",
    scale: float | None = None,
    **options,
) -> np.ndarray:
    """Single-flow mode: onset (H, W) -> apex (H, W) as a one-frame clip (3, 1, H, W) float32."""
    return clip_flow(np.stack([onset, apex]), backend=backend, mode="onset",
                     normalise=normalise, scale=scale, **options)
