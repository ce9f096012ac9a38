"""Executors: where a sweep's runs happen. Local processes by default, Dask distributed for clusters.

Both take a picklable function and a list of tasks, and yield (task, result)
as runs finish, in whatever order they finish.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from flowsim.errors import FlowsimError


class _Executor:
    """Both executors close when a ``with`` block ends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass


class LocalExecutor(_Executor):
    """A pool of worker processes on this machine."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)

    def run(self, fn: Callable, tasks: list) -> Iterator[tuple[object, object]]:
        if not tasks:
            return
        with ProcessPoolExecutor(max_workers=min(self.jobs, len(tasks))) as pool:
            futures = {pool.submit(fn, t): t for t in tasks}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()


class DaskExecutor(_Executor):
    """Dask distributed: a scheduler at ``address`` (tcp://host:8786), or a LocalCluster when none is given."""

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise FlowsimError("the dask executor needs Dask distributed: pip install 'flowsim[dask]'") from None
        self.cluster = None
        if address:
            self.client = Client(address)
        else:
            n = max(1, jobs or os.cpu_count() or 1)
            self.cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
            )
            self.client = Client(self.cluster)

    def run(self, fn: Callable, tasks: list) -> Iterator[tuple[object, object]]:
        from distributed import as_completed as dask_completed

        if not tasks:
            return
        futures = self.client.map(fn, tasks, pure=False)
        index = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in dask_completed(futures):
            yield index[fut.key], fut.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, jobs: int | None = None, scheduler: str | None = None):
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "dask":
        return DaskExecutor(scheduler, jobs)
    raise FlowsimError(f"executor: expected 'local' or 'dask', found {kind!r}")
