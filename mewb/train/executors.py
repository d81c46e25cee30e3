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
from typing import Any

EXECUTORS = ("inprocess", "process", "dask")


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
