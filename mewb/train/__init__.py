"""Training and evaluation: the one-fold loop, LOSO and holdout runners, metrics, run directories.

    >>> from mewb.train import TrainConfig, run_loso, load_run
    >>> result = run_loso(samples, variant="full", train_config=TrainConfig(), out="runs/synth-full")
    >>> result.metrics["pooled"]["uf1"], result.predictions.head()

Names are imported on first use, so ``mewb --help`` does not pay for torch and pandas.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainConfig": "mewb.train.config",
    "RunExistsError": "mewb.train.loso",
    "RunResult": "mewb.train.loso",
    "load_run": "mewb.train.loso",
    "run_holdout": "mewb.train.loso",
    "run_loso": "mewb.train.loso",
    "run_protocol": "mewb.train.loso",
    "compute_metrics": "mewb.train.metrics",
    "format_table": "mewb.train.metrics",
    "scores": "mewb.train.metrics",
    "write_megc_log": "mewb.train.metrics",
    "train_fold": "mewb.train.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mewb.train' has no attribute {name!r}")
