"""Figures of results: confusion matrices, ablation tables, robustness curves (plotly, pure functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def confusion_figure(
    matrix: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    *,
    show: str = "both",
    title: str = "Confusion matrix",
) -> go.Figure:
    """Counts and/or row-normalised rates of a ``(K, K)`` confusion matrix (rows = true class).

    ``show``: ``counts``, ``normalised`` or ``both`` (two panels side by side). Each cell is
    written out (count, or rate in %), so the figure reads in print too.
    """
    if show not in ("counts", "normalised", "both"):
        raise ValueError(f"show must be counts, normalised or both, got {show!r}")
    cm = np.asarray(matrix, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix is (K, K), got {cm.shape}")
    k = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    rows = cm.sum(axis=1, keepdims=True)
    rates = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    panels = {"counts": [("counts", cm, "%{z:.0f}")], "normalised": [("row-normalised", rates, "%{z:.0%}")]}
    chosen = panels["counts"] + panels["normalised"] if show == "both" else panels[show]
    fig = make_subplots(rows=1, cols=len(chosen), subplot_titles=[c[0] for c in chosen], horizontal_spacing=0.15)
    for col, (name, z, fmt) in enumerate(chosen, start=1):
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=names,
                y=names,
                colorscale="Blues",
                texttemplate=fmt,
                showscale=False,
                name=name,
                zmin=0,
                zmax=1 if name != "counts" else None,
                hovertemplate="true %{y}<br>predicted %{x}<br>" + fmt + "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="predicted", row=1, col=col)
        fig.update_yaxes(title_text="true", autorange="reversed", row=1, col=col)
    fig.update_layout(title=title, width=420 * len(chosen), height=420)
    return fig


def confusion_from_predictions(labels, predictions, num_classes: int | None = None) -> np.ndarray:
    """``(K, K)`` counts from class indices (scikit-learn's ``confusion_matrix``)."""
    from sklearn.metrics import confusion_matrix

    labels, predictions = np.asarray(labels), np.asarray(predictions)
    k = num_classes or int(max(labels.max(), predictions.max())) + 1
    return confusion_matrix(labels, predictions, labels=list(range(k)))


def _flatten(metrics: Mapping) -> dict:
    """Scalar entries of a metrics dict, nested sections joined with ``/``; matrices are dropped."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            out.update({f"{key}/{k}": v for k, v in _flatten(value).items()})
        elif isinstance(value, (int, float, str, np.integer, np.floating)) and not isinstance(value, bool):
            out[key] = value
    return out


def ablation_frame(metrics: Sequence[Mapping], *, name_key: str = "variant", columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per metrics dict (e.g. each run's ``metrics.json`` plus its variant name)."""
    frame = pd.DataFrame([_flatten(m) for m in metrics])
    if name_key in frame:
        frame = frame.set_index(name_key)
    if columns is not None:
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValueError(f"metrics have no {missing}; available: {sorted(frame.columns)}")
        frame = frame[list(columns)]
    return frame


def ablation_table_figure(
    metrics: Sequence[Mapping],
    *,
    name_key: str = "variant",
    columns: Sequence[str] | None = ("accuracy", "uf1", "uar"),
    title: str = "Ablation",
    digits: int = 3,
) -> go.Figure:
    """A ``go.Table`` of metrics dicts, one row each; the best value of each column in bold."""
    frame = ablation_frame(metrics, name_key=name_key, columns=[c for c in columns or [] if any(c in _flatten(m) for m in metrics)] or None)
    cells = []
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            best = values.max()
            cells.append([f"<b>{v:.{digits}f}</b>" if v == best else f"{v:.{digits}f}" for v in values])
        else:
            cells.append([str(v) for v in values])
    fig = go.Figure(
        go.Table(
            header=dict(values=[f"<b>{frame.index.name or ''}</b>"] + [f"<b>{c}</b>" for c in frame.columns], align="left"),
            cells=dict(values=[[str(i) for i in frame.index]] + cells, align="left"),
        )
    )
    fig.update_layout(title=title, height=120 + 30 * len(frame))
    return fig


def robustness_figure(table: pd.DataFrame, *, metric: str = "uf1", title: str | None = None) -> go.Figure:
    """One panel per perturbation: ``metric`` against severity, one line per variant (severity 0 = clean)."""
    perturbations = [p for p in table.perturbation.unique() if p != "none"]
    fig = make_subplots(rows=1, cols=max(1, len(perturbations)), subplot_titles=perturbations, shared_yaxes=True)
    palette = go.Figure().layout.template.layout.colorway or None
    for v_index, variant in enumerate(table.variant.unique()):
        rows = table[table.variant == variant]
        clean = rows[rows.perturbation == "none"]
        colour = palette[v_index % len(palette)] if palette else None
        for col, name in enumerate(perturbations, start=1):
            part = pd.concat([clean, rows[rows.perturbation == name]]).sort_values("severity")
            fig.add_trace(
                go.Scatter(
                    x=part.severity,
                    y=part[metric],
                    mode="lines+markers",
                    name=variant,
                    legendgroup=variant,
                    showlegend=col == 1,
                    line=dict(color=colour),
                    hovertemplate=f"{variant}<br>{name} severity %{{x}}<br>{metric} %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
            fig.update_xaxes(title_text="severity", tickvals=sorted(part.severity.unique()), row=1, col=col)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(title=title or f"Robustness: {metric} under test-time perturbations", height=380, width=max(500, 230 * len(perturbations)))
    return fig
