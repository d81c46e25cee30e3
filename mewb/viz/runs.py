"""Figures of training runs: learning curves, per-fold scores, confusion matrices, ablation bars,
error heatmaps. Pure functions of tables and arrays (``mewb.reports.runs`` builds the tables from
run directories) returning ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def training_curves(history: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Training loss per fold over epochs (left) and, when the selection protocol scored epochs,
    the validation or test UF1 (right); the selected epoch of each fold is a star.

    history: one row per fold and epoch with ``fold``, ``epoch``, ``loss`` and optionally
    ``val_uf1``/``test_uf1`` and a boolean ``selected`` (``mewb.reports.runs.histories``).
    """
    score_col = next((c for c in ("val_uf1", "test_uf1") if c in history.columns and history[c].notna().any()), None)
    cols = 2 if score_col else 1
    titles = ["training loss"] + ([f"{'validation' if score_col == 'val_uf1' else 'TEST (leaky)'} UF1"] if score_col else [])
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.1)
    if history.empty:
        fig.add_annotation(text="no training history", showarrow=False)
        return fig
    palette = go.layout.Template().layout.colorway or None
    for i, (fold, group) in enumerate(history.groupby("fold", sort=False)):
        colour = (palette or _COLOURS)[i % len(palette or _COLOURS)]
        fig.add_trace(go.Scatter(x=group["epoch"], y=group["loss"], mode="lines", name=str(fold),
                                 legendgroup=str(fold), line=dict(color=colour, width=1.5)), row=1, col=1)
        if score_col:
            fig.add_trace(go.Scatter(x=group["epoch"], y=group[score_col], mode="lines", name=str(fold),
                                     legendgroup=str(fold), showlegend=False, line=dict(color=colour, width=1.5)),
                          row=1, col=2)
        if "selected" in group.columns and group["selected"].any():
            chosen = group[group["selected"]]
            fig.add_trace(go.Scatter(x=chosen["epoch"], y=chosen[score_col or "loss"], mode="markers",
                                     legendgroup=str(fold), showlegend=False, hovertemplate="selected epoch %{x}",
                                     marker=dict(symbol="star", size=11, color=colour, line=dict(width=1, color="black"))),
                          row=1, col=cols)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_layout(title=title or "Learning curves, one line per LOSO fold", height=380,
                      legend=dict(title="fold", font=dict(size=10)))
    return fig


_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def fold_scores(table: pd.DataFrame, *, metric: str = "UF1", pooled: float | None = None,
                title: str | None = None) -> go.Figure:
    """One bar per fold (``table`` from ``mewb.reports.runs.fold_table``) with the pooled score as
    a line: LOSO folds vary a lot, and the pooled number is not their mean."""
    fig = go.Figure(go.Bar(x=table["fold"], y=table[metric], text=table["n"].map(lambda n: f"n={n}"),
                           textposition="outside", marker_color="#1f77b4", name=metric))
    if pooled is not None:
        fig.add_hline(y=pooled, line=dict(color="#d62728", dash="dash"), annotation_text=f"pooled {metric} {pooled:.3f}")
    fig.update_layout(title=title or f"{metric} of each LOSO fold (test subject)", yaxis=dict(range=[0, 1.1], title=metric),
                      xaxis_title="test subject", height=360)
    return fig


