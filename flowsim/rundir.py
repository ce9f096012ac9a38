"""The run directory: writing a run's tables, summary, manifest and assumption log, and reading them back.

Tables are written as Parquet with pyarrow from their column buffers, so the
run path never imports pandas. :class:`RunDirectory` is the one reader:
the report, the brief and the charts all read a run through it.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from functools import cached_property
from pathlib import Path

import numpy as np

from flowsim import __version__
from flowsim.errors import FlowsimError
from flowsim.files import atomic_path, atomic_write
from flowsim.tables import TABLES

#: Tables a run directory may hold, in the order they are written.
ALL_TABLES = (*TABLES, "statistics", "finance", "problems", "classifications")
#: Files every complete run directory has.
REQUIRED = ("summary.json", "manifest.json", "assumptions.json", "targets.parquet")


def manifest(scenario, seed: int, replications: int, started_at: dt.datetime, argv: list[str] | None = None) -> dict:
    """What the run was: the resolved scenario, its hash, versions, seed and start time."""
    import numpy
    import simpy

    return {
        "flowsim_version": __version__,
        "scenario_name": scenario.name,
        "scenario_file": scenario.path,
        "scenario_sha256": scenario.sha256,
        "overrides": list(scenario.overrides),
        "seed": seed,
        "replications": replications,
        "replication_streams": "SeedSequence(seed).spawn(n)[i] for replication i"
        if replications > 1
        else "SeedSequence(seed)",
        "started_at": started_at.isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "simpy": simpy.__version__,
        "command": argv or [],
        "scenario": scenario.resolved(),
    }


_EPOCH = dt.date(1970, 1, 1).toordinal()


def arrow_array(values):
    """One table column as an Arrow array, built from its buffers where it can be.

    ``pyarrow.array`` imports pandas (0.2 s, a few percent of a run) to check
    what it was given, so numbers, strings and dates, the kinds the tables
    hold, are laid out here; anything else goes through ``pyarrow.array``.
    """
    import pyarrow as pa

    if isinstance(values, list) and values:
        if all(type(v) is str for v in values):
            data = [v.encode() for v in values]
            offsets = np.zeros(len(data) + 1, np.int64)
            np.cumsum([len(b) for b in data], out=offsets[1:])
            if offsets[-1] < 2**31:
                buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))]
                return pa.Array.from_buffers(pa.string(), len(data), buffers)
        elif all(type(v) is dt.date for v in values):
            days = np.array([v.toordinal() - _EPOCH for v in values], np.int32)
            return pa.Array.from_buffers(pa.date32(), days.size, [None, pa.py_buffer(days)])
        elif all(type(v) is float for v in values):
            values = np.array(values, np.float64)
        elif all(type(v) is int for v in values) and all(-(2**63) <= v < 2**63 for v in values):
            values = np.array(values, np.int64)
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        arr = np.ascontiguousarray(values)
        return pa.Array.from_buffers(pa.from_numpy_dtype(arr.dtype), arr.size, [None, pa.py_buffer(arr)])
    return pa.array(values)


def _json(doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


def write_run(
    out_dir: Path,
    records: list[dict],
    summary: dict,
    scenario,
    seed: int,
    started_at: dt.datetime,
    argv: list[str] | None = None,
    csv: bool = False,
) -> None:
    """Write tables (with a ``replication`` column), ``summary.json``, ``manifest.json`` and ``assumptions.json``.

    ``records`` are replications' records (``flowsim.replications.run_replication``);
    ``summary`` is the one summary of them. ``waits`` holds replication 0 only.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from flowsim.scenario.assumptions import assumption_log

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ALL_TABLES:
        parts = [(i, r["tables"][name]) for i, r in enumerate(records) if r["tables"].get(name)]
        if not parts:
            continue
        tables = [
            pa.Table.from_arrays(
                [arrow_array(np.full(len(next(iter(c.values()))), i, np.int32))] + [arrow_array(v) for v in c.values()],
                names=["replication", *c],
            )
            for i, c in parts
        ]
        table = pa.concat_tables(tables)
        with atomic_path(out_dir / f"{name}.parquet") as tmp:
            pq.write_table(table, tmp)
        if csv:
            with atomic_path(out_dir / f"{name}.csv") as tmp:
                pacsv.write_csv(table, tmp)
    atomic_write(out_dir / "summary.json", _json(summary))
    atomic_write(out_dir / "manifest.json", _json(manifest(scenario, seed, len(records), started_at, argv)))
    atomic_write(out_dir / "assumptions.json", json.dumps(assumption_log(scenario), indent=1) + "\n")


class RunDirectory:
    """A run directory written by ``flowsim run``: its summary, manifest, assumption log and tables.

    Raises:
        FlowsimError: if ``path`` is not a complete run directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tables: dict = {}
        missing = [n for n in REQUIRED if not (self.path / n).is_file()]
        if missing:
            raise FlowsimError(
                f"{self.path}: expected a run directory written by `flowsim run`, missing {', '.join(missing)}"
            )

    def _read_json(self, name: str):
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FlowsimError(f"{self.path / name}: expected JSON written by `flowsim run`, found {exc}") from None

    @cached_property
    def summary(self) -> dict:
        return self._read_json("summary.json")

    @cached_property
    def manifest(self) -> dict:
        return self._read_json("manifest.json")

    @cached_property
    def assumptions(self) -> list[dict]:
        return self._read_json("assumptions.json")

    @property
    def scenario(self) -> dict:
        """The resolved scenario the run used."""
        return self.manifest["scenario"]

    @property
    def start(self) -> dt.date:
        return dt.date.fromisoformat(self.scenario["time"]["start"])

    @property
    def deadline(self) -> dt.date:
        return dt.date.fromisoformat(self.scenario["time"]["deadline"])

    def has(self, table: str) -> bool:
        return (self.path / f"{table}.parquet").is_file()

    def table(self, name: str):
        """Table ``name`` as a pandas DataFrame (dates as ``datetime.date``), read once."""
        import pyarrow.parquet as pq

        if name not in self._tables:
            self._tables[name] = pq.read_table(self.path / f"{name}.parquet").to_pandas()
        return self._tables[name]


def run_scenario(
    scenario,
    out_dir: Path,
    seed: int = 1,
    replications: int = 1,
    jobs: int | None = None,
    progress=None,
    argv: list[str] | None = None,
    csv: bool = False,
) -> dict:
    """Simulate ``scenario`` and write its run directory; return the run's summary.

    Args:
        replications: 1 runs the seed's own streams in this process; more run
            replications 0 .. n-1 over ``jobs`` worker processes.
        progress: called with the fraction done (of simulated time, or of replications).
    """
    from flowsim.replications import run_replication, run_replications, summarise

    started = dt.datetime.now(dt.UTC)
    if replications == 1:
        records = [run_replication(scenario, seed, progress=progress)]
    else:
        step = (lambda k: progress(k / replications)) if progress else None
        records = run_replications(scenario, seed, replications, jobs, step)
    summary = summarise(records)
    write_run(out_dir, records, summary, scenario, seed, started, argv, csv)
    return summary
