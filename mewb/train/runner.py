"""Running an experiment into a run directory: LOSO, per-dataset holdout, cross-dataset, final model.

Two objects say everything about a run:

- :class:`Experiment`: *what* is computed: the samples, the protocol's folds and the
  :class:`mewb.rundir.RunConfig` (variant, model kwargs, classes, dataset identity, train and
  preprocess settings). Two runs of one experiment give the same predictions.
- :class:`mewb.train.executors.Execution`: *how* it runs: executor, workers, scheduler, threads,
  device, cache folder, progress. ``--resume`` may change it, never the experiment.

:func:`run_experiment` trains every fold that is not finished (with the executor), writes each
fold to the :class:`mewb.rundir.RunDir` as it finishes, and pools the predictions. An interrupted
run resumed gives the metrics of an uninterrupted one. :func:`run_loso` and :func:`run_holdout`
build the experiment for the usual protocols; :func:`run_recipe` is what the CLI and the
training notebook call (dataset name and folder, variant, recipe, overrides).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample
from mewb.rundir import PREDICTION_COLUMNS, DatasetIdentity, RunConfig, RunDir, RunResult, run_lock
from mewb.train.config import TrainConfig
from mewb.train.executors import Execution
from mewb.train.fold import FoldJob, FoldResult, clip_dataset, run_fold, subject_key
from mewb.train.metrics import compute_metrics, format_table
from mewb.train.protocols import FoldSpec, holdout_folds, loso_folds, select_folds, with_validation
from mewb.train.provenance import environment, samples_digest


@dataclass
class Experiment:
    """What a run computes: ``samples``, the ``folds`` to train (inner-validation splits
    included) and the run's ``config`` (its ``folds`` field lists their names).

    ``dataset_factory(samples, preprocess_config, modalities, cache_dir)`` builds each fold's
    datasets (default :func:`mewb.train.fold.clip_dataset`; picklable for ``process``/``dask``);
    tests pass :func:`mewb.train.toy.toy_dataset`.
    """

    samples: list[Sample]
    folds: list[FoldSpec]
    config: RunConfig
    dataset_factory: Callable | None = None

    @classmethod
    def create(
        cls,
        samples: Sequence[Sample],
        fold_specs: list[FoldSpec],
        *,
        protocol: str,
        variant: str,
        train_config: TrainConfig | None = None,
        preprocess_config: PreprocessConfig | None = None,
        model_kwargs: dict | None = None,
        num_classes: int | None = None,
        dataset_name: str = "",
        data_root: str | Path | None = None,
        class_names: Sequence[str] = (),
        folds: Sequence[str] | None = None,
        dataset_factory: Callable | None = None,
    ) -> "Experiment":
        """Validate and assemble an experiment; ``folds`` keeps a subset (``dataset/subject`` or a bare id).

        The configs are used as given: variant data defaults belong to recipe resolution
        (:func:`mewb.recipe.resolve`), before this point.
        """
        from mewb.models import list_models

        samples = list(samples)
        if not samples:
            raise ValueError("no samples to evaluate")
        if variant not in list_models():
            raise ValueError(f"unknown model {variant!r}; valid names: {', '.join(list_models())}")
        train = train_config or TrainConfig()
        preprocess = preprocess_config or PreprocessConfig()
        specs = select_folds(with_validation(samples, fold_specs, train), folds)
        config = RunConfig(
            variant=variant,
            model_kwargs=dict(model_kwargs or {}),
            num_classes=int(num_classes or max(s.label for s in samples) + 1),
            protocol=protocol,
            dataset=DatasetIdentity(
                name=dataset_name or "+".join(sorted({s.dataset for s in samples})),
                root=str(data_root) if data_root else None,
                samples=len(samples),
                subjects=len({subject_key(s) for s in samples}),
                class_names=tuple(class_names),
                samples_sha256=samples_digest(samples),
            ),
            folds=tuple(f.name for f in specs),
            train=train,
            preprocess=preprocess,
        )
        return cls(samples=samples, folds=specs, config=config, dataset_factory=dataset_factory)

    def jobs(self, folds: Sequence[FoldSpec], execution: Execution) -> list[FoldJob]:
        c = self.config
        import uuid

        worker = {"device": execution.device, "threads": execution.threads,
                  "loader_workers": execution.loader_workers, "cache_dir": execution.cache_dir,
                  "run_token": uuid.uuid4().hex}  # folds of this call may share the clips a worker has read
        return [
            FoldJob(name=f.name, train_samples=[self.samples[i] for i in f.train_idx],
                    val_samples=[self.samples[i] for i in f.val_idx], test_samples=[self.samples[i] for i in f.test_idx],
                    variant=c.variant, num_classes=c.num_classes, model_kwargs=dict(c.model_kwargs),
                    train=c.train.to_dict(), preprocess=c.preprocess.to_dict(), execution=worker,
                    dataset_factory=self.dataset_factory)
            for f in folds
        ]


def run_experiment(experiment: Experiment, out: str | Path, *, execution: Execution | None = None,
                   resume: bool = False) -> RunResult:
    """Train and test every unfinished fold of ``experiment`` into the run directory ``out``."""
    from mewb.device import resolve_device, resolve_precision

    from mewb.train.pretrain import resolve_init

    execution = (execution or Execution()).resolved()
    device = resolve_device(execution.device)  # fails early when CUDA is asked for and missing
    c = experiment.config
    train = c.train.replace(precision=resolve_precision(c.train.precision, device))  # "auto" is recorded as what ran
    # a pretraining run to start from: checked, and recorded with its checksum and data
    train = resolve_init(train, variant=c.variant, model_kwargs=c.model_kwargs, num_classes=c.num_classes,
                         data_root=c.dataset.root)
    config = replace(experiment.config, execution=execution, train=train)
    experiment = replace(experiment, config=config)
    RunDir.check_create(out, config, resume=resume)  # an existing or different run fails before preprocessing
    preprocess_all(experiment, execution)  # bad frames and settings fail here, before the run folder exists
    with run_lock(out):  # one process at a time trains into a run
        return _train_folds(experiment, out, execution, device, resume)


def _train_folds(experiment: Experiment, out: str | Path, execution: Execution, device, resume: bool) -> RunResult:
    """The body of :func:`run_experiment`, under the run's lock."""
    from mewb.device import cpu_threads

    config, train = experiment.config, experiment.config.train
    run = RunDir.create(out, config, resume=resume)
    pool = execution.pool()
    threads = execution.threads or (cpu_threads() if pool.live else max(1, cpu_threads() // pool.workers))
    if (threads, pool.workers) != (execution.threads, execution.workers):  # a Dask cluster's size is known now
        execution = execution.replace(threads=threads, workers=pool.workers)
        run = RunDir.create(out, replace(config, execution=execution), resume=True)
    run.record_environment(environment(str(device), threads, execution.executor, pool.workers))
    logger = _make_logger(run.log_path)
    console = _console_mode(execution.progress)

    def say(line: str) -> None:
        logger.info(line)
        if console == "lines":
            print(line, file=sys.stderr, flush=True)
        elif console == "bars":
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stderr)

    tag = "  ** test-selected (leaky) **" if train.leaky else ""
    specs = experiment.folds
    done = []
    for f in specs:
        if run.is_fold_finished(f.name):
            clips = {(s.dataset, s.subject, s.clip) for s in (experiment.samples[i] for i in f.test_idx)}
            problem = run.fold_problem(f.name, clips)
            if problem is None:
                done.append(f)
            else:  # a finished fold is finished only when its outputs are whole: train it again
                say(f"{f.name}: retraining, its outputs cannot be trusted: {problem}")
    todo = [f for f in specs if f not in done]
    say(f"{'resume' if done else 'start'} {config.protocol} run {run.path}: variant {config.variant}, {len(specs)} folds "
        f"({len(done)} done), selection: {config.selection}{tag}, device {device}, executor {execution.executor}")
    bar = None
    if console == "bars":
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), initial=len(done), desc=f"{config.variant} folds", unit="fold", dynamic_ncols=True)
    live = {"log_fn": say, "progress": console == "bars"} if pool.live else {}
    if not pool.live:  # a pool's workers take the longest folds first (no long fold trains alone at the end)
        todo = longest_first(todo)
    try:
        for result in pool.run(run_fold, experiment.jobs(todo, execution), **live):
            run.write_fold(result.name, state_dict=result.state_dict, rows=result.rows, record=result.record(),
                           selected_epoch=result.selected_epoch, members=result.members)
            for line in result.log:  # a pool worker's lines (epochs, grid choice, early stops), in order
                say(line)
            say(f"{result.name}: done in {result.seconds:.1f}s, selected epoch {result.selected_epoch}, "
                f"{_fold_summary(result, config.num_classes)}{tag}")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        pool.close()

    result = _finish(run, specs)
    say(format_table(result.metrics, title=f"{config.variant} {config.protocol}").replace("\n", "\n    "))
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
    return result


