"""Writing a prediction: ``prediction.json``, saliency videos (MP4 and GIF) and an offline HTML page.

Everything is written into a hidden temporary folder next to the destination and renamed into
place at the end, so an interrupted or failed run never leaves a half-written result where a
finished one is expected. An existing result is only replaced with ``overwrite=True``.

Layout of ``OUT/``::

    prediction.json        class probabilities, spotted intervals and scores, model source
    saliency-1.mp4/.gif    face | saliency overlay, one frame per clip frame (one pair per analysis)
    report.html            plotly page (plotly.js embedded, opens offline): spotting signal,
                           probabilities, saliency with a frame slider
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from mewb import jsonio
from mewb.atomic import current_umask
from mewb.predict.core import PredictResult

VIDEO_SIDE = 256  # pixels per panel in the saliency videos (the clip is upscaled to it)
VIDEO_FPS = 4.0  # clip frames per second in the videos: slow enough to follow a few frames


class OutputExistsError(FileExistsError, ValueError):
    """The output folder exists and ``--overwrite`` was not given."""


def default_out(path: str | Path) -> Path:
    """``clip.mp4`` -> ``clip-mewb/`` next to it; a frame folder ``frames/`` -> ``frames-mewb/``."""
    path = Path(path)
    stem = path.name if path.is_dir() else path.stem
    return path.parent / f"{stem}-mewb"


RESULT_FILES = ("prediction.json", "report.html")  # what marks a folder as one mewb predict wrote


def check_out(out: Path, overwrite: bool, protected: Iterable[Path] = ()) -> None:
    """Fail early (before any work) when writing ``out`` could lose something.

    ``out`` may not contain, or lie inside, any ``protected`` path (the input recording, the
    run's folder): ``--out`` equal to the input folder with ``--overwrite`` would otherwise
    replace the frames by the result. ``overwrite`` only ever replaces a folder mewb predict
    wrote (one holding ``prediction.json`` and ``report.html``).
    """
    target = Path(out).resolve()
    for path in protected:
        p = Path(path).resolve()
        if target == p or target in p.parents:
            raise OutputExistsError(f"{out}: contains {path}; choose an --out outside it (nothing was written)")
        if p in target.parents:
            raise OutputExistsError(f"{out}: is inside {path}; choose an --out outside it (nothing was written)")
    if not out.exists():
        return
    if not overwrite:
        raise OutputExistsError(f"{out}: already exists (a previous result?); pass --overwrite or choose --out")
    if not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder")
    if not all((out / name).is_file() for name in RESULT_FILES):
        raise OutputExistsError(f"{out}: not a folder mewb predict wrote (no {' and '.join(RESULT_FILES)}); "
                                "--overwrite only replaces mewb's own results")


def _panels(faces: np.ndarray, overlays: np.ndarray, labels: list[str]) -> np.ndarray:
    """``(T, H, W, 3)`` x2 -> ``(T, S, 2S, 3)`` uint8 side by side, upscaled, each frame labelled."""
    out = []
    for face, over, label in zip(faces, overlays, labels):
        row = np.concatenate([
            cv2.resize(face, (VIDEO_SIDE, VIDEO_SIDE), interpolation=cv2.INTER_CUBIC),
            cv2.resize(over, (VIDEO_SIDE, VIDEO_SIDE), interpolation=cv2.INTER_CUBIC),
        ], axis=1)
        cv2.putText(row, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        out.append(row)
    return np.stack(out)


def write_mp4(frames: np.ndarray, path: Path, fps: float = VIDEO_FPS) -> None:
    """``(T, H, W, 3)`` uint8 RGB -> MP4 (MPEG-4 Part 2, ``mp4v``, which OpenCV's wheels can encode)."""
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write MP4 (mp4v) here; the GIF is written alongside")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def write_gif(frames: np.ndarray, path: Path, fps: float = VIDEO_FPS) -> None:
    """``(T, H, W, 3)`` uint8 RGB -> looping GIF (imageio)."""
    import imageio.v2 as imageio

    imageio.mimsave(path, list(frames), duration=1000.0 / fps, loop=0)


def _signal_figure(result: PredictResult):
    import plotly.graph_objects as go

    s = result.spotting
    numbers = list(result.recording.numbers)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=numbers, y=s["signal"], name="face motion (px)", mode="lines"))
    fig.add_trace(go.Scatter(x=numbers, y=s["eye_signal"], name="eye band (blinks)", mode="lines",
                             line=dict(dash="dot"), visible="legendonly"))
    fig.add_hline(y=s["threshold"], line_dash="dash", annotation_text="threshold")
    for i, interval in enumerate(result.intervals, start=1):
        colour = "rgba(0,160,0,0.18)" if interval.accepted else "rgba(160,160,160,0.18)"
        fig.add_vrect(x0=numbers[interval.onset], x1=numbers[interval.offset], fillcolor=colour, line_width=0,
                      annotation_text=f"{i}" + ("" if interval.accepted else " (rejected)"),
                      annotation_position="top left")
        fig.add_vline(x=numbers[interval.apex], line_width=1, line_color="green" if interval.accepted else "grey")
    fig.update_layout(title="Spotting: residual facial motion over time (green: micro-expression intervals)",
                      xaxis_title="frame", yaxis_title="motion (px)", height=360, template="plotly_white")
    return fig


def _probability_figure(result: PredictResult):
    import plotly.graph_objects as go

    names = result.model.class_names
    fig = go.Figure()
    for i, a in enumerate(result.analyses, start=1):
        n = result.recording.numbers
        label = f"interval {i}: frames {n[a.interval.onset]}-{n[a.interval.offset]}"
        fig.add_trace(go.Bar(x=names, y=a.probabilities, name=label))
    fig.update_layout(title="Class probabilities", yaxis_range=[0, 1], yaxis_title="probability", barmode="group",
                      height=340, template="plotly_white")
    return fig


