"""Where folds run: in this process (default), a local process pool, or a Dask cluster.

An executor takes picklable fold jobs and a top-level function, and yields the results as they
finish; the LOSO runner writes each finished fold to the run directory at once, so an
interrupted run keeps every fold that completed. Folds are seeded from the config alone and
never from the executor, so every executor gives the same predictions (tested).

- ``inprocess``: one fold after another here, with live epoch progress and log lines.
- ``process``: ``concurrent.futures.ProcessPoolExecutor`` with ``spawn`` workers (a fork of a
  process that already runs torch threads can deadlock); each worker gets ``cpus // workers``
  torch threads unless ``TrainConfig.threads`` says otherwise.
- ``dask``: ``distributed.Client(scheduler)``; with no scheduler address a ``LocalCluster`` is
  started. Workers must see the dataset files (and ``MEWB_CACHE``) at the same paths; results
  (predictions, weights) travel back to this process, which alone writes the run directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from mewb.configs import strict_from_dict

EXECUTORS = ("inprocess", "process", "dask")


@dataclass(frozen=True)
class Execution:
    """How and where a run's folds execute. It changes speed, never what a fold computes from
    its config, so ``--resume`` may change it (the thread count is recorded because float sums
    in another order move the last digits; the demo fixes it for exact reruns)."""

    executor: str = "inprocess"  # inprocess | process (spawned local pool) | dask
    workers: int | None = None  # pool or local-cluster workers; None: one per CPU, at most 4
    scheduler: str | None = None  # dask scheduler address tcp://HOST:PORT (executor dask only)
    threads: int | None = None  # torch CPU threads per fold; None: all CPUs (inprocess) or CPUs / workers
    device: str = "auto"  # auto (CUDA when available) | cpu | cuda | cuda:N
    loader_workers: int = 0  # DataLoader workers per fold; 0 is fastest when clips come from the cache
    cache_dir: str | None = None  # preprocessing cache folder; None: $MEWB_CACHE or ~/.cache/mewb
    progress: bool = True  # progress bars or lines on the console (the run's log.txt is always written)

    def __post_init__(self) -> None:
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):  # a Path: kept as text for YAML
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        if self.executor not in EXECUTORS:
            raise ValueError(f"unknown executor {self.executor!r}; valid: {', '.join(EXECUTORS)}")
        if self.scheduler and self.executor != "dask":
            raise ValueError("a scheduler address needs executor 'dask'")
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"execution.{name} must be at least 1 (or null for automatic), got {value}")
        if self.loader_workers < 0:
            raise ValueError(f"execution.loader_workers must be >= 0, got {self.loader_workers}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Execution":
        return strict_from_dict(cls, values, "execution")

    def replace(self, **changes) -> "Execution":
        return replace(self, **changes)

    def resolved(self) -> "Execution":
        """Concrete for this machine: CUDA trains in-process, ``workers`` and ``threads`` filled in.

        ``threads`` becomes every CPU for in-process runs and ``CPUs // workers`` in a process
        pool, so the count a run used can be written into its config and repeated.
        """
        from mewb.device import cpu_threads, resolve_device

        cpus = cpu_threads()
        executor = self.executor
        if executor == "process" and resolve_device(self.device).type == "cuda":
            executor = "inprocess"  # one GPU: spawned workers would only fight over it
        if executor == "inprocess":
            return replace(self, executor=executor, workers=1, threads=self.threads or cpus)
        if executor == "dask":  # the cluster's size is known once it is reached (the runner fills threads in)
            return self
        workers = self.workers or max(1, min(cpus, 4))
        return replace(self, executor=executor, workers=workers, threads=self.threads or max(1, cpus // workers))

    def pool(self):
        """The executor object this execution names (see :func:`make_executor`)."""
        return make_executor(self.executor, workers=self.workers, scheduler=self.scheduler)


class InProcessExecutor:
    name = "inprocess"
    live = True  # folds can log and draw progress bars here

    def __init__(self, workers: int | None = None) -> None:
        self.workers = 1

    def run(self, fn: Callable, jobs: Iterable, **live: Any) -> Iterator:
        for job in jobs:
            yield fn(job, **live)

    def close(self) -> None:
        pass


class ProcessExecutor:
    name = "process"
    live = False

    def __init__(self, workers: int | None = None) -> None:
        from mewb.device import cpu_threads

        self.workers = workers or max(1, min(cpu_threads(), 4))

    def run(self, fn: Callable, jobs: Iterable, **live: Any) -> Iterator:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(fn, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()

    def close(self) -> None:
        pass


class DaskExecutor:
    name = "dask"
    live = False

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:  # a core dependency; this only guards odd installs
            raise ValueError("the dask executor needs `dask[distributed]` (pip install 'dask[distributed]')") from error
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            from mewb.device import cpu_threads

            n = workers or max(1, min(cpu_threads(), 4))
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})) or (workers or 1))

    def run(self, fn: Callable, jobs: Iterable, **live: Any) -> Iterator:
        from distributed import as_completed

        jobs = list(jobs)
        # pure=False: a resubmitted fold is recomputed, never served from another run's result.
        futures = [self.client.submit(fn, job, pure=False, key=f"mewb-fold-{i}-{_token()}") for i, job in enumerate(jobs)]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _token() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def make_executor(name: str = "inprocess", *, workers: int | None = None, scheduler: str | None = None):
    """An executor by name (``inprocess``, ``process``, ``dask``); ``scheduler`` only for dask."""
    if name == "inprocess":
        return InProcessExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(workers, scheduler)
    raise ValueError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