def longest_first(folds: Sequence[FoldSpec]) -> list[FoldSpec]:
    """``folds`` by decreasing training clips (a fold's cost), ties in their given order.

    A pool hands folds out in this order, so its workers end together within about the shortest
    fold's time instead of one worker training a long fold alone at the end.
    """
    return sorted(folds, key=lambda f: -(len(f.train_idx) + len(f.val_idx)))


def preprocess_all(experiment: Experiment, execution: Execution) -> None:
    """Decode and preprocess every clip the run reads, into the cache, before anything is written.

    An undecodable frame, a missing file or an unusable cache folder is an error naming the file
    now, not after the first folds have trained; the folds then only read the cache. Experiments
    with their own ``dataset_factory`` (tests' toy data) are left alone.
    """
    if experiment.dataset_factory not in (None, clip_dataset):
        return
    from mewb.data.cache import PreprocessCache
    from mewb.data.pipeline import ClipPipeline
    from mewb.models import create_model

    c = experiment.config
    modalities = create_model(c.variant, num_classes=c.num_classes, **c.model_kwargs).modalities
    pipeline = ClipPipeline(c.preprocess, modalities, PreprocessCache(execution.cache_dir))
    pipeline.warm(experiment.samples, progress=_console_mode(execution.progress) == "bars")  # no bar in a log file


