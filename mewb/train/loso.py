"""Evaluation protocols over a run directory: LOSO, per-dataset holdout, cross-dataset.

``run_loso(samples, variant=..., train_config=..., preprocess_config=..., out=...)`` trains one
fold per subject (subjects keyed ``dataset/subject``, so the composite's are distinct), each on
every other subject of every dataset, and writes::

    out/
      config.yaml          variant, dataset, protocol, train + preprocess configs, model kwargs
      environment.json     versions, git SHA, device, threads, executor, host
      log.txt              plain lines: one per epoch and per fold, the protocol on each result
      folds/<dataset>/<subject>/
        checkpoint.pt      selected weights + what selected them
        predictions.csv    this fold's test predictions
        fold.json          history, selected epoch, subjects (written last: the "done" marker)
      predictions.csv      one row per test sample per fold: fold, dataset, subject, clip, label,
                           pred, prob_0..prob_{K-1}
      metrics.json         pooled accuracy/UF1/UAR, per fold, per dataset, confusion matrix
      megc_log.txt         MEGC2019-style per-subject log

An existing ``out`` is never overwritten (:class:`RunExistsError`) unless ``resume=True``, which
checks that the experiment is the same, skips finished folds and runs the rest: the final
metrics equal those of an uninterrupted run. ``run_holdout`` runs the same machinery with
dataset-level folds (cross-dataset: train on some datasets, test on another; or the composite's
per-dataset holdout).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from mewb.atomic import atomic_write
from mewb.data.sample import Sample
from mewb.train.config import TrainConfig
from mewb.train.metrics import compute_metrics, format_table, write_megc_log

FOLD_DONE = "fold.json"
# Settings that change how a run executes but not what it computes; resuming may change them.
EXECUTION_ONLY = ("device", "num_workers", "threads")
PREDICTION_COLUMNS = ["fold", "dataset", "subject", "clip", "label", "pred"]


class RunExistsError(FileExistsError, ValueError):
    """The run directory already exists and ``resume`` was not asked for."""


@dataclass
class RunResult:
    """A finished (or loaded) run: ``metrics`` (metrics.json), ``predictions`` (DataFrame), ``run_dir``."""

    run_dir: Path
    metrics: dict
    predictions: pd.DataFrame
    config: dict = field(default_factory=dict)

    def table(self) -> str:
        title = f"{self.config.get('variant', '')} on {self.config.get('dataset', {}).get('name', '')}"
        return format_table(self.metrics, title=title.strip())


@dataclass
class FoldSpec:
    """One fold: its name (``dataset/subject`` for LOSO) and index arrays into the run's samples."""

    name: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    val_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class FoldJob:
    """Everything a worker needs to train one fold (picklable: sent to processes and Dask)."""

    name: str
    train: list[Sample]
    val: list[Sample]
    test: list[Sample]
    variant: str
    num_classes: int
    model_kwargs: dict
    train_config: dict
    preprocess_config: dict
    cache_root: str | None
    dataset_factory: Callable | None
    threads: int | None


@dataclass
class FoldResult:
    name: str
    rows: list[dict]
    history: list[dict]
    selected_epoch: int
    state_dict: dict
    seconds: float
    device: str
    threads: int
    train_subjects: list[str]
    val_subjects: list[str]
    logged: bool = False


# ---------------------------------------------------------------------------------------------
# Data


def clip_dataset(samples: Sequence[Sample], preprocess_config, modalities: Sequence[str], cache_root: str | None = None):
    """The default ``dataset_factory``: :class:`mewb.data.dataset.ClipDataset` over the preprocessing cache.

    The cache is always used (``cache_root``, else ``$MEWB_CACHE``, else ``~/.cache/mewb``): flow
    is computed once per clip, not once per fold and epoch.
    """
    from mewb.data.cache import PreprocessCache
    from mewb.data.dataset import ClipDataset

    return ClipDataset(samples, preprocess_config, modalities=tuple(modalities), cache=PreprocessCache(cache_root))