def report_html(result: PredictResult, videos: list[str]) -> str:
    """The offline page: plotly.js embedded once, then every figure as a div."""
    from mewb.viz import saliency_slider_figure

    figures = []
    if result.spotting is not None:
        figures.append(_signal_figure(result))
    if result.analyses:
        figures.append(_probability_figure(result))
    for i, a in enumerate(result.analyses, start=1):
        if a.overlay is not None:
            n = result.recording.numbers
            figures.append(saliency_slider_figure(
                a.overlay, a.frames, labels=[f"{j}: {lab}" for j, lab in enumerate(a.frame_labels)],
                title=f"Interval {i} (frames {n[a.interval.onset]}-{n[a.interval.offset]})<br>"
                      f"{a.saliency_method} for '{result.model.class_names[int(np.argmax(a.probabilities))]}'",
                scale=max(1, round(VIDEO_SIDE / a.frames.shape[2]))))  # panels about VIDEO_SIDE pixels wide
    divs = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)]
    data = result.to_json()
    rows = "".join(
        f"<tr><td>{i}</td><td>{a['onset']}</td><td>{a['apex']}</td><td>{a['offset']}</td>"
        f"<td>{html.escape(a['predicted'])}</td><td>{max(a['probabilities'].values()):.3f}</td></tr>"
        for i, a in enumerate(data["analyses"], start=1))
    links = " ".join(f'<a href="{html.escape(v)}">{html.escape(v)}</a>' for v in videos)
    analysed = ("<table><tr><th>#</th><th>onset</th><th>apex</th><th>offset</th><th>predicted</th>"
                f"<th>probability</th></tr>{rows}</table>\n<p>Saliency videos: {links}</p>")
    finding = ""
    if not result.analyses:  # nothing spotted: say why, and how to analyse a chosen interval
        candidates = "".join(
            f"<tr><td>{c['onset']}</td><td>{c['apex']}</td><td>{c['offset']}</td><td>{c['duration_s']:.3f}</td>"
            f"<td>{c['score']:.1f}</td><td>{html.escape(str(c['reason']))}</td></tr>" for c in data["rejected"])
        threshold = data.get("spotting", {}).get("threshold")
        rule = data.get("spotting", {}).get("config", {})
        span = f"{rule.get('min_duration_s', 1 / 25):.2f} to {rule.get('max_duration_s', 0.5):.2f} s"
        finding = (f'<h2>No micro-expression interval spotted</h2><p>No movement both rose above the threshold'
                   f'{f" ({threshold:.3f} px)" if threshold is not None else ""} and returned to neutral within '
                   f'{span}. The curve below shows the motion and the threshold; '
                   f'{"each rejected candidate is listed with its reason" if candidates else "nothing rose above it"}.</p>'
                   + (f'<table><tr><th>onset</th><th>apex</th><th>offset</th><th>duration (s)</th><th>score</th>'
                      f'<th>rejected because</th></tr>{candidates}</table>' if candidates else "")
                   + f'<p>To analyse an interval you choose:</p><pre>{html.escape(data["analyse_chosen_interval"])}</pre>')
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mewb predict: {html.escape(result.recording.path.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto}}td,th{{padding:2px 10px}}
.note{{color:#555}}</style></head><body>
<h1>{html.escape(result.recording.path.name)}</h1>
<p>{len(result.recording)} frames at {result.recording.fps:g} fps ({html.escape(result.recording.fps_source)}).
Interval: {html.escape(data["interval_source"])}.</p>
<p class="note">Model: {html.escape(result.model.source)}; variant <code>{html.escape(result.model.variant)}</code>.</p>
{finding or analysed}
{''.join(divs)}
</body></html>
"""


def write_result(result: PredictResult, out: str | Path, *, overwrite: bool = False,
                 protected: Iterable[Path] = ()) -> Path:
    """Write ``result`` into ``out`` (see the module docstring and :func:`check_out`); returns ``out``."""
    out = Path(out)
    protected = tuple(protected)
    check_out(out, overwrite, protected)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private; the result is an ordinary folder
    try:
        data = result.to_json()
        videos = []
        for i, a in enumerate(result.analyses, start=1):
            if a.overlay is None:
                continue
            panels = _panels(a.frames, a.overlay, a.frame_labels)
            write_gif(panels, tmp / f"saliency-{i}.gif")
            videos.append(f"saliency-{i}.gif")
            try:
                write_mp4(panels, tmp / f"saliency-{i}.mp4")
                videos.append(f"saliency-{i}.mp4")
            except RuntimeError as error:  # the GIF carries the same frames
                data.setdefault("warnings", []).append(str(error))
        data["files"] = ["prediction.json", "report.html", *videos]
        page = report_html(result, videos)
        _check_offline(page)
        (tmp / "report.html").write_text(page, encoding="utf-8")
        (tmp / "prediction.json").write_text(jsonio.dumps(data, indent=2) + "\n")
        check_out(out, overwrite, protected)  # again: the folder may have changed while predicting
        _replace(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_offline(page: str) -> None:
    try:
        from mewb.reports.html import check_offline_html
    except ImportError:  # reports not installed: nothing to check against
        return
    check = check_offline_html(page)
    if not getattr(check, "ok", True):
        raise RuntimeError("the report page would not open offline: " + "; ".join(check.problems))


def _replace(tmp: Path, out: Path, overwrite: bool) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` (only with ``overwrite``) is moved aside first."""
    if out.exists():
        if not overwrite:
            raise OutputExistsError(f"{out}: appeared while predicting; not overwritten (pass --overwrite)")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
