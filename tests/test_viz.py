"""mewb.viz: every figure builds from small inputs and has the traces, frames and panels expected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mewb.viz import (
    ablation_frame,
    ablation_table_figure,
    attention_time_figure,
    confusion_figure,
    confusion_from_predictions,
    deletion_figure,
    embedding_figure,
    error_heatmap_figure,
    localisation_figure,
    robustness_figure,
    saliency_slider_figure,
)

CLASSES = ("negative", "positive", "surprise")


def test_confusion_figure_counts_and_row_normalised():
    cm = confusion_from_predictions([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0])
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    fig = confusion_figure(cm, CLASSES)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    assert np.allclose(np.asarray(fig.data[1].z)[2], [1 / 3, 0, 2 / 3])
    assert list(fig.data[0].x) == list(CLASSES)
    assert len(confusion_figure(cm, show="counts").data) == 1
    zero_row = confusion_figure(np.array([[0, 0], [1, 1]]), show="normalised")
    assert np.allclose(np.asarray(zero_row.data[0].z), [[0, 0], [0.5, 0.5]])
    with pytest.raises(ValueError):
        confusion_figure(np.zeros((2, 3)))


def test_ablation_table_from_metrics_dicts():
    metrics = [
        {"variant": "baseline", "accuracy": 0.5, "uf1": 0.4, "uar": 0.45, "confusion": [[1]], "per_dataset": {"synth": {"uf1": 0.4}}},
        {"variant": "full", "accuracy": 0.8, "uf1": 0.75, "uar": 0.7},
    ]
    frame = ablation_frame(metrics)
    assert list(frame.index) == ["baseline", "full"] and "per_dataset/synth/uf1" in frame and "confusion" not in frame
    fig = ablation_table_figure(metrics)
    table = fig.data[0]
    assert isinstance(table, go.Table)
    assert [h.replace("<b>", "").replace("</b>", "") for h in table.header.values] == ["variant", "accuracy", "uf1", "uar"]
    assert table.cells.values[2][1] == "<b>0.750</b>"  # best UF1 in bold
    with pytest.raises(ValueError, match="available"):
        ablation_frame(metrics, columns=["f1"])


def test_embedding_figure_one_trace_per_colour_and_hover():
    meta = pd.DataFrame(
        {"dataset": "synth", "subject": ["s1", "s1", "s2", "s2"], "clip": list("abcd"), "label": [0, 1, 2, 0], "pred": [0, 1, 0, 0]}
    )
    coords = np.arange(8, dtype=float).reshape(4, 2)
    fig = embedding_figure(coords, meta, color="label", class_names=CLASSES)
    assert [t.name for t in fig.data] == ["negative", "positive", "surprise"]
    assert "clip: %{customdata[2]}" in fig.data[0].hovertemplate
    assert list(fig.data[2].marker.symbol) == ["x"]  # the wrong prediction is a cross
    assert len(embedding_figure(coords, meta, color="subject").data) == 2
    with pytest.raises(ValueError):
        embedding_figure(coords[:3], meta)
    with pytest.raises(ValueError, match="colour"):
        embedding_figure(coords, meta, color="age")


def test_saliency_slider_has_one_frame_per_step_and_works_without_a_kernel():
    overlays = np.zeros((5, 16, 16, 3), np.uint8)
    fig = saliency_slider_figure(overlays, faces=overlays + 10)
    assert len(fig.frames) == 5 and len(fig.data) == 2
    assert all(isinstance(t, go.Image) for t in fig.data)
    assert len(fig.layout.sliders[0].steps) == 5
    assert list(fig.layout.sliders[0].steps[3].args[0]) == ["frame 3"]
    html = fig.to_html(include_plotlyjs=False, full_html=False)
    assert "frame 4" in html  # the frames travel inside the page
    single = saliency_slider_figure(overlays, labels=[f"t={i}" for i in range(5)])
    assert len(single.data) == 1 and single.frames[0].name == "t=0"
    with pytest.raises(ValueError):
        saliency_slider_figure(np.zeros((5, 16, 16)))


def test_attention_time_error_heatmap_deletion_and_localisation_figures():
    fig = attention_time_figure({"CASANet": np.linspace(0, 1, 8), "IG": np.ones(8)}, motion=np.arange(8.0))
    assert [t.name for t in fig.data] == ["CASANet", "IG", "ground-truth motion"]
    assert len(attention_time_figure(np.ones(4)).data) == 1
    heat = {"correct": np.ones((3, 2, 4, 4)), "wrong": np.full((3, 2, 4, 4), np.nan), "n_correct": [1, 2, 3], "n_wrong": [0, 0, 0]}
    fig = error_heatmap_figure(heat, CLASSES)
    assert len(fig.data) == 6 and np.asarray(fig.data[0].z).shape == (4, 4)
    assert "negative: wrong (n=0)" in [a.text for a in fig.layout.annotations]
    fig = deletion_figure([0, 0.5, 1], {"gradcam": [1, 0.4, 0.2], "random": [1, 0.8, 0.2]})
    assert fig.data[1].line.dash == "dot"
    table = pd.DataFrame({"method": ["ig", "ig"], "variant": ["dual", "full"], "energy_share": [0.5, 0.6], "random_energy_share": [0.2, 0.2]})
    assert len(localisation_figure(table).data) == 4


def test_robustness_figure_one_panel_per_perturbation_one_line_per_variant():
    rows = [{"variant": v, "perturbation": "none", "severity": 0, "uf1": 0.8} for v in ("dual", "full")]
    rows += [{"variant": v, "perturbation": p, "severity": s, "uf1": 0.8 - 0.1 * s} for v in ("dual", "full") for p in ("gamma", "noise") for s in (1, 2)]
    fig = robustness_figure(pd.DataFrame(rows))
    assert len(fig.data) == 4  # 2 variants x 2 panels
    assert list(fig.data[0].x) == [0, 1, 2]  # starts from the clean row
    assert [t.showlegend for t in fig.data] == [True, False, True, False]


def _decode(uri: str) -> np.ndarray:
    import base64

    import cv2

    header, payload = uri.split(",", 1)
    bgr = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_pictures_travel_as_lossless_png_not_as_numbers():
    from mewb.viz.images import data_uri, image_trace

    rng = np.random.default_rng(0)
    face = np.zeros((160, 160, 3), np.uint8)
    face[40:120, 30:130] = rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)  # a detailed patch on a flat ground
    trace = image_trace(face)
    assert trace.source.startswith("data:image/png;base64,") and trace.z is None
    assert np.array_equal(_decode(trace.source), face)  # lossless: the page shows the exact pixels
    numbers = go.Image(z=face).to_plotly_json()
    assert len(trace.source) < len(str(numbers["z"].tolist())) / 3
    assert _decode(data_uri(face, fmt="jpeg")).shape == face.shape
    with pytest.raises(ValueError, match="uint8 image"):
        data_uri(np.zeros((4, 4, 2), np.uint8))


def test_saliency_slider_frames_carry_each_steps_picture():
    overlays = np.stack([np.full((8, 8, 3), 20 * i, np.uint8) for i in range(4)])
    fig = saliency_slider_figure(overlays)
    assert [int(_decode(f.data[0].source)[0, 0, 0]) for f in fig.frames] == [0, 20, 40, 60]
