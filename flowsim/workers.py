"""Worker processes that die with their parent, and a pool that stops at once.

Replications and local sweeps run over :func:`imap_unordered`. It gives
three guarantees the bare ``ProcessPoolExecutor`` does not:

- **Workers die with their parent.** Each worker asks Linux to kill it when
  its parent dies (``prctl(PR_SET_PDEATHSIG)``), so ``kill -9`` of flowsim
  leaves no worker behind, each holding a few hundred MB.
- **One Ctrl-C stops it.** Workers ignore SIGINT (the terminal sends it to the
  whole process group); the parent stops, kills its workers and cancels what
  has not started, instead of waiting for every queued task.
- **Tasks are submitted as workers free up**, a few ahead, so a million tasks
  cost no memory before they run, and the first results arrive at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

_PR_SET_PDEATHSIG = 1
#: File descriptors a worker must not hold on to (the sweep store's lock): closed in each forked worker.
INHERITED_LOCKS: set[int] = set()


#: How often a pool waiting for results lets a held Ctrl-C or SIGTERM through (seconds).
POLL_SECONDS = 0.1
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _hold_signals() -> None:
    """Hold Ctrl-C and SIGTERM in this thread until :func:`_deliver_signals`.

    Python raises KeyboardInterrupt wherever the main thread happens to be. Inside
    ``concurrent.futures`` (submitting, waiting) that can leave one of its locks
    held, and stopping the pool then hangs, or its thread dies with a traceback at
    exit. So the pool's own calls run with the signals held, and a held signal is
    let through between them, where the KeyboardInterrupt is safe.
    """
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _deliver_signals() -> None:
    """Let held signals through: a pending Ctrl-C or SIGTERM raises here, at a safe point."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def init_worker(parent: int, initializer: Callable[[], None] | None = None) -> None:
    """Initializer of every worker: die with ``parent``, leave SIGINT to it, drop inherited locks, then the
    caller's own ``initializer`` (the engine's: keep each replication's store memory for the next)."""
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _deliver_signals()  # forked while the parent held them: a worker takes SIGTERM as usual
    for fd in INHERITED_LOCKS:
        # Closing the worker's copy only: the parent's descriptor keeps the lock.
        with contextlib.suppress(OSError):
            os.close(fd)
    if initializer is not None:
        initializer()


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and kill the workers now, not after the queue drains."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)  # shutdown() forgets it
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
    # Let the pool's manager thread finish before the interpreter exits. It closes its wake-up
    # pipe as it ends; were it still alive at exit, Python 3.11's exit hook could write to that
    # pipe as it closes and print an OSError traceback after "interrupted" (failed CI; 2 runs in 16 here).
    if manager is not None:
        manager.join(5)


def imap_unordered(
    fn: Callable, tasks: Iterable, jobs: int, ahead: int = 2, initializer: Callable[[], None] | None = None
) -> Iterator[tuple[object, object]]:
    """Run ``fn(task)`` for each task over ``jobs`` worker processes; yield ``(task, result)`` as each finishes.

    ``tasks`` may be a lazy iterator: at most ``ahead`` x ``jobs`` tasks are
    submitted at a time. If the caller stops early (an exception in ``fn``,
    KeyboardInterrupt, or closing the generator), the workers are killed and
    the rest cancelled before the exception propagates.

    Raises:
        whatever ``fn`` raised, in the parent.
    """
    it = iter(tasks)
    _hold_signals()  # the pool's locks are never held when Ctrl-C or SIGTERM lands (see _hold_signals)
    pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=init_worker, initargs=(os.getpid(), initializer))
    pending: dict[Future, object] = {}
    finished = False
    try:
        for task in itertools.islice(it, max(1, jobs) * ahead):
            pending[pool.submit(fn, task)] = task
        while pending:
            done, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            if not done:
                _deliver_signals()
                continue
            for future in done:
                task = pending.pop(future)
                result = future.result()
                for nxt in itertools.islice(it, 1):
                    pending[pool.submit(fn, nxt)] = nxt
                _deliver_signals()  # the caller's code runs with signals as usual
                try:
                    yield task, result
                finally:
                    _hold_signals()
        finished = True
    finally:
        _hold_signals()
        try:
            if finished:
                pool.shutdown(wait=True)
            else:
                _stop(pool)
        finally:
            _deliver_signals()
