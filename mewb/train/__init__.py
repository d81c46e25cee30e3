"""Training and evaluation: the one-fold loop, LOSO and holdout runners, metrics, run directories.

    >>> from mewb.train import TrainConfig, run_loso, load_run
    >>> result = run_loso(samples, variant="full", train_config=TrainConfig(), out="runs/synth-full")
    >>> result.metrics["pooled"]["uf1"], result.predictions.head()
"""

from mewb.train.config import TrainConfig
from mewb.train.loso import RunExistsError, RunResult, load_run, run_holdout, run_loso, run_protocol
from mewb.train.metrics import compute_metrics, format_table, scores, write_megc_log

__all__ = [
    "RunExistsError",
    "RunResult",
    "TrainConfig",
    "compute_metrics",
    "format_table",
    "load_run",
    "run_holdout",
    "run_loso",
    "run_protocol",
    "scores",
    "write_megc_log",
]
