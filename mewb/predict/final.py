"""A run's *final* model: the same variant and settings, trained once on every subject.

LOSO folds estimate how well a recipe generalises; the model to apply to a new person's video is
the recipe trained on all subjects, with no held-out fold (there is nothing left to test it on,
so its run directory has no test predictions and its ``metrics.json`` reports none; the LOSO
run next to it is the estimate). ``mewb train --all-subjects --run-config runs/X/config.yaml
--out runs/X-final`` calls :func:`train_final`, which goes through the same runner as
``mewb loso`` (:func:`mewb.train.runner.run_experiment`) with one fold named ``all``.
"""

from __future__ import annotations

from pathlib import Path

from mewb import jsonio
from mewb.rundir import RunDir
from mewb.train.protocols import ALL_SUBJECTS_FOLD

FINAL_PROTOCOL = "all-subjects"  # config.yaml "protocol" of a final-model run
FINAL_FOLD = ALL_SUBJECTS_FOLD  # its one fold: folds/all/checkpoint.pt


def train_final(
    run: str | Path,
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    train_overrides: dict | None = None,
    execution_changes: dict | None = None,
    samples=None,
    dataset_factory=None,
):
    """Train the variant of the LOSO run ``run`` on all its dataset's subjects into ``out``.

    Args:
        run: the LOSO run directory (or its ``config.yaml``): variant, model kwargs, ``train``,
            ``preprocess``, execution, dataset name, root and class names are taken from it.
        out: a new run directory (never overwritten: :class:`mewb.rundir.RunExistsError`).
        data_root: the dataset folder when it moved since the run (default: the stored root).
        train_overrides: ``TrainConfig`` fields to change.
        execution_changes: ``Execution`` fields to change (``{"device": "cpu"}``, ``cache_dir``...).
        samples: the samples to train on instead of reading the dataset (tests).
        dataset_factory: as in :class:`mewb.train.runner.Experiment`.

    Returns:
        the :class:`mewb.rundir.RunResult` of the new run; its model is ``out/folds/all/checkpoint.pt``.
    """
    from mewb.train.protocols import all_subjects_fold
    from mewb.train.runner import Experiment, run_experiment

    path = Path(run)
    source = RunDir.open(path.parent if path.name == "config.yaml" else path)
    config = source.config
    if config.protocol == FINAL_PROTOCOL:
        raise ValueError(f"{source.path}: already a final-model run; give the LOSO run")
    name = config.dataset.name
    root = data_root or config.dataset.root
    if samples is None:
        from mewb.data.readers import read_dataset

        if not root:
            raise ValueError(f"{source.path / 'config.yaml'}: the run records no dataset root; pass --data-root")
        if not Path(root).exists():
            raise FileNotFoundError(f"{root}: the run's dataset folder is not there; pass --data-root")
        samples, _report = read_dataset(name, root)
    samples = list(samples)
    if not samples:
        raise ValueError(f"{name} at {root}: no samples to train on")
    train = config.train.replace(**(train_overrides or {}))
    if train.selection == "test-leaky":
        raise ValueError(f"{source.path}: selection 'test-leaky' needs a test subject; a final model has none")
    experiment = Experiment.create(
        samples, all_subjects_fold(samples), protocol=FINAL_PROTOCOL, variant=config.variant,
        train_config=train, preprocess_config=config.preprocess, model_kwargs=config.model_kwargs,
        num_classes=config.num_classes, dataset_name=name, data_root=root, class_names=config.dataset.class_names,
        dataset_factory=dataset_factory,
    )
    execution = config.execution.replace(**{k: v for k, v in (execution_changes or {}).items()})
    result = run_experiment(experiment, out, execution=execution)
    note = {
        "trained_from": str(source.path),
        "what": "one model on every subject of the dataset; no held-out fold, so no test metrics here",
        "estimate": "the LOSO run of the same config",
    }
    (Path(out) / "final.json").write_text(jsonio.dumps(note, indent=2) + "\n")
    return result

