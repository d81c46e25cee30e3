"""The saliency explorer of ``notebooks/30-saliency-explorer.ipynb``: ipywidgets over LOSO runs.

Pick a run, a test clip, an attribution method, the modality it is drawn for and the target class;
a frame slider and an opacity slider redraw without recomputing. Each clip is explained by the
model of the fold that *tested* it (``folds/<fold>/checkpoint.pt``), loaded only when a clip of
that fold is first chosen, and attributions are cached per (run, clip, method, target).

Two layers: :class:`RunExplainer` does the work with plain arrays (testable without a browser),
:class:`SaliencyExplorer` wires widgets to it and draws with :func:`explorer_figure`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mewb.viz.images import image_trace

MODALITY_CHOICES = ("all", "frames", "flow")
PREDICTED = -1  # the target dropdown's "predicted class" (a Dropdown cannot select None)


@dataclass
class Explanation:
    """One explained clip. ``faces`` (T, H, W, 3) uint8 as the model saw them; ``flow`` (3, T', H, W)
    or None; ``saliency`` {modality or "all": (T, H, W)}; ``probs`` (K,); ``target`` class index."""

    faces: np.ndarray
    flow: np.ndarray | None
    saliency: dict[str, np.ndarray]
    probs: np.ndarray
    target: int
    label: int
    clip: str


class RunExplainer:
    """Lazy access to one run's test clips, fold models and attributions."""

    def __init__(self, run_dir: str | Path, *, data_root: str | Path | None = None, cache_dir: str | Path | None = None):
        from mewb.data.cache import PreprocessCache
        from mewb.rundir import RunDir

        self.run = RunDir.open(run_dir)
        self.run_dir = self.run.path
        self.predictions = self.run.predictions()
        self.data_root = Path(data_root) if data_root else self.run.data_root
        self.cache = PreprocessCache(cache_dir)  # None: $MEWB_CACHE or ~/.cache/mewb
        self.class_names = self.run.class_names
        self._samples: dict[str, object] | None = None
        self._models: dict[str, object] = {}
        self._explained: dict[tuple, Explanation] = {}

    @property
    def variant(self) -> str:
        return self.run.variant

    def clip_options(self) -> list[tuple[str, int]]:
        """(label, row index) per test clip: ``subject/clip  true -> predicted``."""
        names = self.class_names
        return [(f"{r.subject}/{r.clip}  {names[int(r.label)]} -> {names[int(r.pred)]}", i)
                for i, r in enumerate(self.predictions.itertuples())]

    def _sample(self, row) -> object:
        if self._samples is None:
            from mewb.data.readers import read_dataset

            samples, _ = read_dataset(self.run.config.dataset.name, self.data_root)
            self._samples = {s.key: s for s in samples}
        key = f"{row['dataset']}/{row['subject']}/{row['clip']}"
        if key not in self._samples:
            raise KeyError(f"clip {key} of {self.run_dir} is not in the dataset at {self.data_root}")
        return self._samples[key]

    def model(self, fold: str):
        """The fold's model, loaded on first use (CPU, eval mode)."""
        if fold not in self._models:
            self._models[fold] = self.run.load_model(fold)
        return self._models[fold]

    def loaded_folds(self) -> list[str]:
        return sorted(self._models)

    def explain(self, index: int, method: str = "integrated_gradients", target: int | None = None) -> Explanation:
        """Explain test clip ``index`` (a row of ``predictions.csv``) for ``target`` (None: predicted)."""
        key = (index, method, target)
        if key in self._explained:
            return self._explained[key]
        import torch

        from mewb.data.pipeline import ClipPipeline
        from mewb.explain import attribute, frames_from_tensor, saliency_volume

        row = self.predictions.iloc[index].to_dict()  # (a Series' .clip is a method)
        model = self.model(row["fold"])
        inputs = ClipPipeline(self.run.preprocess, ("frames", "flow"), self.cache).inputs(self._sample(row))
        used = {m: inputs[m] for m in model.modalities}
        with torch.no_grad():
            probs = torch.softmax(model(used), dim=1)[0].numpy()
        chosen = int(probs.argmax()) if target is None else int(target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Captum's notes on requires_grad and ReLU hooks
            result = attribute(model, used, method, target=chosen)
        frames = inputs["frames"].shape[2]
        saliency = {"all": saliency_volume(result, channels="abs", frames=frames)[0]}
        for m in result.maps:
            saliency[m] = saliency_volume(result, modalities=(m,), channels="abs", frames=frames)[0]
        flow = inputs["flow"][0].numpy() if "flow" in inputs else None
        out = Explanation(frames_from_tensor(inputs["frames"][0]), flow, saliency, probs, chosen,
                          int(row["label"]), f"{row['subject']}/{row['clip']}")
        self._explained[key] = out
        return out


def explorer_figure(explanation: Explanation, *, frame: int = -1, modality: str = "all", opacity: float = 0.6,
                    class_names: Sequence[str] | None = None) -> go.Figure:
    """Side by side at one frame: the face, the flow into it (colour-coded) and the saliency over
    the face. ``frame``: index into the clip (-1: last); ``modality``: a key of ``saliency``."""
    import cv2

    from mewb.explain import display_overlay
    from mewb.viz.tour import flow_to_rgb

    t = frame % len(explanation.faces)
    volume = explanation.saliency.get(modality)
    if volume is None:
        raise ValueError(f"no saliency for {modality!r}; have {sorted(explanation.saliency)}")
    faces, drawn = display_overlay(explanation.faces, volume, opacity=opacity)  # display size, one scale per clip
    drawn = drawn[t]
    names = list(class_names) if class_names else [str(k) for k in range(len(explanation.probs))]
    flow = explanation.flow
    step = t - (len(faces) - flow.shape[1]) if flow is not None else -1  # flow step k lands on frame k + offset
    panels = [("face", faces[t])]
    side = faces.shape[1]
    panels.append(("flow into this frame" if step >= 0 else "no flow (onset frame)",
                   cv2.resize(flow_to_rgb(flow[:, step]), (side, side), interpolation=cv2.INTER_LINEAR)
                   if step >= 0 else np.zeros_like(faces[t])))
    panels.append((f"saliency ({modality})", drawn))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[p[0] for p in panels], horizontal_spacing=0.02)
    for col, (_, image) in enumerate(panels, start=1):
        fig.add_trace(image_trace(image, hoverinfo="skip"), row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    probs = ", ".join(f"{n} {p:.2f}" for n, p in zip(names, explanation.probs))
    fig.update_layout(title=f"{explanation.clip}: true {names[explanation.label]}, explaining "
                            f"{names[explanation.target]} (frame {t + 1}/{len(faces)}; {probs})",
                      height=330, margin=dict(l=10, r=10, t=70, b=10))
    return fig


class SaliencyExplorer:
    """ipywidgets: run, clip, method, modality, target class, frame slider, overlay opacity.

    ``SaliencyExplorer(["runs/full", "runs/dual"]).widget`` is the box to display.
    """

    def __init__(self, run_dirs: Sequence[str | Path], *, data_root: str | Path | None = None,
                 cache_dir: str | Path | None = None, methods: Sequence[str] | None = None):
        import ipywidgets as w

        from mewb.explain import list_methods

        run_dirs = [Path(p) for p in run_dirs]
        if not run_dirs:
            raise ValueError("no run directories to explore")
        self._run_dirs = {p.name: p for p in run_dirs}
        self._data_root, self._cache_dir = data_root, cache_dir
        self._explainers: dict[str, RunExplainer] = {}
        methods = list(methods or list_methods())
        first = self.explainer(run_dirs[0].name)
        self.run = w.Dropdown(options=list(self._run_dirs), description="run")
        self.clip = w.Dropdown(options=first.clip_options(), description="clip", layout=w.Layout(width="420px"))
        self.method = w.Dropdown(options=methods, value="gradcam" if "gradcam" in methods else methods[0],
                                 description="method")
        self.modality = w.ToggleButtons(options=list(MODALITY_CHOICES), value="all", description="modality")
        self.target = w.Dropdown(options=self._targets(first), value=PREDICTED, description="target")
        self.frame = w.IntSlider(value=0, min=0, max=1, description="frame", continuous_update=False)
        self.opacity = w.FloatSlider(value=0.6, min=0.0, max=1.0, step=0.05, description="opacity",
                                     continuous_update=False)
        self.status = w.HTML()
        self.output = w.Output()
        self.run.observe(self._on_run, names="value")
        for control in (self.clip, self.method, self.target):
            control.observe(lambda _change: self.refresh(), names="value")
        for control in (self.modality, self.frame, self.opacity):
            control.observe(lambda _change: self.redraw(), names="value")
        self.widget = w.VBox([w.HBox([self.run, self.clip]), w.HBox([self.method, self.target]), self.modality,
                              w.HBox([self.frame, self.opacity]), self.status, self.output])
        self._current: Explanation | None = None
        self.refresh()

    @staticmethod
    def _targets(explainer: RunExplainer) -> list[tuple[str, int]]:
        return [("predicted", PREDICTED)] + [(name, k) for k, name in enumerate(explainer.class_names)]

    def explainer(self, name: str) -> RunExplainer:
        if name not in self._explainers:
            self._explainers[name] = RunExplainer(self._run_dirs[name], data_root=self._data_root,
                                                  cache_dir=self._cache_dir)
        return self._explainers[name]

    def _on_run(self, change) -> None:
        explainer = self.explainer(change["new"])
        with self.clip.hold_trait_notifications(), self.target.hold_trait_notifications():
            self.clip.options = explainer.clip_options()
            self.target.options = self._targets(explainer)
            self.target.value = PREDICTED
        self.refresh()

    def refresh(self) -> None:
        """Explain the chosen clip (cached), then draw."""
        explainer = self.explainer(self.run.value)
        self.status.value = "<i>explaining...</i>"
        try:
            target = None if self.target.value == PREDICTED else self.target.value
            self._current = explainer.explain(self.clip.value, self.method.value, target)
        except Exception as error:  # shown in the widget; the notebook keeps running
            self._current = None
            self.status.value = f"<b>cannot explain this clip with {self.method.value}:</b> {error}"
            self._show(None)
            return
        volume = self._current.saliency["all"]  # (T, H, W)
        with self.frame.hold_trait_notifications():  # start at the frame the model used most
            self.frame.max = len(self._current.faces) - 1
            self.frame.value = int(np.abs(volume).sum(axis=(1, 2)).argmax())
        folds = ", ".join(explainer.loaded_folds())
        self.status.value = f"{explainer.variant}: fold models loaded so far: {folds}"
        available = [m for m in MODALITY_CHOICES if m in self._current.saliency]
        self.modality.options = available
        self.redraw()

    def redraw(self) -> None:
        """Draw the current explanation at the chosen frame, modality and opacity (no recomputation)."""
        if self._current is None or self.modality.value not in self._current.saliency:
            return
        figure = explorer_figure(self._current, frame=self.frame.value, modality=self.modality.value,
                                 opacity=self.opacity.value, class_names=self.explainer(self.run.value).class_names)
        self._show(figure)

    def _show(self, figure=None) -> None:
        """Put ``figure`` (or nothing) in the output area as one state update of the Output widget.

        Not ``with self.output: display(...)``: that makes the frontend capture the cell's messages
        into the widget, and nbclient (papermill) then sometimes missed the cell's end and waited
        forever (the kernel idle), which hung a notebook run in CI for 70 minutes.
        """
        if figure is None:
            self.output.outputs = ()
            return
        # the bundle display() would send: the selected plotly renderers (setup_notebook's), else plotly's mimetype
        data = figure._repr_mimebundle_() or {"application/vnd.plotly.v1+json": figure.to_plotly_json()}
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)


def saliency_gallery(run_dirs: Sequence[str | Path], *, method: str = "gradcam", clips_per_class: int = 2,
                     data_root: str | Path | None = None, cache_dir: str | Path | None = None,
                     opacity: float = 0.6) -> go.Figure:
    """The same test clips explained by every run: one row per class and clip, one column per run.

    Each cell shows the saliency (``method``, for the predicted class) over the face at the clip's
    most salient frame; its title gives the prediction. Clips are the first ``clips_per_class`` of
    each true class in the first run's test order, found again in the other runs. Faces are
    shown at display size (:func:`mewb.explain.display_overlay`), not the model's input size.
    """
    from mewb.explain import display_overlay

    explainers = [RunExplainer(p, data_root=data_root, cache_dir=cache_dir) for p in run_dirs]
    if not explainers:
        raise ValueError("no runs for the gallery")
    first = explainers[0]
    names = first.class_names
    keys = []
    for k in range(len(names)):
        rows = first.predictions[first.predictions["label"] == k].head(clips_per_class)
        keys += [(k, r["fold"], r["clip"]) for _, r in rows.iterrows()]
    cells, titles = [], []
    for k, fold, clip in keys:
        for e in explainers:
            match = e.predictions.index[(e.predictions["fold"] == fold) & (e.predictions["clip"] == clip)]
            if not len(match):
                cells.append(None)
                titles.append(f"{e.variant}: clip not in run")
                continue
            x = e.explain(int(match[0]), method)
            volume = x.saliency["all"]
            t = int(np.abs(volume).sum(axis=(1, 2)).argmax())
            cells.append(display_overlay(x.faces, volume, opacity=opacity)[1][t])  # one scale per clip, display size
            titles.append(f"{e.variant}: {names[k]} -> {names[int(x.probs.argmax())]}")
    cols = len(explainers)
    rows = max(1, len(keys))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02, vertical_spacing=0.06)
    for i, image in enumerate(cells):
        if image is not None:
            fig.add_trace(image_trace(image, fmt="jpeg", hoverinfo="skip"), row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=11)
    fig.update_layout(title=f"Saliency gallery ({method})",
                      height=70 + 190 * rows, width=max(500, 220 * cols), margin=dict(l=10, r=10, t=80, b=10))
    return fig
