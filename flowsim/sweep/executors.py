"""Executors: where a sweep's runs happen. Local processes by default, Dask distributed for clusters.

Both take a picklable function and an iterable of tasks (consumed lazily, a
few per worker ahead), and yield (task, result) as runs finish, in whatever
order they finish.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator

from flowsim.engine.compile import ensure_compiled
from flowsim.engine.families import keep_spares
from flowsim.errors import FlowsimError
from flowsim.workers import imap_unordered


class _Executor:
    """Both executors close when a ``with`` block ends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass


class LocalExecutor(_Executor):
    """A pool of worker processes on this machine; they die with this process (:mod:`flowsim.workers`)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)

    def run(self, fn: Callable, tasks: Iterable, size: int | None = None) -> Iterator[tuple[object, object]]:
        """Yield ``(task, fn(task))`` as runs finish; ``tasks`` may be lazy, ``size`` says how many to expect."""
        if size == 0:
            return iter(())
        ensure_compiled()  # once, here, before the workers start: else each compiles the kernel at once
        return imap_unordered(fn, tasks, min(self.jobs, size or self.jobs), initializer=keep_spares)


#: Seconds to wait for a Dask scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = 5


class DaskExecutor(_Executor):
    """Dask distributed: a scheduler at ``address`` (tcp://host:8786), or a LocalCluster when none is given.

    Raises:
        FlowsimError: if Dask is not installed, or the scheduler cannot be reached within CONNECT_TIMEOUT seconds.
    """

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster  # optional dependency (flowsim[dask])
        except ImportError:
            raise FlowsimError("the dask executor needs Dask distributed: pip install 'flowsim[dask]'") from None
        self.cluster = None
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        if address:
            try:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise FlowsimError(
                    f"could not reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s "
                    f"({exc.__class__.__name__}: {exc})"
                ) from None
        else:
            ensure_compiled()  # once, here, before the workers start: else each compiles the kernel at once
            self.cluster = LocalCluster(
                n_workers=self.jobs, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
            )
            self.client = Client(self.cluster)

    def run(self, fn: Callable, tasks: Iterable, size: int | None = None) -> Iterator[tuple[object, object]]:
        """Yield ``(task, fn(task))`` as runs finish, submitting a few per worker ahead of time."""
        from distributed import as_completed as dask_completed  # optional dependency (flowsim[dask])

        it = iter(tasks)
        workers = max(len(self.client.scheduler_info().get("workers", {})), self.jobs)
        pending: dict[str, tuple[object, object]] = {}  # future key -> (future, task)

        def submit(task):
            future = self.client.submit(fn, task, pure=False)
            pending[future.key] = (future, task)
            return future

        first = [submit(task) for task in itertools.islice(it, 2 * workers)]
        if not first:
            return
        queue = dask_completed(first)
        try:
            for future in queue:
                _, task = pending.pop(future.key)
                result = future.result()
                for nxt in itertools.islice(it, 1):
                    queue.add(submit(nxt))
                yield task, result
        finally:
            if pending:  # the caller stopped early: cancel what has not run
                self.client.cancel([f for f, _ in pending.values()])

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
