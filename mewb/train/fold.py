"""The fold worker: train and test one fold, as a pure function of a picklable :class:`FoldJob`.

Runs here, in a spawned process or on a Dask worker; it returns a :class:`FoldResult` and
writes nothing (the runner alone writes the run directory).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mewb.data.sample import Sample
from mewb.train.config import TrainConfig


@dataclass
class FoldJob:
    """Everything a worker needs to train one fold (picklable: sent to processes and Dask).

    ``train`` and ``preprocess`` are the configs as dicts; ``execution`` holds what the worker
    needs of :class:`~mewb.train.executors.Execution` (``device``, ``threads``,
    ``loader_workers``, ``cache_dir``).
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
    logged: bool = False

    def record(self) -> dict:
        """What ``fold.json`` keeps of this fold (besides what the run directory adds)."""
        from datetime import datetime, timezone

        return {"history": self.history, "seconds": self.seconds, "device": self.device, "threads": self.threads,
                "train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def clip_dataset(samples: Sequence[Sample], preprocess_config, modalities: Sequence[str], cache_dir: str | None = None):
    """The default ``dataset_factory``: :class:`mewb.data.dataset.ClipDataset` over the preprocessing cache.

    The cache is always used (``cache_dir``, else ``$MEWB_CACHE``, else ``~/.cache/mewb``): flow
    is computed once per clip, not once per fold and epoch.
    """
    from mewb.data.cache import PreprocessCache
    from mewb.data.dataset import ClipDataset

    return ClipDataset(samples, preprocess_config, modalities=tuple(modalities), cache=PreprocessCache(cache_dir))


class InMemory(torch.utils.data.Dataset):
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


def subject_key(sample: Sample) -> str:
    return f"{sample.dataset}/{sample.subject}"


def run_fold(job: FoldJob, *, log_fn: Callable[[str], None] | None = None, progress: bool = False) -> FoldResult:
    """Train and test one fold; pure function of ``job`` (seeded from its train config)."""
    from mewb.data.preprocess import PreprocessConfig
    from mewb.device import configure_torch_threads
    from mewb.models import create_model
    from mewb.train.loop import train_fold

    started = time.perf_counter()
    threads = configure_torch_threads(job.execution.get("threads"))
    config = TrainConfig.from_dict(job.train)
    preprocess = PreprocessConfig.from_dict(job.preprocess)
    torch.manual_seed(config.seed)
    model = create_model(job.variant, num_classes=job.num_classes, **job.model_kwargs)
    factory = job.dataset_factory or clip_dataset
    cache_dir = job.execution.get("cache_dir")

    def make(samples):
        return InMemory(factory(samples, preprocess, model.modalities, cache_dir)) if samples else None

    lines: list[str] = []
    outcome = train_fold(
        model,
        make(job.train_samples),
        [s.label for s in job.train_samples],
        config=config,
        num_classes=job.num_classes,
        test_set=make(job.test_samples),
        val_set=make(job.val_samples),
        flow_mode=preprocess.flow_mode,
        device=job.execution.get("device", "auto"),
        loader_workers=job.execution.get("loader_workers", 0),
        log_fn=log_fn or lines.append,
        progress=progress,
        desc=job.name,
    )
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
        seconds=time.perf_counter() - started,
        device=str(next(model.parameters()).device),
        threads=threads,
        train_subjects=sorted({subject_key(s) for s in job.train_samples}),
        val_subjects=sorted({subject_key(s) for s in job.val_samples}),
        logged=log_fn is not None,
    )
