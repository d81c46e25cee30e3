"""Plotly figures: pure functions from arrays and tables to ``go.Figure`` (no computation here).

    >>> from mewb.viz import confusion_figure, embedding_figure, saliency_slider_figure
"""

from mewb.viz.embedding import embedding_figure
from mewb.viz.metrics import (
    ablation_frame,
    ablation_table_figure,
    confusion_figure,
    confusion_from_predictions,
    robustness_figure,
)
from mewb.viz.saliency import (
    attention_time_figure,
    deletion_figure,
    error_heatmap_figure,
    localisation_figure,
    saliency_slider_figure,
)

__all__ = [
    "ablation_frame",
    "ablation_table_figure",
    "attention_time_figure",
    "confusion_figure",
    "confusion_from_predictions",
    "deletion_figure",
    "embedding_figure",
    "error_heatmap_figure",
    "localisation_figure",
    "robustness_figure",
    "saliency_slider_figure",
]
