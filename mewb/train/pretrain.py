"""Pretraining: one model trained on every clip of a (large, synthetic) dataset, and folds that start from it.

``mewb pretrain --dataset synth --data-root BIG --variant flow_only --recipe R --out runs/pre``
trains the recipe on all subjects of ``BIG`` with no held-out fold (:func:`pretrain`, the
``all-subjects`` protocol: ``runs/pre/folds/all/checkpoint.pt``). ``mewb loso ... --init runs/pre``
(the recipe field ``train.init``) makes every fold start from those weights instead of a random
initialisation; the head is trained on as well, so the classes must match.

What a run records (``config.yaml``, section ``train``): ``init`` (the pretraining run),
``init_sha256`` (its checkpoint's SHA-256, checked in every fold worker before loading) and
``init_data`` (what it was trained on). :func:`resolve_init` fills these when a run starts and
refuses a pretraining run whose variant, model settings or classes differ, and a pretraining
set that shares SynthME identities with the evaluation set (same generator seed): a test
subject must never have been seen in pretraining.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from mewb.rundir import RunDir, RunDirError
from mewb.train.config import TrainConfig
from mewb.train.protocols import ALL_SUBJECTS_FOLD

PRETRAIN_PROTOCOL = "all-subjects"


def pretrain(*, dataset: str, data_root: str | Path, out: str | Path, variant: str | None = None, recipe=None,
             overrides: Sequence[str] | str = (), resume: bool = False, cache_dir: str | Path | None = None,
             progress: bool | None = None):
    """Train ``variant`` under ``recipe`` + ``overrides`` on every clip of the dataset into the run ``out``.

    Returns the :class:`mewb.rundir.RunResult` (no test predictions: nothing is held out; the
    weights are ``out/folds/all/checkpoint.pt``).
    """
    from mewb.train.runner import run_recipe

    return run_recipe(dataset=dataset, data_root=data_root, out=out, variant=variant, recipe=recipe,
                      overrides=overrides, protocol=PRETRAIN_PROTOCOL, resume=resume, cache_dir=cache_dir,
                      progress=progress)


def resolve_init(train: TrainConfig, *, variant: str, model_kwargs: dict, num_classes: int,
                 data_root: str | Path | None) -> TrainConfig:
    """``train`` with ``init_sha256`` and ``init_data`` filled from the pretraining run ``train.init``.

    Raises :class:`mewb.rundir.RunDirError` (one line naming the run) when the run is not a
    finished pretraining run of the same model, when a recorded ``init_sha256`` no longer
    matches its checkpoint, or when its SynthME identities overlap the evaluation data's.
    """
    if not train.init:
        return train
    path = Path(train.init)
    run = RunDir.open(path)  # a missing or broken run is an error naming it
    config = run.config
    if ALL_SUBJECTS_FOLD not in run.finished_folds():
        raise RunDirError(f"{path}: not a finished pretraining run (no folds/{ALL_SUBJECTS_FOLD}); "
                          "make one with mewb pretrain")
    if (config.variant, dict(config.model_kwargs), config.num_classes) != (variant, dict(model_kwargs), num_classes):
        raise RunDirError(f"{path}: pretrained {config.variant} {dict(config.model_kwargs)} with {config.num_classes} "
                          f"classes; this run trains {variant} {dict(model_kwargs)} with {num_classes}")
    sha = hashlib.sha256(run.checkpoint_bytes(ALL_SUBJECTS_FOLD)).hexdigest()  # verified against fold.json
    if train.init_sha256 and train.init_sha256 != sha:
        raise RunDirError(f"{run.checkpoint_path(ALL_SUBJECTS_FOLD)}: its SHA-256 is not the init_sha256 the recipe "
                          "records; the pretraining run changed since (retrain from it with a fresh recipe)")
    if data_root is not None and config.dataset.root:
        from mewb.synth.presets import identity_seeds

        shared = identity_seeds(config.dataset.root) & identity_seeds(data_root)
        if shared:
            raise RunDirError(f"{path}: pretrained on SynthME generated with seed {sorted(shared)}, as the evaluation "
                              f"data at {data_root} is: its test subjects were seen in pretraining; generate the "
                              "pretraining set with another --seed")
    d = config.dataset
    data = f"{d.name} at {d.root}: {d.samples} clips, {d.subjects} subjects, samples_sha256 {d.samples_sha256}"
    return train.replace(init=str(path.resolve()), init_sha256=sha, init_data=data)


def load_init(train: TrainConfig) -> dict:
    """The pretraining run's weights (``train.init``), after their SHA-256 matched ``train.init_sha256``."""
    run = RunDir.open(train.init)
    data = run.checkpoint_bytes(ALL_SUBJECTS_FOLD)
    if hashlib.sha256(data).hexdigest() != train.init_sha256:
        raise RunDirError(f"{run.checkpoint_path(ALL_SUBJECTS_FOLD)}: SHA-256 differs from the init_sha256 this run "
                          "recorded; the pretraining run changed while this run trained")
    return run.load_state_dict(ALL_SUBJECTS_FOLD)
