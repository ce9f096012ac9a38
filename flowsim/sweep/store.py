"""The run store: one Parquet file per finished run under ``DIR/runs/``, written atomically.

A run's file appears by an atomic rename of a finished temporary file, so a
sweep killed at any moment (kill -9 included) leaves each run either
complete or absent, never half-written or duplicated; a restarted sweep
skips the runs whose files exist. ``sweep.json`` records the hash of the one
sweep the store belongs to, and ``.lock`` admits one writer at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from flowsim.errors import FlowsimError
from flowsim.files import WriteError, atomic_path, atomic_write, writable_dir, write_error
from flowsim.workers import INHERITED_LOCKS


def run_id(scenario_sha256: str, row: dict[str, float], seed: int, replication: int) -> str:
    """Deterministic id: the hash of the resolved scenario, the design row, the seed and the replication."""
    text = json.dumps([scenario_sha256, sorted(row.items()), seed, replication], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StoreError(FlowsimError):
    """A run store that cannot be written: another flowsim holds it, or it holds another sweep's runs."""


class RunStore:
    """A sweep's run store, open for writing: one writer at a time, and the runs of one sweep only.

    Opening it takes an exclusive lock (``DIR/.lock``, released when the
    store is closed or the process dies) and checks ``sweep.json``: a store
    that holds runs belongs to the sweep whose hash it records.

    Raises:
        StoreError: if another flowsim process holds the lock, or the store holds runs of
            another sweep (or of a sweep it did not record); the message says how to start afresh.
        WriteError: if the directory cannot be written.
    """

    def __init__(self, out_dir: Path, sweep_sha256: str) -> None:
        self.dir = writable_dir(out_dir)
        self.runs = self.dir / "runs"
        self._fd: int | None = None
        self._lock()
        try:
            self._check(sweep_sha256)
            self.runs.mkdir(exist_ok=True)
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        import fcntl  # POSIX only

        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "a process"
            os.close(fd)
            raise StoreError(
                f"{self.dir} is being written by another flowsim sweep ({holder}); "
                "wait for it to finish, or give another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {dt.datetime.now().isoformat(timespec='seconds')}".encode(), 0)
        self._fd = fd
        INHERITED_LOCKS.add(fd)  # forked workers close their copy, so only this process holds the lock

    def _check(self, sweep_sha256: str) -> None:
        recorded = self.recorded(self.dir)
        if recorded == sweep_sha256 or not self.count(self.dir):  # no runs yet: nothing to mix with
            return
        if recorded is None:
            what = "holds runs but no record of the sweep they belong to (an older flowsim, or files copied in)"
        else:
            what = (
                f"holds the runs of a different sweep (sha256 {recorded[:12]}, this one is {sweep_sha256[:12]}): "
                "the sweep file or its base scenario changed since"
            )
        raise StoreError(f"{self.dir} {what}; to start afresh, delete {self.dir} or give another --out")

    @staticmethod
    def recorded(out_dir: Path) -> str | None:
        """The hash of the sweep a store belongs to, from its ``sweep.json`` (None if it records none)."""
        try:
            doc = json.loads((Path(out_dir) / "sweep.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return doc.get("sweep_sha256") if isinstance(doc, dict) else None

    @staticmethod
    def count(out_dir: Path, sweep_sha256: str | None = None) -> int:
        """Finished runs in a store (of sweep ``sweep_sha256`` only, if given); 0 if there is none."""
        if sweep_sha256 is not None and RunStore.recorded(out_dir) != sweep_sha256:
            return 0
        runs = Path(out_dir) / "runs"
        return sum(1 for _ in runs.glob("*.parquet")) if runs.is_dir() else 0

    def close(self) -> None:
        """Release the lock."""
        if self._fd is not None:
            INHERITED_LOCKS.discard(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def path(self, rid: str) -> Path:
        return self.runs / f"{rid}.parquet"

    def done(self) -> set[str]:
        return {p.stem for p in self.runs.glob("*.parquet")}

    def write(self, rid: str, row: dict) -> None:
        """Keep one finished run (atomically: the file appears whole or not at all).

        Raises:
            WriteError: if it cannot be written (a full disk, say).
        """
        import pyarrow as pa  # import time: pyarrow loads only to write or read tables
        import pyarrow.parquet as pq  # import time: pyarrow loads only to write or read tables

        try:
            with atomic_path(self.path(rid)) as tmp:
                pq.write_table(pa.table({k: [v] for k, v in row.items()}), tmp)
        except OSError as exc:
            raise write_error(self.path(rid), exc) from None

    def write_manifest(self, doc: dict) -> None:
        try:
            atomic_write(self.dir / "sweep.json", json.dumps(doc, indent=2) + "\n")
        except OSError as exc:
            raise write_error(self.dir / "sweep.json", exc) from None


def sweep_table(out_dir: str | Path):
    """Every finished run as one tidy pandas DataFrame, one row per run.

    Read with DuckDB over the Parquet files when it is installed
    (``pip install 'flowsim[duckdb]'``), else with pyarrow.
    """
    runs = Path(out_dir) / "runs"
    files = sorted(runs.glob("*.parquet"))
    if not files:
        import pandas as pd  # import time: pandas loads only to read tables

        return pd.DataFrame()
    try:
        import duckdb  # optional dependency (flowsim[duckdb])
    except ImportError:
        import pyarrow.parquet as pq  # import time: pyarrow loads only to write or read tables

        return pq.read_table(runs).to_pandas().sort_values(["design_point", "replication"]).reset_index(drop=True)
    pattern = str(runs / "*.parquet").replace("'", "''")
    return duckdb.sql(
        f"SELECT * FROM read_parquet('{pattern}', union_by_name=true) ORDER BY design_point, replication"
    ).df()


def write_csv(table, path: str | Path) -> Path:
    """Write a sweep table as CSV to ``path`` (atomically), creating its folder; return the path.

    Raises:
        WriteError: if ``path`` is a directory, or its folder cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{path}: expected a file name for the CSV, found a directory")
    writable_dir(path.parent)
    try:
        return atomic_write(path, table.to_csv(index=False))
    except OSError as exc:
        raise write_error(path, exc) from None
