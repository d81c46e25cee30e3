"""Figures of explanations: saliency overlay with a frame slider, attention over time, error
heatmaps, deletion curves and the localisation table.

The slider figure uses plotly ``frames`` and ``sliders``, so it keeps working in an exported
HTML page with no kernel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mewb.viz.images import image_trace


def saliency_slider_figure(
    overlays: np.ndarray,
    faces: np.ndarray | None = None,
    *,
    labels: Sequence[str] | None = None,
    title: str = "Saliency",
    scale: int = 4,
) -> go.Figure:
    """Step through a clip: ``overlays`` ``(T, H, W, 3)`` uint8, optionally beside the plain ``faces``.

    One plotly frame per time step, a slider and a play button. ``labels`` name the steps
    (default ``frame 0..T-1``); ``scale`` sets the on-screen size (pixels per image pixel).
    """
    overlays = np.asarray(overlays)
    if overlays.ndim != 4 or overlays.shape[-1] != 3:
        raise ValueError(f"overlays must be (T, H, W, 3) uint8, got {overlays.shape}")
    if faces is not None and np.shape(faces) != overlays.shape:
        raise ValueError(f"faces {np.shape(faces)} and overlays {overlays.shape} differ")
    t, h, w, _ = overlays.shape
    labels = list(labels) if labels is not None else [f"frame {i}" for i in range(t)]
    panels = [("face", faces), ("saliency", overlays)] if faces is not None else [("saliency", overlays)]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.02)
    for col, (_, stack) in enumerate(panels, start=1):
        fig.add_trace(image_trace(stack[0], name=panels[col - 1][0], hoverinfo="skip"), row=1, col=col)
        fig.update_xaxes(visible=False, row=1, col=col)
        fig.update_yaxes(visible=False, row=1, col=col)
    fig.frames = [
        go.Frame(data=[image_trace(stack[i]) for _, stack in panels], name=labels[i], traces=list(range(len(panels))))
        for i in range(t)
    ]
    steps = [
        dict(method="animate", label=labels[i], args=[[labels[i]], dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
        for i in range(t)
    ]
    fig.update_layout(
        title=title,
        # margins fixed, so the images get exactly ``scale`` screen pixels per image pixel
        width=max(360, int(scale * w * len(panels) / (1 - 0.02 * (len(panels) - 1))) + 80),
        height=scale * h + 210,
        margin=dict(l=20, r=60, t=90, b=120),
        sliders=[dict(active=0, steps=steps, currentvalue=dict(prefix=""), pad=dict(t=30))],
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0,
                y=-0.05,
                xanchor="right",
                yanchor="top",
                buttons=[
                    dict(label="play", method="animate", args=[None, dict(frame=dict(duration=300, redraw=True), fromcurrent=True)]),
                    dict(label="pause", method="animate", args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))]),
                ],
            )
        ],
    )
    return fig


def attention_time_figure(
    curves: Mapping[str, np.ndarray] | np.ndarray,
    *,
    motion: np.ndarray | None = None,
    frame_labels: Sequence | None = None,
    title: str = "Attention over time",
) -> go.Figure:
    """Weight per frame: ``curves`` ``(T,)`` or ``{name: (T,)}`` (e.g. CASANet's channel-time mean,
    a saliency volume's energy per frame); ``motion`` ``(T,)`` (ground truth) on a second axis."""
    if not isinstance(curves, Mapping):
        curves = {"attention": np.asarray(curves)}
    fig = make_subplots(specs=[[{"secondary_y": motion is not None}]])
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        x = list(frame_labels) if frame_labels is not None else list(range(len(values)))
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=name), secondary_y=False)
    if motion is not None:
        motion = np.asarray(motion, dtype=float)
        x = list(frame_labels) if frame_labels is not None else list(range(len(motion)))
        fig.add_trace(
            go.Scatter(x=x, y=motion, mode="lines", name="ground-truth motion", line=dict(dash="dot", color="grey")),
            secondary_y=True,
        )
        fig.update_yaxes(title_text="motion (px / frame)", secondary_y=True)
    fig.update_xaxes(title_text="frame")
    fig.update_yaxes(title_text="weight", secondary_y=False)
    fig.update_layout(title=title, height=360, width=640)
    return fig


def error_heatmap_figure(
    heatmaps: Mapping[str, np.ndarray], class_names: Sequence[str] | None = None, *, title: str = "Mean saliency: correct vs wrong"
) -> go.Figure:
    """Grid of ``mewb.explain.error_heatmaps`` maps: one row per class, columns correct / wrong.

    Maps with a time axis ``(K, T, H, W)`` are averaged over time. One colour scale for all panels.
    """
    correct, wrong = np.asarray(heatmaps["correct"]), np.asarray(heatmaps["wrong"])
    if correct.ndim == 4:
        correct, wrong = correct.mean(axis=1), wrong.mean(axis=1)
    k = correct.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    n_ok, n_bad = heatmaps.get("n_correct", [None] * k), heatmaps.get("n_wrong", [None] * k)
    titles = []
    for c in range(k):
        titles += [f"{names[c]}: correct (n={n_ok[c]})", f"{names[c]}: wrong (n={n_bad[c]})"]
    fig = make_subplots(rows=k, cols=2, subplot_titles=titles, vertical_spacing=0.06, horizontal_spacing=0.04)
    top = float(np.nanmax(np.stack([correct, wrong]))) if np.isfinite(np.stack([correct, wrong])).any() else 1.0
    for c in range(k):
        for col, maps in ((1, correct), (2, wrong)):
            fig.add_trace(
                go.Heatmap(z=maps[c], colorscale="Inferno", zmin=0, zmax=top, showscale=(c == 0 and col == 2)),
                row=c + 1,
                col=col,
            )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=None)
    fig.update_layout(title=title, height=260 * k + 80, width=560)
    return fig


def deletion_figure(fractions: Sequence[float], curves: Mapping[str, np.ndarray], *, title: str = "Deletion curves") -> go.Figure:
    """Class probability against the fraction of voxels removed, one line per map (and ``random``)."""
    fig = go.Figure()
    for name, values in curves.items():
        dash = "dot" if name.startswith("random") else None
        fig.add_trace(go.Scatter(x=list(fractions), y=np.asarray(values), mode="lines+markers", name=name, line=dict(dash=dash)))
    fig.update_layout(title=title, xaxis_title="fraction of voxels removed", yaxis_title="probability of the class", height=380, width=600)
    return fig


def localisation_figure(table: pd.DataFrame, *, score: str = "energy_share", title: str | None = None) -> go.Figure:
    """Bars of ``score`` per method, one group per variant, with the random baseline as markers.

    ``table`` is ``mewb.explain.localisation_table(...)``; ``score`` ``energy_share``,
    ``pointing`` or ``deletion_auc`` (its baseline column is ``random_<score>``).
    """
    fig = go.Figure()
    for variant in table.variant.unique():
        part = table[table.variant == variant]
        fig.add_trace(go.Bar(x=part.method, y=part[score], name=variant))
        baseline = f"random_{score}"
        if baseline in part:
            fig.add_trace(
                go.Scatter(
                    x=part.method,
                    y=part[baseline],
                    mode="markers",
                    marker=dict(symbol="line-ew-open", size=18, color="black"),
                    name=f"random ({variant})",
                    showlegend=False,
                    hovertemplate="random baseline %{y:.3f}<extra></extra>",
                )
            )
    fig.update_layout(barmode="group", title=title or f"{score} by method and variant", yaxis_title=score, height=400, width=720)
    return fig