def run_loso(samples: Sequence[Sample], *, out: str | Path, execution: Execution | None = None, resume: bool = False,
             **experiment) -> RunResult:
    """Leave-one-subject-out evaluation: one fold per subject (``dataset/subject``).

    ``experiment`` are the keyword arguments of :meth:`Experiment.create` (``variant``,
    ``train_config``, ``preprocess_config``, ``folds``, ``dataset_name``, ...).
    """
    return run_experiment(Experiment.create(samples, loso_folds(samples), protocol="loso", **experiment), out,
                          execution=execution, resume=resume)


def run_holdout(samples: Sequence[Sample], *, out: str | Path, test_datasets: Sequence[str] | None = None,
                train_datasets: Sequence[str] | None = None, execution: Execution | None = None,
                resume: bool = False, **experiment) -> RunResult:
    """Cross-dataset (``test_datasets`` given) or per-dataset holdout (``None``); same run directory.

    Protocol names in ``config.yaml``: ``cross-dataset`` and ``dataset-holdout``.
    """
    protocol = "dataset-holdout" if test_datasets is None else "cross-dataset"
    specs = holdout_folds(samples, test_datasets=test_datasets, train_datasets=train_datasets)
    return run_experiment(Experiment.create(samples, specs, protocol=protocol, **experiment), out,
                          execution=execution, resume=resume)


