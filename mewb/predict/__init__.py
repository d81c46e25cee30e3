"""Analyse your own recording with a trained run: ``mewb predict VIDEO --run runs/NAME``.

    >>> from mewb.predict import load_run_model, predict_recording, write_result
    >>> model = load_run_model("runs/synth-full")          # final model, else the fold models averaged
    >>> result = predict_recording("me.mp4", model)        # spot, classify, explain
    >>> write_result(result, "me-mewb")                     # prediction.json, saliency GIF/MP4, report.html

``mewb.predict.final.train_final`` trains a run's final model (all subjects, same settings);
``mewb.predict.demo.synthetic_recording`` writes a video with a known micro-expression to try it
on. Spotting lives in :mod:`mewb.spotting` (pure functions on arrays).

Names are imported on first use, so ``mewb --help`` does not pay for torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Analysis": "mewb.predict.core",
    "NoFaceError": "mewb.predict.core",
    "PredictResult": "mewb.predict.core",
    "Recording": "mewb.predict.core",
    "open_recording": "mewb.predict.core",
    "predict_recording": "mewb.predict.core",
    "NoModelError": "mewb.predict.models",
    "RunModel": "mewb.predict.models",
    "load_run_model": "mewb.predict.models",
    "OutputExistsError": "mewb.predict.output",
    "default_out": "mewb.predict.output",
    "write_result": "mewb.predict.output",
    "train_final": "mewb.predict.final",
    "synthetic_recording": "mewb.predict.demo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mewb.predict' has no attribute {name!r}")
