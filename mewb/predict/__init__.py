"""Analyse your own recording with a trained run: ``mewb predict VIDEO --run runs/NAME``.

    >>> from mewb.predict import load_run_model, predict_recording, write_result
    >>> model = load_run_model("runs/synth-full")          # final model, else the fold models averaged
    >>> result = predict_recording("me.mp4", model)        # spot, classify, explain
    >>> write_result(result, "me-mewb")                     # prediction.json, saliency GIF/MP4, report.html

``mewb.predict.final.train_final`` trains a run's final model (all subjects, same settings).
Spotting lives in :mod:`mewb.spotting` (pure functions on arrays).
"""

from mewb.predict.core import Analysis, NoFaceError, PredictResult, Recording, open_recording, predict_recording
from mewb.predict.models import NoModelError, RunModel, load_run_model
from mewb.predict.output import OutputExistsError, default_out, write_result

__all__ = [
    "Analysis",
    "NoFaceError",
    "NoModelError",
    "OutputExistsError",
    "PredictResult",
    "Recording",
    "RunModel",
    "default_out",
    "load_run_model",
    "open_recording",
    "predict_recording",
    "write_result",
]
