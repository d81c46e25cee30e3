"""Training and evaluation: protocols, the fold worker, the runner, metrics.

    >>> from mewb.train import TrainConfig, run_loso, load_run
    >>> result = run_loso(samples, variant="full", train_config=TrainConfig(), out="runs/synth-full")
    >>> result.metrics["pooled"]["uf1"], result.predictions.head()

=====================  ====================================================================
``protocols.py``       which folds a run has (LOSO, dataset holdout, cross-dataset, all subjects)
``fold.py``            the fold worker: one fold's job in, its predictions and weights out
``loop.py``            the training loop of one fold (optimiser, schedule, selection, BN recalibration)
``runner.py``          Experiment + Execution -> a run directory (resume, executors, logging)
``executors.py``       where folds run (here, a process pool, Dask) and :class:`Execution`
``provenance.py``      environment.json and the data digest
``metrics.py``         pooled accuracy, UF1, UAR, per fold and per dataset
=====================  ====================================================================

The run directory itself is :mod:`mewb.rundir`; recipes are :mod:`mewb.recipe`. Names are
imported on first use, so ``mewb --help`` does not pay for torch and pandas.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainConfig": "mewb.train.config",
    "Execution": "mewb.train.executors",
    "Experiment": "mewb.train.runner",
    "run_experiment": "mewb.train.runner",
    "run_holdout": "mewb.train.runner",
    "run_loso": "mewb.train.runner",
    "run_recipe": "mewb.train.runner",
    "RunExistsError": "mewb.rundir",
    "RunResult": "mewb.rundir",
    "load_run": "mewb.rundir",
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
