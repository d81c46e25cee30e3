"""The feature-distribution scatter (UMAP or PCA coordinates), coloured by class, subject or dataset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def embedding_figure(
    coords: np.ndarray,
    meta: pd.DataFrame,
    *,
    color: str = "label",
    class_names: Sequence[str] | None = None,
    hover: Sequence[str] = ("dataset", "subject", "clip", "label", "pred"),
    title: str = "Feature distribution",
    axis: str = "UMAP",
) -> go.Figure:
    """``coords`` ``(N, 2)`` with one ``meta`` row per point; one trace per value of ``meta[color]``.

    Hover shows the clip (``hover`` columns that exist); wrong predictions are drawn as crosses
    when ``meta`` has ``label`` and ``pred``. With ``class_names``, labels are shown as words.
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(meta):
        raise ValueError(f"coords must be (N, 2) with N = {len(meta)} rows of meta, got {coords.shape}")
    if color not in meta:
        raise ValueError(f"cannot colour by {color!r}; columns: {list(meta.columns)}")
    meta = meta.reset_index(drop=True).copy()
    if class_names is not None:
        for col in ("label", "pred"):
            if col in meta:
                meta[col] = [class_names[int(i)] for i in meta[col]]
    columns = [c for c in hover if c in meta]
    wrong = (meta["label"] != meta["pred"]).to_numpy() if {"label", "pred"} <= set(meta) else np.zeros(len(meta), bool)
    fig = go.Figure()
    for value in sorted(meta[color].unique(), key=str):
        pick = (meta[color] == value).to_numpy()
        part = meta[pick]
        fig.add_trace(
            go.Scatter(
                x=coords[pick, 0],
                y=coords[pick, 1],
                mode="markers",
                name=str(value),
                marker=dict(size=9, symbol=np.where(wrong[pick], "x", "circle"), line=dict(width=0.5, color="white")),
                customdata=part[columns].to_numpy(),
                hovertemplate="<br>".join(f"{c}: %{{customdata[{i}]}}" for i, c in enumerate(columns)) + "<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        legend_title_text=color,
        xaxis_title=f"{axis} 1",
        yaxis_title=f"{axis} 2",
        width=640,
        height=520,
    )
    return fig
