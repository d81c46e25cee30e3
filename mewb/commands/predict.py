"""``mewb predict``: arguments to :mod:`mewb.predict` calls."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="a video file (read by OpenCV) or a folder of frame images")
    p.add_argument("--run", required=True, type=Path, help="run directory (runs/NAME); its final model if "
                   "runs/NAME-final exists, else its fold models averaged")
    p.add_argument("--onset", type=int, default=None,
                   help="onset frame (video: 0-based position; folder: the number in the file name)")
    p.add_argument("--apex", type=int, default=None, help="apex frame (optional with --onset/--offset)")
    p.add_argument("--offset", type=int, default=None, help="offset frame")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: INPUT-mewb next to the input)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--all", action="store_true", help="analyse every spotted interval, not only the strongest")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate (needed for a frame folder; overrides the video's)")
    p.add_argument("--saliency", default="gradcam", help="attribution method for the overlay (gradcam, attention, "
                   "saliency, ...; 'none' to skip)")
    p.add_argument("--face", choices=["haar", "mtcnn"], default="haar", help="face detector for the spotting crop")
    p.add_argument("--threshold", type=float, default=None, help="spotting threshold in robust sigmas (default 4)")
    p.add_argument("--k", type=float, default=None, help="spotting reference distance in seconds (default 0.1)")


def predict_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from mewb.predict.core import open_recording, predict_recording
    from mewb.predict.models import load_run_model
    from mewb.predict.output import check_out, default_out, write_result
    from mewb.spotting import SpotConfig

    started = time.perf_counter()
    out = args.out or default_out(args.input)
    protected = (Path(args.input), Path(args.run))  # never written into, never replaced
    check_out(out, args.overwrite, protected)  # before any work
    if args.saliency.lower() != "none":
        from mewb.explain import ATTRIBUTION_METHODS

        ATTRIBUTION_METHODS.get(args.saliency)  # an unknown name fails now, listing the valid ones
    recording = open_recording(args.input, args.fps)  # bad input fails before the model is loaded
    model = load_run_model(args.run)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    say(f"model: {model.source}")
    spot = SpotConfig()
    if args.threshold is not None:
        spot = replace(spot, n_mad=args.threshold)
    if args.k is not None:
        spot = replace(spot, k_s=args.k)
    saliency = None if args.saliency.lower() == "none" else args.saliency
    try:
        result = predict_recording(recording, model, onset=args.onset, apex=args.apex, offset=args.offset,
                                   fps=args.fps, analyse_all=args.all, saliency=saliency, spot_config=spot,
                                   face_method=args.face, log=say)
    except ImportError as error:  # an optional detector (mtcnn) that is not installed: one clear line
        raise ValueError(str(error)) from None
    write_result(result, out, overwrite=args.overwrite, protected=protected)
    data = result.to_json()
    n = result.recording.numbers
    for i, interval in enumerate(result.intervals, start=1):  # numbered as on the page's spotting figure
        state = "" if interval.accepted else f"  (rejected: {interval.reason})"
        score = "given" if interval.score != interval.score else f"score {interval.score:.1f}"
        print(f"interval {i}: frames {n[interval.onset]}-{n[interval.apex]}-{n[interval.offset]} {score}{state}")
    if not data["analyses"]:
        print(f"no micro-expression interval spotted; to analyse an interval you choose:\n  {data['analyse_chosen_interval']}")
    for i, a in enumerate(data["analyses"], start=1):
        probs = "  ".join(f"{name} {p:.3f}" for name, p in a["probabilities"].items())
        print(f"analysis {i} (frames {a['onset']}-{a['offset']}): {a['predicted']}   [{probs}]")
    if model.kind != "final":
        print(f"note: {model.source}")
    print(f"written: {out} ({time.perf_counter() - started:.1f} s)")
    return 0