class _InMemory(torch.utils.data.Dataset):
    """Items of a dataset kept in memory after the first read (folds re-read the same clips every epoch)."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset
        self.items: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        if index not in self.items:
            self.items[index] = self.dataset[index]
        return self.items[index]


def _preprocess_from_dict(values: dict):
    from mewb.data.preprocess import PreprocessConfig

    return PreprocessConfig.from_dict(values)


def _subject_key(sample: Sample) -> str:
    return f"{sample.dataset}/{sample.subject}"


# ---------------------------------------------------------------------------------------------
# One fold (runs in a worker)


def run_fold(job: FoldJob, *, log_fn: Callable[[str], None] | None = None, progress: bool = False) -> FoldResult:
    """Train and test one fold; pure function of ``job`` (seeded from its train config)."""
    from mewb.device import configure_torch_threads
    from mewb.models import create_model
    from mewb.train.loop import train_fold

    started = time.perf_counter()
    threads = configure_torch_threads(job.threads)
    config = TrainConfig.from_dict(job.train_config)
    preprocess = _preprocess_from_dict(job.preprocess_config)
    torch.manual_seed(config.seed)
    model = create_model(job.variant, num_classes=job.num_classes, **job.model_kwargs)
    factory = job.dataset_factory or clip_dataset

    def make(samples):
        return _InMemory(factory(samples, preprocess, model.modalities, job.cache_root)) if samples else None

    lines: list[str] = []
    outcome = train_fold(
        model,
        make(job.train),
        [s.label for s in job.train],
        config=config,
        num_classes=job.num_classes,
        test_set=make(job.test),
        val_set=make(job.val),
        flow_mode=getattr(preprocess, "flow_mode", "onset"),
        log_fn=log_fn or lines.append,
        progress=progress,
        desc=job.name,
    )
    rows = []
    for sample, label, probs in zip(job.test, outcome.labels, outcome.probs):
        if int(label) != sample.label:  # the dataset must keep sample order
            raise RuntimeError(f"{job.name}: test item order does not match the samples ({sample.key})")
        row = {"fold": job.name, "dataset": sample.dataset, "subject": sample.subject, "clip": sample.clip,
               "label": sample.label, "pred": int(np.argmax(probs))}
        row.update({f"prob_{k}": float(p) for k, p in enumerate(probs)})
        rows.append(row)
    return FoldResult(
        name=job.name,
        rows=rows,
        history=outcome.history,
        selected_epoch=outcome.selected_epoch,
        state_dict=outcome.state_dict,
        seconds=time.perf_counter() - started,
        device=str(next(model.parameters()).device),
        threads=threads,
        train_subjects=sorted({_subject_key(s) for s in job.train}),
        val_subjects=sorted({_subject_key(s) for s in job.val}),
        logged=log_fn is not None,
    )


# ---------------------------------------------------------------------------------------------
# Run directory


_atomic_write = atomic_write  # one implementation for the whole package (mewb/atomic.py)


def _atomic_torch_save(obj, path: Path) -> None:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _atomic_write(path, buffer.getvalue())


def fold_dir(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / "folds" / name


def git_sha() -> str | None:
    """The commit of the mewb checkout (``+dirty`` when it has uncommitted changes), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: str, threads: int, executor: str, workers: int) -> dict:
    import sklearn

    import mewb

    env = {
        "mewb": getattr(mewb, "__version__", None),
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "device": device,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": threads,
        "executor": executor,
        "workers": workers,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        import cv2

        env["opencv"] = cv2.__version__
    except ImportError:
        env["opencv"] = None
    return env


def samples_digest(samples: Sequence[Sample]) -> str:
    """SHA-256 over the samples' keys and labels: resuming with other data is refused."""
    h = hashlib.sha256()
    for s in samples:
        h.update(f"{s.key}\t{s.label}\n".encode())
    return h.hexdigest()


def _identity(config: dict) -> dict:
    """The parts of ``config.yaml`` that define what a run computes (compared on resume)."""
    train = {k: v for k, v in config["train"].items() if k not in EXECUTION_ONLY}
    return {
        "variant": config["variant"],
        "model_kwargs": config.get("model_kwargs", {}),
        "num_classes": config["num_classes"],
        "protocol": config["protocol"],
        "train": train,
        "preprocess": config["preprocess"],
        "samples": config["dataset"]["samples_sha256"],
    }


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(f"{prefix}{key}: {x!r} (run) != {y!r} (now)")
    return out


def _make_logger(run_dir: Path) -> logging.Logger:
    logger = logging.getLogger(f"mewb.run.{run_dir.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
    handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
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


# ---------------------------------------------------------------------------------------------
# Protocols


def loso_folds(samples: Sequence[Sample]) -> list[FoldSpec]:
    """One fold per subject (``dataset/subject``), via ``mewb.data.splits``."""
    from mewb.data.splits import loso_folds as _loso

    return [FoldSpec(name, train, test) for name, train, test in _loso(samples)]


def holdout_folds(samples: Sequence[Sample], *, test_datasets: Sequence[str] | None = None,
                  train_datasets: Sequence[str] | None = None) -> list[FoldSpec]:
    """Dataset-level folds.

    - ``test_datasets=None``: the composite's per-dataset holdout, one fold per dataset, trained on
      all the others (fold ``holdout/<dataset>``).
    - otherwise cross-dataset: one fold per test dataset, trained on ``train_datasets`` (default:
      every dataset not tested), fold ``<train+train>-to-<test>``.
    """
    names = np.array([s.dataset for s in samples], dtype=object)
    present = sorted(set(names.tolist()))
    for wanted in list(test_datasets or []) + list(train_datasets or []):
        if wanted not in present:
            raise ValueError(f"dataset {wanted!r} has no samples here; present: {', '.join(present)}")
    folds = []
    if test_datasets is None:
        if len(present) < 2:
            raise ValueError(f"a per-dataset holdout needs at least 2 datasets, got {present}")
        for name in present:
            folds.append(FoldSpec(f"holdout/{name}", np.flatnonzero(names != name), np.flatnonzero(names == name)))
        return folds
    for test in test_datasets:
        sources = [d for d in (train_datasets or present) if d != test]
        if not sources:
            raise ValueError(f"nothing to train on when testing on {test!r}")
        if test in (train_datasets or []):
            raise ValueError(f"dataset {test!r} is both a training and a test dataset")
        train = np.flatnonzero(np.isin(names, sources))
        folds.append(FoldSpec(f"{'+'.join(sources)}-to-{test}", train, np.flatnonzero(names == test)))
    return folds


def _with_validation(samples: Sequence[Sample], folds: list[FoldSpec], config: TrainConfig) -> list[FoldSpec]:
    if config.selection != "inner-val":
        return folds
    from mewb.data.splits import inner_validation_split

    out = []
    for fold in folds:
        fit, val = inner_validation_split(samples, fold.train_idx, fraction=config.val_fraction, seed=config.seed)
        out.append(FoldSpec(fold.name, fit, fold.test_idx, val))
    return out


def _select_folds(folds: list[FoldSpec], wanted: Sequence[str] | None) -> list[FoldSpec]:
    """Folds by name; a bare subject id (``sub01``) is accepted when it names one fold."""
    if not wanted:
        return folds
    by_name = {f.name: f for f in folds}
    chosen = []
    for w in wanted:
        if w in by_name:
            chosen.append(by_name[w])
            continue
        matches = [f for f in folds if f.name.rsplit("/", 1)[-1] == w]
        if len(matches) != 1:
            valid = ", ".join(by_name)
            why = "is ambiguous" if matches else "is not a fold"
            raise ValueError(f"fold {w!r} {why}; folds: {valid}")
        chosen.append(matches[0])
    return _unique(chosen)


def _unique(folds: list[FoldSpec]) -> list[FoldSpec]:
    seen, out = set(), []
    for f in folds:
        if f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def run_loso(
    samples: Sequence[Sample],
    *,
    variant: str,
    train_config: TrainConfig | None = None,
    preprocess_config=None,
    out: str | Path,
    folds: Sequence[str] | None = None,
    resume: bool = False,
    executor: str = "inprocess",
    scheduler: str | None = None,
    workers: int | None = None,
    dataset_name: str = "",
    dataset_root: str | Path | None = None,
    class_names: Sequence[str] = (),
    num_classes: int | None = None,
    model_kwargs: dict | None = None,
    dataset_factory: Callable | None = None,
    cache_root: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Leave-one-subject-out evaluation of ``variant`` on ``samples``; see the module docstring.

    ``folds`` restricts the run to some subjects (``dataset/subject`` or a unique bare id).
    ``dataset_factory(samples, preprocess_config, modalities, cache_root)`` builds each fold's
    datasets (default :func:`clip_dataset`; must be picklable for ``process``/``dask``).
    """
    return run_protocol(
        samples, loso_folds(samples), protocol="loso", variant=variant, train_config=train_config,
        preprocess_config=preprocess_config, out=out, folds=folds, resume=resume, executor=executor,
        scheduler=scheduler, workers=workers, dataset_name=dataset_name, dataset_root=dataset_root,
        class_names=class_names, num_classes=num_classes, model_kwargs=model_kwargs,
        dataset_factory=dataset_factory, cache_root=cache_root, progress=progress,
    )


def run_holdout(
    samples: Sequence[Sample],
    *,
    test_datasets: Sequence[str] | None = None,
    train_datasets: Sequence[str] | None = None,
    **kwargs,
) -> RunResult:
    """Cross-dataset (``test_datasets`` given) or per-dataset holdout (``None``); same run directory.

    ``kwargs`` are those of :func:`run_loso`. Protocol names in ``config.yaml``: ``cross-dataset``
    and ``dataset-holdout``.
    """
    protocol = "dataset-holdout" if test_datasets is None else "cross-dataset"
    specs = holdout_folds(samples, test_datasets=test_datasets, train_datasets=train_datasets)
    return run_protocol(samples, specs, protocol=protocol, **kwargs)


def run_protocol(
    samples: Sequence[Sample],
    fold_specs: list[FoldSpec],
    *,
    protocol: str,
    variant: str,
    train_config: TrainConfig | None = None,
    preprocess_config=None,
    out: str | Path,
    folds: Sequence[str] | None = None,
    resume: bool = False,
    executor: str = "inprocess",
    scheduler: str | None = None,
    workers: int | None = None,
    dataset_name: str = "",
    dataset_root: str | Path | None = None,
    class_names: Sequence[str] = (),
    num_classes: int | None = None,
    model_kwargs: dict | None = None,
    dataset_factory: Callable | None = None,
    cache_root: str | Path | None = None,
    progress: bool = True,
) -> RunResult:
    """Train and test every fold of ``fold_specs`` into the run directory ``out``."""
    from mewb.device import cpu_threads, resolve_device
    from mewb.models import create_model
    from mewb.train.executors import make_executor

    samples = list(samples)
    if not samples:
        raise ValueError("no samples to evaluate")
    config = train_config or TrainConfig()
    if preprocess_config is None:
        from mewb.data.preprocess import PreprocessConfig

        preprocess_config = PreprocessConfig()
    elif isinstance(preprocess_config, dict):
        preprocess_config = _preprocess_from_dict(preprocess_config)
    model_kwargs = dict(model_kwargs or {})
    num_classes = num_classes or max(s.label for s in samples) + 1
    probe = create_model(variant, num_classes=num_classes, **model_kwargs)  # validates the name early
    if hasattr(preprocess_config, "with_variant_defaults"):
        preprocess_config = preprocess_config.with_variant_defaults(probe.data_config)
    del probe
    device = resolve_device(config.device)  # fails early when CUDA is asked for and missing
    specs = _select_folds(_with_validation(samples, fold_specs, config), folds)

    run_dir = Path(out)
    config_doc = {
        "variant": variant,
        "model_kwargs": model_kwargs,
        "num_classes": num_classes,
        "protocol": protocol,
        "selection": config.protocol,
        "dataset": {
            "name": dataset_name or "+".join(sorted({s.dataset for s in samples})),
            "root": str(dataset_root) if dataset_root else None,
            "samples": len(samples),
            "subjects": len({_subject_key(s) for s in samples}),
            "class_names": list(class_names),
            "samples_sha256": samples_digest(samples),
        },
        "folds": [f.name for f in specs],
        "train": config.to_dict(),
        "preprocess": preprocess_config.to_dict(),
    }
    if run_dir.exists() and any(run_dir.iterdir()):
        if not resume:
            raise RunExistsError(f"{run_dir}: run directory exists; choose a new --out or pass --resume to continue it")
        stored_path = run_dir / "config.yaml"
        if not stored_path.is_file():
            raise ValueError(f"{run_dir}: not a mewb run directory (no config.yaml); cannot resume it")
        stored = yaml.safe_load(stored_path.read_text())
        diff = _differences(_identity(stored), _identity(config_doc))
        if diff:
            raise ValueError(f"{run_dir}: cannot resume, the experiment differs from the stored one: " + "; ".join(diff))
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(run_dir / "config.yaml", yaml.safe_dump(config_doc, sort_keys=False))

    pool = make_executor(executor, workers=workers, scheduler=scheduler)
    threads = config.threads or (cpu_threads() if pool.live else max(1, cpu_threads() // pool.workers))
    env = environment(str(device), threads, executor, pool.workers)
    env_path = run_dir / "environment.json"
    if env_path.is_file():  # keep the first session's record, append this one
        previous = json.loads(env_path.read_text())
        env = {**previous, "resumed": previous.get("resumed", []) + [env]}
    _atomic_write(env_path, json.dumps(env, indent=2))

    logger = _make_logger(run_dir)
    console = _console_mode(progress)

    def say(line: str) -> None:
        logger.info(line)
        if console == "lines":
            print(line, file=sys.stderr, flush=True)
        elif console == "bars":
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stderr)

    tag = "  ** test-selected (leaky) **" if config.leaky else ""
    done = [f for f in specs if (fold_dir(run_dir, f.name) / FOLD_DONE).is_file()]
    todo = [f for f in specs if f not in done]
    say(f"{'resume' if done else 'start'} {protocol} run {run_dir}: variant {variant}, {len(specs)} folds "
        f"({len(done)} done), selection: {config.protocol}{tag}, device {device}, executor {executor}")
    jobs = [
        FoldJob(
            name=f.name,
            train=[samples[i] for i in f.train_idx],
            val=[samples[i] for i in f.val_idx],
            test=[samples[i] for i in f.test_idx],
            variant=variant,
            num_classes=num_classes,
            model_kwargs=model_kwargs,
            train_config=config.to_dict(),
            preprocess_config=preprocess_config.to_dict(),
            cache_root=str(cache_root) if cache_root else None,
            dataset_factory=dataset_factory,
            threads=threads,
        )
        for f in todo
    ]
    bar = None
    if console == "bars":
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), initial=len(done), desc=f"{variant} folds", unit="fold", dynamic_ncols=True)
    live = {"log_fn": say, "progress": console == "bars"} if pool.live else {}
    try:
        for result in pool.run(run_fold, jobs, **live):
            _write_fold(run_dir, result, config)
            if not result.logged:
                for record in result.history:
                    say(f"{result.name}: epoch {record['epoch']}/{config.epochs} loss {record['loss']:.4f}")
            fold_scores = _fold_summary(result, num_classes)
            say(f"{result.name}: done in {result.seconds:.1f}s, selected epoch {result.selected_epoch}, "
                f"{fold_scores}{tag}")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        pool.close()

    result = _finish(run_dir, specs, config, num_classes, class_names, config_doc)
    say(format_table(result.metrics, title=f"{variant} {protocol}").replace("\n", "\n    "))
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
    return result


def _fold_summary(result: FoldResult, num_classes: int) -> str:
    from mewb.train.metrics import scores

    s = scores([r["label"] for r in result.rows], [r["pred"] for r in result.rows], num_classes)
    if s["accuracy"] is None:
        return "no test clips"
    return f"n {s['n']} acc {s['accuracy']:.4f} UF1 {s['uf1']:.4f} UAR {s['uar']:.4f}"


def _write_fold(run_dir: Path, result: FoldResult, config: TrainConfig) -> None:
    """Checkpoint and predictions first, ``fold.json`` last: a fold is done only when that exists."""
    folder = fold_dir(run_dir, result.name)
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save(
        {"state_dict": result.state_dict, "selected_epoch": result.selected_epoch, "selection": config.protocol},
        folder / "checkpoint.pt",
    )
    _atomic_write(folder / "predictions.csv", _rows_frame(result.rows).to_csv(index=False))
    meta = {
        "fold": result.name,
        "selection": config.protocol,
        "selected_epoch": result.selected_epoch,
        "history": result.history,
        "seconds": result.seconds,
        "device": result.device,
        "threads": result.threads,
        "train_subjects": result.train_subjects,
        "val_subjects": result.val_subjects,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _atomic_write(folder / FOLD_DONE, json.dumps(meta, indent=2))


def _rows_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    return frame


def _read_fold_predictions(path: Path) -> pd.DataFrame:
    # ids stay text ("006" must not become 6)
    return pd.read_csv(path, dtype={"fold": str, "dataset": str, "subject": str, "clip": str})


def _finish(run_dir: Path, specs: list[FoldSpec], config: TrainConfig, num_classes: int,
            class_names: Sequence[str], config_doc: dict) -> RunResult:
    frames = [_read_fold_predictions(fold_dir(run_dir, f.name) / "predictions.csv") for f in specs]
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PREDICTION_COLUMNS)
    metrics = compute_metrics(predictions, num_classes, protocol=config.protocol, class_names=class_names)
    metrics["evaluation"] = config_doc["protocol"]
    metrics["variant"] = config_doc["variant"]
    _atomic_write(run_dir / "predictions.csv", predictions.to_csv(index=False))
    _atomic_write(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    write_megc_log(predictions, run_dir / "megc_log.txt", protocol=config.protocol)
    return RunResult(run_dir=run_dir, metrics=metrics, predictions=predictions, config=config_doc)


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run directory back as a :class:`RunResult`."""
    run_dir = Path(run_dir)
    for name in ("config.yaml", "metrics.json", "predictions.csv"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: not found (unfinished run? continue it with --resume)")
    return RunResult(
        run_dir=run_dir,
        metrics=json.loads((run_dir / "metrics.json").read_text()),
        predictions=_read_fold_predictions(run_dir / "predictions.csv"),
        config=yaml.safe_load((run_dir / "config.yaml").read_text()),
    )
