"""The fold worker: train and test one fold, as a pure function of a picklable :class:`FoldJob`.

Runs here, in a spawned process or on a Dask worker; it returns a :class:`FoldResult` and
writes nothing (the runner alone writes the run directory).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from mewb.data.sample import Sample
from mewb.train.config import TrainConfig


@dataclass
class FoldJob:
    """Everything a worker needs to train one fold (picklable: sent to processes and Dask).

    ``train`` and ``preprocess`` are the configs as dicts; ``execution`` holds what the worker
    needs of :class:`~mewb.train.executors.Execution` (``device``, ``threads``,
    ``loader_workers``, ``cache_dir``) and ``run_token`` (one per run: which folds may share the
    clips a worker has read).
    """

    name: str
    train_samples: list[Sample]
    val_samples: list[Sample]
    test_samples: list[Sample]
    variant: str
    num_classes: int
    model_kwargs: dict
    train: dict
    preprocess: dict
    execution: dict
    dataset_factory: Callable | None = None


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
    log: list[str] = field(default_factory=list)  # a pool worker's lines, in order (in-process: said live)
    members: list[dict] = None  # an ensemble's other members' weights (state_dict is member 1's)
    grid: list[dict] | None = None  # nested LOSO: each setting tried and its validation scores

    def record(self) -> dict:
        """What ``fold.json`` keeps of this fold (besides what the run directory adds)."""
        from datetime import datetime, timezone

        record = {"history": self.history, "seconds": self.seconds, "device": self.device, "threads": self.threads,
                  "train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if self.grid is not None:
            record["grid"] = self.grid
        return record


def clip_dataset(samples: Sequence[Sample], preprocess_config, modalities: Sequence[str], cache_dir: str | None = None):
    """The default ``dataset_factory``: :class:`mewb.data.dataset.ClipDataset` over the preprocessing cache.

    The cache is always used (``cache_dir``, else ``$MEWB_CACHE``, else ``~/.cache/mewb``): flow
    is computed once per clip, not once per fold and epoch.
    """
    from mewb.data.cache import PreprocessCache
    from mewb.data.dataset import ClipDataset

    return ClipDataset(samples, preprocess_config, modalities=tuple(modalities), cache=PreprocessCache(cache_dir))


# Clips kept by this process across the folds of one run: a pool worker trains many folds, and
# each fold reads nearly every clip again (on the composite, 435 of 442; about 1 s a fold from the
# cache). Only one run's clips are kept (its ``run_token``; a new run empties the store, so data
# regenerated between two runs of a notebook is read afresh), within a byte budget; beyond it
# clips are read per fold as before. Keyed by the sample record itself (its paths included).
_KEPT: dict[tuple, dict] = {}
_KEPT_STATE = {"token": None, "bytes": 0}
KEEP_BUDGET_BYTES = 1 << 30


def _kept_store(token: str | None) -> dict | None:
    if token is None:
        return None
    if _KEPT_STATE["token"] != token:
        _KEPT.clear()
        _KEPT_STATE.update(token=token, bytes=0)
    return _KEPT


class InMemory(torch.utils.data.Dataset):
    """Items of a dataset kept in memory after the first read (folds re-read the same clips every epoch).

    Given ``samples`` and a ``run_token``, items are also kept for the same run's later folds in
    this process (see ``_KEPT``); ``"index"`` is always this dataset's own position.
    """

    def __init__(self, dataset, samples: Sequence[Sample] | None = None, run_token: str | None = None) -> None:
        self.dataset = dataset
        self.keys = [repr(s) for s in samples] if samples is not None and run_token else None
        self.store = _kept_store(run_token) if self.keys is not None else None
        self.items: dict[int, dict] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        if index in self.items:
            return self.items[index]
        kept = self.store.get(self.keys[index]) if self.store is not None else None
        item = {**kept, "index": index} if kept is not None else self.dataset[index]
        self.items[index] = item
        if self.store is not None and kept is None:
            size = sum(v.numel() * v.element_size() for v in item.values() if isinstance(v, torch.Tensor))
            if _KEPT_STATE["bytes"] + size <= KEEP_BUDGET_BYTES:
                self.store[self.keys[index]] = item
                _KEPT_STATE["bytes"] += size
        return item


def subject_key(sample: Sample) -> str:
    return f"{sample.dataset}/{sample.subject}"


def run_fold(job: FoldJob, *, log_fn: Callable[[str], None] | None = None, progress: bool = False) -> FoldResult:
    """Train and test one fold; pure function of ``job`` (seeded from its train config).

    Levers, none of which reads a test label: ``train.grid`` (nested LOSO: each setting is trained
    on the fold's fit subjects and scored on its inner validation subjects, then the best one is
    trained on all the fold's training subjects), ``train.ensemble`` (K seeds, probabilities
    averaged), ``train.tta`` (in :func:`mewb.train.loop.predict`) and ``train.init``.
    """
    from mewb.data.preprocess import PreprocessConfig
    from mewb.device import configure_torch_threads
    from mewb.models import create_model
    from mewb.train.loop import train_fold

    started = time.perf_counter()
    threads = configure_torch_threads(job.execution.get("threads"))
    config = TrainConfig.from_dict(job.train)
    preprocess = PreprocessConfig.from_dict(job.preprocess)
    initial = None
    if config.init:
        from mewb.train.pretrain import load_init

        initial = load_init(config)  # checked against init_sha256 in every worker
    factory = job.dataset_factory or clip_dataset
    cache_dir = job.execution.get("cache_dir")
    modalities = create_model(job.variant, num_classes=job.num_classes, **job.model_kwargs).modalities
    datasets: dict[str, object] = {}

    def dataset(name: str, samples: list[Sample]):
        """In-memory datasets shared by grid trials and ensemble members (each clip read once)."""
        if name not in datasets:
            datasets[name] = InMemory(factory(samples, preprocess, modalities, cache_dir), samples,
                                      job.execution.get("run_token")) if samples else None
        return datasets[name]

    lines: list[str] = []
    say = log_fn or lines.append

    def train(member_config: TrainConfig, train_samples: list[Sample], train_name: str, test_samples, test_name,
              val_samples, desc: str):
        torch.manual_seed(member_config.seed)
        model = create_model(job.variant, num_classes=job.num_classes, **job.model_kwargs)
        if initial is not None:
            model.load_state_dict(initial)
        outcome = train_fold(
            model, dataset(train_name, train_samples), [s.label for s in train_samples], config=member_config,
            num_classes=job.num_classes, test_set=dataset(test_name, test_samples),
            val_set=dataset("val", val_samples) if val_samples else None, flow_mode=preprocess.flow_mode,
            device=job.execution.get("device", "auto"), loader_workers=job.execution.get("loader_workers", 0),
            log_fn=say, progress=progress, desc=desc)
        return outcome, model

    train_samples, val_samples, grid_log = job.train_samples, job.val_samples, None
    if config.grid:  # nested LOSO: the setting is chosen on training subjects only
        from mewb.train.config import grid_points
        from mewb.train.metrics import scores

        grid_log = []
        for point in grid_points(config.grid):
            trial = config.replace(**point, grid="", ensemble=1)
            outcome, _ = train(trial, job.train_samples, "train", job.val_samples, "val", [],
                               f"{job.name} [grid {point}]")
            s = scores([x.label for x in job.val_samples], outcome.preds, job.num_classes)
            grid_log.append({"setting": point, "val_uf1": s["uf1"], "val_uar": s["uar"]})
        best = max(grid_log, key=lambda r: r["val_uf1"] if r["val_uf1"] is not None else -1.0)  # the first on ties
        say(f"{job.name}: grid chose {best['setting']} (validation UF1 {best['val_uf1']:.4f} on "
            f"{len({subject_key(x) for x in job.val_samples})} training subjects)")
        config = config.replace(**best["setting"], grid="")
        train_samples, val_samples = job.train_samples + job.val_samples, []  # refit on every training subject

    members, model = [], None
    for member in range(config.ensemble):  # a seed ensemble: K models, probabilities averaged
        tag = job.name if config.ensemble == 1 else f"{job.name} [member {member + 1}/{config.ensemble}]"
        outcome, model = train(config.replace(seed=config.seed + member), train_samples,
                               "train" if train_samples is job.train_samples else "all", job.test_samples, "test",
                               val_samples, tag)
        members.append(outcome)
    outcome = members[0]
    if len(members) > 1:
        outcome = replace(outcome, probs=np.mean([m.probs for m in members], axis=0),
                          history=[dict(r, member=k + 1) for k, m in enumerate(members) for r in m.history])
    rows = []
    for sample, label, probs in zip(job.test_samples, outcome.labels, outcome.probs):
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
        members=[m.state_dict for m in members[1:]],
        grid=grid_log,
        seconds=time.perf_counter() - started,
        device=str(next(model.parameters()).device),
        threads=threads,
        train_subjects=sorted({subject_key(s) for s in job.train_samples}),
        val_subjects=sorted({subject_key(s) for s in job.val_samples}),
        log=lines,
    )
