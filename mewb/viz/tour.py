"""Figures of the teaching notebook ``notebooks/01-micro-expressions-tour.ipynb``.

Pure functions: arrays in, ``plotly.graph_objects.Figure`` out; nothing is computed from files
and nothing is shown. Shapes follow ``mewb.synth.SynthClip`` (frames ``(T, H, W, 3)`` uint8 RGB,
motion ``(T, H, W)``, 1-based onset/apex/offset) and ``mewb.data.flow`` (flow ``(3, H, W)`` as
u, v, strain).

``simulate_test_selection`` is the one computation here: a small Monte Carlo that shows, without
training anything, why choosing the epoch on the LOSO test subject inflates scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mewb.viz.images import image_trace

PHASE_COLOURS = {"onset": "#1f77b4", "apex": "#d62728", "offset": "#2ca02c"}


def _phase_frames(onset: int, apex: int, offset: int, length: int) -> list[tuple[str, int]]:
    """(label, 0-based index) of the frames worth looking at, in time order."""
    marks = [("first", 0), ("onset", onset - 1), ("rising", (onset + apex) // 2 - 1), ("apex", apex - 1),
             ("falling", (apex + offset) // 2 - 1), ("offset", offset - 1), ("last", length - 1)]
    seen, out = set(), []
    for label, index in marks:
        index = int(np.clip(index, 0, length - 1))
        if index not in seen:
            seen.add(index)
            out.append((label, index))
    return out


def _hide_axes(fig: go.Figure) -> None:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)


def clip_strip(frames: np.ndarray, onset: int, apex: int, offset: int, *, fps: float = 200.0,
               title: str | None = None) -> go.Figure:
    """Key frames of a clip side by side (first, onset, rising, apex, falling, offset, last),
    each labelled with its frame number and time. frames: (T, H, W, 3) uint8."""
    frames = np.asarray(frames)
    marks = _phase_frames(onset, apex, offset, len(frames))
    titles = [f"{label}<br>#{i + 1}, {1000 * i / fps:.0f} ms" for label, i in marks]
    fig = make_subplots(rows=1, cols=len(marks), subplot_titles=titles, horizontal_spacing=0.01)
    for col, (_, index) in enumerate(marks, start=1):
        fig.add_trace(image_trace(frames[index], hoverinfo="skip"), row=1, col=col)
    _hide_axes(fig)
    fig.update_layout(title=title or "A micro-expression, frame by frame (the change is tiny on purpose)",
                      height=260, margin=dict(l=10, r=10, t=90, b=10))
    return fig


def motion_timeline(motion: np.ndarray, onset: int, apex: int, offset: int, *, fps: float = 200.0,
                    title: str | None = None) -> go.Figure:
    """Ground-truth facial motion over time: mean and peak displacement per frame, with the
    onset-offset span shaded and the apex marked. motion: (T, H, W) pixels."""
    motion = np.asarray(motion, dtype=np.float32)
    t_ms = 1000.0 * np.arange(len(motion)) / fps
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t_ms, y=motion.reshape(len(motion), -1).max(axis=1), name="peak displacement",
                             line=dict(color="#d62728")))
    fig.add_trace(go.Scatter(x=t_ms, y=motion.reshape(len(motion), -1).mean(axis=1), name="mean displacement",
                             line=dict(color="#7f7f7f", dash="dot")))
    start, end = 1000.0 * (onset - 1) / fps, 1000.0 * (offset - 1) / fps
    fig.add_vrect(x0=start, x1=end, fillcolor="#1f77b4", opacity=0.12, line_width=0,
                  annotation_text=f"onset to offset: {end - start:.0f} ms", annotation_position="top left")
    for phase, frame in (("onset", onset), ("apex", apex), ("offset", offset)):
        fig.add_vline(x=1000.0 * (frame - 1) / fps, line=dict(color=PHASE_COLOURS[phase], dash="dash"),
                      annotation_text=phase, annotation_position="bottom right")
    fig.update_layout(title=title or "When the face moves: onset, apex, offset",
                      xaxis_title="time (ms)", yaxis_title="displacement (pixels)", height=340,
                      legend=dict(orientation="h", y=-0.25))
    return fig


def action_unit_overlay(frame: np.ndarray, motion_apex: np.ndarray, mask: np.ndarray, action_units: str,
                        au_names: dict[int, str] | None = None, *, title: str | None = None) -> go.Figure:
    """The apex frame next to the ground-truth motion at the apex, with the mask outlined and the
    action units named. frame: (H, W, 3) uint8; motion_apex: (H, W) px; mask: (H, W) bool."""
    names = au_names or {}
    codes = [c for c in str(action_units).replace("AU", "").split("+") if c.strip()]
    described = ", ".join(f"AU{c} {names.get(int(c), '')}".strip() for c in codes if c.strip().isdigit())
    fig = make_subplots(rows=1, cols=2, subplot_titles=("apex frame", "where it moved (ground truth)"),
                        horizontal_spacing=0.04)
    fig.add_trace(image_trace(frame, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=np.asarray(motion_apex), colorscale="Inferno", colorbar=dict(title="px", len=0.8),
                             hovertemplate="x=%{x} y=%{y}<br>%{z:.2f} px<extra></extra>"), row=1, col=2)
    fig.add_trace(go.Contour(z=np.asarray(mask, dtype=float), contours=dict(start=0.5, end=0.5, coloring="lines"),
                             line=dict(color="cyan", width=2), showscale=False, hoverinfo="skip",
                             name="mask"), row=1, col=2)
    _hide_axes(fig)
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.update_layout(title=title or f"Action units: {described or action_units}", height=380,
                      margin=dict(l=10, r=10, t=80, b=10))
    return fig


def flow_to_rgb(flow: np.ndarray, *, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow (2 or 3, H, W): hue = direction, brightness = speed -> (H, W, 3) uint8."""
    import cv2

    u, v = np.asarray(flow[0], np.float32), np.asarray(flow[1], np.float32)
    magnitude, angle = cv2.cartToPolar(u, v, angleInDegrees=True)
    top = max_magnitude or float(magnitude.max()) or 1.0
    hsv = np.zeros((*u.shape, 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue is 0-179
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(255 * magnitude / top, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _arrows(u: np.ndarray, v: np.ndarray, step: int, scale: float) -> tuple[list, list]:
    """Line segments (with None breaks) for a quiver plot, one every ``step`` pixels."""
    xs, ys = [], []
    for y in range(step // 2, u.shape[0], step):
        for x in range(step // 2, u.shape[1], step):
            xs += [x, x + scale * u[y, x], None]
            ys += [y, y + scale * v[y, x], None]
    return xs, ys


def flow_panels(frame: np.ndarray, flow: np.ndarray, *, step: int = 4, title: str | None = None) -> go.Figure:
    """Optical flow from onset to apex: arrows over the apex frame, the colour-coded flow, and the
    optical strain. frame: (H, W, 3) uint8; flow: (3, H, W) as (u, v, strain)."""
    flow = np.asarray(flow, dtype=np.float32)
    u, v, strain = flow[0], flow[1], flow[2]
    speed = np.sqrt(u**2 + v**2)
    peak = float(speed.max())
    scale = float(np.percentile(speed, 99)) or 1.0  # robust: a few noisy pixels must not set the scale
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04, subplot_titles=(
        "flow arrows (lengthened)", "flow colour: hue = direction", "optical strain (deformation)"))
    fig.add_trace(image_trace(frame, hoverinfo="skip"), row=1, col=1)
    xs, ys = _arrows(u, v, step, scale=0.8 * step / scale)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="yellow", width=1.5), hoverinfo="skip",
                             showlegend=False), row=1, col=1)
    fig.add_trace(image_trace(flow_to_rgb(flow, max_magnitude=scale), hoverinfo="skip"), row=1, col=2)
    fig.add_trace(go.Heatmap(z=strain, colorscale="Viridis", colorbar=dict(title="strain", len=0.8),
                             zmin=0, zmax=float(np.percentile(strain, 99)) or None,
                             hovertemplate="x=%{x} y=%{y}<br>strain %{z:.3f}<extra></extra>"), row=1, col=3)
    _hide_axes(fig)
    fig.update_yaxes(scaleanchor="x3", row=1, col=3)
    fig.update_layout(title=title or f"Optical flow onset -> apex (largest motion {peak:.2f} px)", height=380,
                      margin=dict(l=10, r=10, t=80, b=10))
    return fig


def evm_comparison(frames: np.ndarray, magnified: np.ndarray, onset: int, apex: int, *, fps: float = 200.0,
                   alpha: float | None = None, title: str | None = None) -> go.Figure:
    """What Eulerian magnification does: the apex-minus-onset difference before and after (same
    colour scale), and the brightness at the most-changing pixel over time.

    frames, magnified: (T, H, W) or (T, H, W, 3), the same clip before and after ``magnify``.
    """
    def grey(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return x.mean(axis=-1) if x.ndim == 4 else x

    original, boosted = grey(frames), grey(magnified)
    diff_o = original[apex - 1] - original[onset - 1]
    diff_m = boosted[apex - 1] - boosted[onset - 1]
    limit = float(np.abs(diff_m).max()) or 1.0
    y, x = np.unravel_index(int(np.argmax(np.abs(diff_o))), diff_o.shape)
    t_ms = 1000.0 * np.arange(len(original)) / fps
    gain = f" (alpha = {alpha:g})" if alpha is not None else ""
    fig = make_subplots(rows=1, cols=3, column_widths=[0.27, 0.27, 0.46], horizontal_spacing=0.06,
                        subplot_titles=("apex - onset, original", f"apex - onset, magnified{gain}",
                                        f"brightness at pixel ({x}, {y})"))
    for col, diff in ((1, diff_o), (2, diff_m)):
        fig.add_trace(go.Heatmap(z=diff, zmin=-limit, zmax=limit, colorscale="RdBu", showscale=col == 2,
                                 colorbar=dict(title="grey levels", orientation="h", x=0.27, y=-0.12, len=0.5, thickness=12),
                                 hovertemplate="%{z:.1f}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(visible=False, row=1, col=col)
        fig.update_yaxes(visible=False, autorange="reversed", row=1, col=col)
    fig.update_yaxes(scaleanchor="x", row=1, col=1)
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    fig.add_trace(go.Scatter(x=t_ms, y=original[:, y, x], name="original", line=dict(color="#7f7f7f")), row=1, col=3)
    fig.add_trace(go.Scatter(x=t_ms, y=boosted[:, y, x], name="magnified", line=dict(color="#d62728")), row=1, col=3)
    fig.update_xaxes(title_text="time (ms)", row=1, col=3)
    fig.update_yaxes(title_text="grey level", row=1, col=3)
    fig.update_layout(title=title or "Eulerian video magnification: same motion, larger", height=380,
                      legend=dict(orientation="h", y=-0.2, x=0.6), margin=dict(l=10, r=10, t=80, b=10))
    return fig


def loso_folds(subjects: Sequence[str], *, title: str | None = None) -> go.Figure:
    """Leave-one-subject-out as a grid: one row per fold, one column per subject; each subject is
    the test set exactly once and never trains its own fold."""
    subjects = list(subjects)
    n = len(subjects)
    z = np.ones((n, n))
    np.fill_diagonal(z, 0)
    fig = go.Figure(go.Heatmap(
        z=z, x=subjects, y=[f"fold {i + 1}" for i in range(n)], zmin=0, zmax=1, showscale=False,
        colorscale=[[0, "#d62728"], [0.5, "#d62728"], [0.5, "#aec7e8"], [1, "#aec7e8"]], xgap=2, ygap=2,
        text=np.where(z == 0, "test", "train"), texttemplate="%{text}", hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title or f"Leave-one-subject-out: {n} folds, each subject tested once",
                      xaxis_title="subject", height=120 + 28 * n, margin=dict(l=10, r=10, t=60, b=10))
    return fig


@dataclass(frozen=True)
class SelectionBias:
    """Result of :func:`simulate_test_selection` (accuracies pooled over folds, per trial)."""

    true_accuracy: float  # what the model really achieves on unseen subjects
    fixed: np.ndarray  # (trials,) estimate with a fixed epoch budget (honest)
    test_selected: np.ndarray  # (trials,) estimate after picking, per fold, the best epoch on the test subject
    curves: np.ndarray  # (folds, epochs) per-fold test accuracy of one trial, for the plot
    test_size: int  # clips per test subject
    epochs: int


def simulate_test_selection(true_accuracy: float = 0.6, *, test_size: int = 12, folds: int = 8, epochs: int = 30,
                            trials: int = 500, seed: int = 0) -> SelectionBias:
    """Monte Carlo of LOSO with a model whose real accuracy is ``true_accuracy`` at every epoch.

    Each epoch's test accuracy on a fold of ``test_size`` clips is binomial noise around the true
    value (epochs drawn independently: the noise of a small test set, nothing learned). Picking
    the best epoch per fold on that test set reports the maximum of the noise, not the model.
    """
    if not 0.0 < true_accuracy < 1.0:
        raise ValueError(f"true_accuracy must be in (0, 1), got {true_accuracy}")
    rng = np.random.default_rng(seed)
    correct = rng.binomial(test_size, true_accuracy, size=(trials, folds, epochs))  # (trials, folds, epochs)
    fixed = correct[:, :, -1].sum(axis=1) / (folds * test_size)
    selected = correct.max(axis=2).sum(axis=1) / (folds * test_size)
    return SelectionBias(true_accuracy, fixed, selected, correct[0] / test_size, test_size, epochs)


def selection_bias_figure(sim: SelectionBias, *, title: str | None = None) -> go.Figure:
    """Left: per-fold test accuracy over epochs of one simulated run (noise only) with the
    test-selected maxima marked. Right: the distribution of the honest and the test-selected
    estimates against the true accuracy."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1, subplot_titles=(
        f"test accuracy per fold and epoch ({sim.test_size} clips per subject)", "what gets reported"))
    epochs = np.arange(1, sim.epochs + 1)
    for i, curve in enumerate(sim.curves):
        fig.add_trace(go.Scatter(x=epochs, y=curve, mode="lines", line=dict(width=1), opacity=0.5,
                                 name=f"fold {i + 1}", showlegend=False), row=1, col=1)
        best = int(np.argmax(curve))
        fig.add_trace(go.Scatter(x=[epochs[best]], y=[curve[best]], mode="markers", showlegend=False,
                                 marker=dict(color="#d62728", size=8, symbol="star"), hoverinfo="skip"), row=1, col=1)
    fig.add_hline(y=sim.true_accuracy, line=dict(color="black", dash="dash"), row=1, col=1)
    for name, values, colour in (("fixed epochs (honest)", sim.fixed, "#1f77b4"),
                                 ("best epoch on test subject", sim.test_selected, "#d62728")):
        fig.add_trace(go.Histogram(x=values, name=f"{name}: mean {values.mean():.2f}", marker_color=colour,
                                   opacity=0.65, nbinsx=30), row=1, col=2)
    fig.add_vline(x=sim.true_accuracy, line=dict(color="black", dash="dash"), row=1, col=2,
                  annotation_text=f"true {sim.true_accuracy:.2f}", annotation_position="bottom left")
    fig.update_xaxes(title_text="epoch", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_xaxes(title_text="pooled LOSO accuracy", row=1, col=2)
    gap = float(sim.test_selected.mean() - sim.fixed.mean())
    fig.update_layout(barmode="overlay", height=400, legend=dict(orientation="h", y=-0.25, x=0.5),
                      title=title or f"Selecting the epoch on the test subject adds {100 * gap:.0f} points of nothing",
                      margin=dict(l=10, r=10, t=80, b=10))
    return fig
