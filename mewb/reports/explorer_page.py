"""The report's offline saliency explorer: one self-contained HTML page, no kernel, no network.

The JupyterLab explorer (:class:`mewb.viz.explorer.SaliencyExplorer`) computes attributions live;
a shared report cannot. This page carries them precomputed for a few test clips per class and
variant: every method, every modality, every frame. A clip picker, method and modality
switches, a frame slider and an opacity control swap pre-rendered images, so it works from
``file://`` in any browser, offline, years later.

Each clip is explained by the fold model that tested it (:class:`mewb.viz.explorer.RunExplainer`,
for the predicted class). Faces are upscaled to ``side`` pixels (bicubic) and the saliency map is
upsampled to the same size (bilinear in space; its frames are the clip's frames), normalised
over the whole clip and drawn over the face (Inferno, alpha growing with the saliency, so the face
shows through where the model does not look); the opacity control fades between the face and that
overlay. Images are embedded as JPEG data URIs (a few kB each).
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from mewb import jsonio
from mewb.explain.volume import DISPLAY_SIDE, display_overlay, upscale_faces
from mewb.viz.images import data_uri

# every attribution method of mewb.explain (attention: CASANet runs only), best localiser first
DEFAULT_METHODS = ("integrated_gradients", "saliency", "gradcam", "guided_gradcam", "occlusion", "attention")


def explorer_data(run_dirs: Sequence[str | Path], *, methods: Sequence[str] = DEFAULT_METHODS,
                  clips_per_class: int = 2, data_root: str | Path | None = None,
                  cache_dir: str | Path | None = None, side: int = DISPLAY_SIDE) -> dict:
    """What the page shows, as plain JSON-able values: ``{"class_names", "runs": [{"variant", "clips":
    [{"title", "faces": [uri], "maps": {method: {modality: [uri]}}, "frame": most salient}]}]}``."""
    from mewb.viz.explorer import RunExplainer

    runs, class_names = [], None
    for run_dir in run_dirs:
        explainer = RunExplainer(run_dir, data_root=data_root, cache_dir=cache_dir)
        names = class_names = class_names or explainer.class_names
        predictions = explainer.predictions
        chosen = [i for k in range(len(names)) for i in predictions.index[predictions["label"] == k][:clips_per_class]]
        clips = []
        for index in chosen:
            maps, faces, title = {}, None, None
            for method in methods:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        x = explainer.explain(int(index), method)
                except (ValueError, RuntimeError):  # e.g. attention on a model without CASANet
                    continue
                if faces is None:
                    faces = upscale_faces(x.faces, side=side)
                    salient = int(np.abs(x.saliency["all"]).sum(axis=(1, 2)).argmax())  # the frame shown first
                    probs = ", ".join(f"{n} {p:.2f}" for n, p in zip(names, x.probs))
                    title = f"{x.clip}: true {names[x.label]}, predicted {names[int(x.probs.argmax())]} ({probs})"
                # one modality: its map is the whole map, shown once under its own name
                volumes = {k: v for k, v in x.saliency.items() if k != "all" or len(x.saliency) > 2}
                maps[method] = {modality: [data_uri(im, fmt="jpeg") for im in display_overlay(x.faces, volume, side=side, opacity=1.0)[1]]
                                for modality, volume in volumes.items()}
            if faces is not None:
                clips.append({"title": title, "faces": [data_uri(f, fmt="jpeg") for f in faces], "maps": maps, "frame": salient})
        if clips:
            runs.append({"variant": explainer.variant, "clips": clips})
    return {"class_names": list(class_names or []), "side": side, "runs": runs}


def write_explorer_page(data: dict, out: str | Path, *, title: str = "Saliency explorer") -> Path:
    """The self-contained page for :func:`explorer_data` ``data`` at ``out``."""
    from mewb.atomic import atomic_write
    from mewb.reports.html import OfflineHTMLError, check_offline_html

    if not any(run["clips"] for run in data["runs"]):
        raise ValueError(f"{out}: no explained clip to show (runs without test predictions or weights?)")
    page = _PAGE.replace("__TITLE__", html.escape(title)).replace("__SIDE__", str(int(data["side"])))
    page = page.replace("__DATA__", jsonio.dumps(data).replace("</", "<\\/"))
    check = check_offline_html(page)
    if check.remote_scripts:
        raise OfflineHTMLError(f"{out}: the explorer page would load scripts from the network: {check.remote_scripts}")
    return atomic_write(out, page)


def explorer_page(run_dirs: Sequence[str | Path], out: str | Path, **options) -> Path:
    """Explain a few test clips of each run and write the offline explorer page (see the module docstring)."""
    return write_explorer_page(explorer_data(run_dirs, **options), out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; color: #222; }
.controls { display: flex; flex-wrap: wrap; gap: 0.8em 1.6em; align-items: center; margin: 0.8em 0; }
.controls label { font-size: 0.92em; }
.stage { display: flex; gap: 24px; align-items: flex-start; }
.panel { position: relative; width: __SIDE__px; height: __SIDE__px; }
.panel img { position: absolute; left: 0; top: 0; width: __SIDE__px; height: __SIDE__px; image-rendering: auto; }
.caption { font-size: 0.85em; color: #555; margin-top: 0.3em; }
#title { font-weight: bold; margin: 0.6em 0; }
.note { color: #555; font-size: 0.9em; }
</style></head><body>
<h1>__TITLE__</h1>
<p class="note">Precomputed saliency of a few test clips per class and variant, each explained by the fold
model that tested it, for its predicted class. The map is upsampled bilinearly to the face shown here
and scaled over the whole clip; brighter and more opaque is more salient (the opacity control fades
from the face alone to the full overlay). Works offline, without Jupyter.</p>
<div class="controls">
<label>variant <select id="run"></select></label>
<label>clip <select id="clip"></select></label>
<label>method <select id="method"></select></label>
<label>modality <select id="modality"></select></label>
<label>frame <input id="frame" type="range" min="0" max="0" value="0"> <span id="frame-label"></span></label>
<label>opacity <input id="opacity" type="range" min="0" max="100" value="70"></label>
</div>
<div id="title"></div>
<div class="stage">
<div><div class="panel"><img id="face" alt="face"></div><div class="caption">face</div></div>
<div><div class="panel"><img id="under" alt="face"><img id="heat" alt="saliency"></div>
<div class="caption">saliency over the face</div></div>
</div>
<script>
const DATA = __DATA__;
const $ = (id) => document.getElementById(id);
function fill(select, values, labels) {
  const keep = select.value;
  select.innerHTML = "";
  values.forEach((v, i) => { const o = document.createElement("option"); o.value = v; o.textContent = labels ? labels[i] : v; select.appendChild(o); });
  if (values.map(String).includes(keep)) select.value = keep;
}
function run() { return DATA.runs[+$("run").value]; }
function clip() { return run().clips[+$("clip").value]; }
function onRun() { const r = run(); fill($("clip"), r.clips.map((c, i) => i), r.clips.map(c => c.title.split(":")[0])); onClip(); }
function onClip() { fill($("method"), Object.keys(clip().maps)); $("frame").max = clip().faces.length - 1; $("frame").value = clip().frame; onMethod(); }
function onMethod() { fill($("modality"), Object.keys(clip().maps[$("method").value])); draw(); }
function draw() {
  const c = clip(), frames = c.faces.length;
  $("frame").max = frames - 1;
  if (+$("frame").value > frames - 1) $("frame").value = frames - 1;
  const t = +$("frame").value;
  $("frame-label").textContent = (t + 1) + " / " + frames;
  $("face").src = c.faces[t]; $("under").src = c.faces[t];
  $("heat").src = c.maps[$("method").value][$("modality").value][t];
  $("heat").style.opacity = $("opacity").value / 100;
  $("title").textContent = run().variant + ": " + c.title;
}
fill($("run"), DATA.runs.map((r, i) => i), DATA.runs.map(r => r.variant));
$("run").onchange = onRun; $("clip").onchange = onClip; $("method").onchange = onMethod;
$("modality").onchange = draw; $("frame").oninput = draw; $("opacity").oninput = draw;
onRun();
</script>
</body></html>
"""