def _confusion_trace(confusion: np.ndarray, class_names: Sequence[str], normalise: bool, showscale: bool) -> go.Heatmap:
    counts = np.asarray(confusion, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    shown = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0) if normalise else counts
    text = [[f"{shown[i, j]:.2f}<br>({int(counts[i, j])})" if normalise else str(int(counts[i, j]))
             for j in range(counts.shape[1])] for i in range(counts.shape[0])]
    return go.Heatmap(z=shown, x=list(class_names), y=list(class_names), text=text, texttemplate="%{text}",
                      colorscale="Blues", zmin=0, zmax=1 if normalise else None, showscale=showscale,
                      hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>")


def confusion_matrix(confusion: Sequence[Sequence[int]], class_names: Sequence[str] | None = None, *,
                     normalise: bool = True, title: str | None = None) -> go.Figure:
    """A confusion matrix (rows: true class, columns: predicted); ``normalise`` shows each row as
    recall with the counts in brackets."""
    confusion = np.asarray(confusion)
    names = list(class_names) if class_names else [str(i) for i in range(len(confusion))]
    fig = go.Figure(_confusion_trace(confusion, names, normalise, True))
    fig.update_yaxes(autorange="reversed", title="true class")
    fig.update_xaxes(title="predicted class")
    fig.update_layout(title=title or "Confusion matrix (pooled over folds)", height=420, width=520)
    return fig


def confusion_grid(matrices: Mapping[str, Sequence[Sequence[int]]], class_names: Sequence[str] | None = None, *,
                   normalise: bool = True, columns: int = 3, title: str | None = None) -> go.Figure:
    """Confusion matrices of several runs side by side (``{label: confusion}``), same colour scale."""
    labels = list(matrices)
    if not labels:
        return go.Figure().update_layout(title="no runs")
    cols = min(columns, len(labels))
    rows = -(-len(labels) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=labels, horizontal_spacing=0.08, vertical_spacing=0.15)
    for i, label in enumerate(labels):
        m = np.asarray(matrices[label])
        names = list(class_names) if class_names else [str(k) for k in range(len(m))]
        fig.add_trace(_confusion_trace(m, names, normalise, i == 0), row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title or "Confusion matrices (rows: true class, columns: predicted)",
                      height=320 * rows + 60)
    return fig


def ablation_bars(table: pd.DataFrame, *, metrics: Sequence[str] = ("accuracy", "UF1", "UAR"),
                  title: str | None = None) -> go.Figure:
    """Grouped bars of the ablation table (``mewb.reports.runs.ablation_table``): one group per
    variant (and dataset slice when there are several), one bar per metric."""
    label = table["variant"] if table["dataset"].nunique() <= 1 else table["variant"] + " / " + table["dataset"]
    fig = go.Figure([go.Bar(x=label, y=table[m], name=m, text=table[m].map(lambda v: f"{v:.2f}" if pd.notna(v) else ""),
                            textposition="outside") for m in metrics])
    fig.update_layout(barmode="group", title=title or "Ablation: pooled LOSO scores per variant",
                      yaxis=dict(range=[0, 1.1]), height=400)
    return fig


def error_heatmap(predictions: Mapping[str, pd.DataFrame], *, by: str = "subject",
                  class_names: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
    """Share of misclassified test clips per run (rows) and ``by`` (columns: ``subject``, or
    ``label`` for the true class, named by ``class_names``), from each run's ``predictions.csv``."""
    columns: list = []
    rates = {}
    for name, frame in predictions.items():
        wrong = (frame["label"] != frame["pred"]).groupby(frame[by]).mean()
        rates[name] = wrong
        columns += [c for c in wrong.index if c not in columns]
    z = np.array([[rates[n].get(c, np.nan) for c in columns] for n in rates], dtype=float)
    if by == "label" and class_names:
        names = [class_names[int(c)] if 0 <= int(c) < len(class_names) else str(c) for c in columns]
    else:
        names = [str(c) for c in columns]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=list(rates), zmin=0, zmax=1, colorscale="Reds",
                               text=np.where(np.isnan(z), "", np.round(z, 2).astype(str)), texttemplate="%{text}",
                               colorbar=dict(title="error rate"),
                               hovertemplate=f"%{{y}}<br>{by} %{{x}}<br>error %{{z:.2f}}<extra></extra>"))
    axis = "true class" if by == "label" else by
    fig.update_layout(title=title or f"Error rate per {axis}", xaxis_title=axis, height=220 + 45 * len(rates))
    return fig