def run_recipe(*, dataset: str | None, data_root: str | Path | None, out: str | Path, variant: str | None = None,
               recipe=None, overrides: Sequence[str] | str = (), protocol: str = "loso",
               folds: Sequence[str] | None = None, resume: bool = False, cache_dir: str | Path | None = None,
               progress: bool | None = None) -> RunResult:
    """Read a dataset and run ``variant`` under ``recipe`` + ``overrides`` (the CLI's and notebook 10's call).

    With ``resume`` and no ``recipe``, the run's own ``config.yaml`` is the recipe, and the
    dataset and variant default to the ones it records. ``cache_dir`` and ``progress`` (when
    given) override the execution last: they say where this session runs, not what it computes.
    """
    from mewb.data.readers import class_names, read_dataset
    from mewb.recipe import resolve

    stored = None
    if resume and (Path(out) / "config.yaml").is_file():
        stored = RunDir.open(out).config
        if recipe is None:
            recipe = Path(out) / "config.yaml"
        variant = variant or stored.variant
        dataset = dataset or stored.dataset.name
        data_root = data_root or stored.dataset.root
    if not dataset or not data_root:
        raise ValueError("a dataset name and folder are required (--dataset, --data-root), unless --resume finds "
                         "them in the run's config.yaml")
    resolved = resolve(variant, recipe, overrides)
    samples, _report = read_dataset(dataset, data_root)
    if not samples:
        raise ValueError(f"dataset {dataset!r} at {data_root}: no samples")
    if resolved.sources.get("preprocess.size") == "default" and samples[0].flow_image is not None:
        # precomputed flow images train at their own size unless a recipe or override says otherwise
        from mewb.data.frames import read_image

        resolved = resolve(variant, recipe, [*_as_list(overrides), f"preprocess.size={read_image(samples[0].flow_image).shape[0]}"])
    execution = resolved.execution
    if cache_dir:
        execution = execution.replace(cache_dir=str(cache_dir))
    if progress is not None:
        execution = execution.replace(progress=progress)
    experiment = dict(variant=resolved.variant, model_kwargs=resolved.model_kwargs, train_config=resolved.train,
                      preprocess_config=resolved.preprocess, dataset_name=dataset, data_root=data_root,
                      class_names=class_names(dataset, samples))
    if protocol == "dataset-holdout":
        return run_holdout(samples, out=out, execution=execution, resume=resume, **experiment)
    if protocol == "all-subjects":  # mewb pretrain: one model on every clip, nothing held out
        from mewb.train.protocols import all_subjects_fold

        return run_experiment(Experiment.create(samples, all_subjects_fold(samples), protocol=protocol, **experiment),
                              out, execution=execution, resume=resume)
    if protocol != "loso":
        raise ValueError(f"unknown protocol {protocol!r}; valid: loso, dataset-holdout, all-subjects")
    return run_loso(samples, out=out, execution=execution, resume=resume, folds=folds, **experiment)


def _as_list(overrides: Sequence[str] | str) -> list[str]:
    return [p.strip() for p in overrides.split(";") if p.strip()] if isinstance(overrides, str) else list(overrides)


def _fold_summary(result: FoldResult, num_classes: int) -> str:
    from mewb.train.metrics import scores

    s = scores([r["label"] for r in result.rows], [r["pred"] for r in result.rows], num_classes)
    if s["accuracy"] is None:
        return "no test clips"
    return f"n {s['n']} acc {s['accuracy']:.4f} UF1 {s['uf1']:.4f} UAR {s['uar']:.4f}"


def _finish(run: RunDir, specs: list[FoldSpec]) -> RunResult:
    config = run.config
    frames = [run.fold_predictions(f.name) for f in specs]
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)
    metrics = compute_metrics(predictions, config.num_classes, protocol=config.selection,
                              class_names=config.dataset.class_names)
    metrics["evaluation"] = config.protocol
    metrics["variant"] = config.variant
    run.write_results(predictions, metrics)
    return RunResult(run_dir=run.path, config=config, metrics=metrics, predictions=predictions)


def _make_logger(path: Path) -> logging.Logger:
    logger = logging.getLogger(f"mewb.run.{path.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
    return logger


def _console_mode(progress: bool) -> str:
    """``bars`` (a terminal or a notebook), ``lines`` (stderr is a file: plain lines), or ``off``."""
    if not progress:
        return "off"
    try:
        from IPython import get_ipython

        if get_ipython() is not None and "IPKernelApp" in get_ipython().config:
            return "bars"
    except ImportError:
        pass
    return "bars" if sys.stderr.isatty() else "lines"
