"""The run directory: writing a run's tables, summary, manifest and assumption log, and reading them back.

A run is written whole into a fresh directory beside its target and then
swapped in (:func:`flowsim.files.staged_dir`): a run killed at any point
leaves the old complete run or the new complete run, never a mix, and no
file of an earlier run survives into a later one.

Tables are written as Parquet with pyarrow from their column buffers, so the
run path never imports pandas. :class:`RunDirectory` is the one reader:
the report, the brief and the charts all read a run through it, and it
checks each file against the checksums ``manifest.json`` records, so a
directory holding files of two runs is refused, not reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
from functools import cached_property
from pathlib import Path

import numpy as np

from flowsim import __version__
from flowsim.errors import FlowsimError
from flowsim.files import WriteError, atomic_path, atomic_write, writable_dir
from flowsim.scenario.assumptions import assumption_log
from flowsim.tables import TABLES
from flowsim.text import headline, run_notes

#: Tables a run directory may hold, in the order they are written.
ALL_TABLES = (*TABLES, "statistics", "finance", "problems", "classifications", "programme_2012")
#: Files every complete run directory has.
REQUIRED = ("summary.json", "manifest.json", "assumptions.json", "targets.parquet")
#: The documents drawn from a run, beside its files: the report, the brief, and the charts' folder.
DOCUMENTS = ("report.html", "brief.pdf")
DRAWN = (*DOCUMENTS, "charts")


def own_manifest(path: Path) -> dict | None:
    """``path/manifest.json`` if it is a manifest ``flowsim run`` wrote (its version and scenario hash), else None.

    Any other ``manifest.json`` (a web app's, a package's) is not flowsim's, and its directory is not a run's.
    """
    try:
        doc = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ours = isinstance(doc, dict) and isinstance(doc.get("flowsim_version"), str) and "scenario_sha256" in doc
    return doc if ours else None


def added_files(path: Path) -> list[str]:
    """The entries of run directory ``path`` that no run wrote: what replacing it would remove that is someone else's.

    A run wrote the files its manifest lists (or, for runs older than that list, the names runs write) and the
    documents drawn from it (:data:`DRAWN`).
    """
    files = own_manifest(path).get("files")
    tables = {f"{t}.{x}" for t in ALL_TABLES for x in ("parquet", "csv")}
    ours = {"manifest.json", *DRAWN, *(files if isinstance(files, dict) else (*REQUIRED, *tables))}
    return sorted(p.name for p in path.iterdir() if p.name not in ours)


def check_out(out_dir: str | Path, replace_added: bool = False) -> list[str]:
    """Check, before any work, that a run may be written whole into ``out_dir``; return the entries it would remove
    that no run wrote (empty unless ``replace_added``).

    ``out_dir`` may be new, empty, or a run directory flowsim wrote (:func:`own_manifest`). A run directory
    holding files someone added is refused unless ``replace_added``: the caller then says what goes.

    Raises:
        WriteError: if ``out_dir`` cannot be written, holds files but is not a run directory flowsim wrote, or
            holds files someone added and ``replace_added`` is False.
    """
    path = Path(out_dir)
    writable_dir(path, replaced=lambda d: own_manifest(d) is not None)
    if not path.is_dir() or own_manifest(path) is None:
        return []
    added = added_files(path)
    if added and not replace_added:
        shown = ", ".join(added[:5]) + (f" and {len(added) - 5} more" if len(added) > 5 else "")
        raise WriteError(
            f"{out_dir}: a run replaces this directory whole, and it holds {len(added)} file(s) no run wrote "
            f"({shown}); move them, give another --out, or pass --yes to replace the directory with them"
        )
    return added


def manifest(scenario, seed: int, replications: int, started_at: dt.datetime, argv: list[str] | None = None) -> dict:
    """What the run was: the resolved scenario, its hash, versions, seed, start time and what to tell the reader."""
    import simpy  # here: reading a run must not load simpy (test_boundaries)

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
        "numpy": np.__version__,
        "simpy": simpy.__version__,
        "command": argv or [],
        "notes": run_notes(scenario),
        "scenario": scenario.resolved(),
    }


_EPOCH = dt.date(1970, 1, 1).toordinal()


def arrow_array(values):
    """One table column as an Arrow array, built from its buffers where it can be.

    ``pyarrow.array`` imports pandas (0.2 s, a few percent of a run) to check
    what it was given, so numbers, strings and dates, the kinds the tables
    hold, are laid out here; anything else goes through ``pyarrow.array``.
    """
    import pyarrow as pa  # import time: pyarrow loads only to write or read tables

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
    council: str | None = None,
) -> None:
    """Write tables (with a ``replication`` column), ``summary.json``, ``assumptions.json`` and ``manifest.json``.

    ``council``: the 2012 programme's council the run was asked about (``--council``), recorded in the manifest
    so that the report gives it a section.

    ``records`` are replications' records (``flowsim.replications.run_replication``);
    ``summary`` is the one summary of them. ``waits`` holds replication 0 only.
    ``out_dir`` is written in place: :func:`run_scenario` gives it a fresh staging
    directory. The manifest, written last, records each other file's SHA-256.
    """
    import pyarrow as pa  # import time: pyarrow loads only to write or read tables
    import pyarrow.csv as pacsv  # import time: pyarrow loads only to write or read tables
    import pyarrow.parquet as pq  # import time: pyarrow loads only to write or read tables

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ALL_TABLES:
        parts = [(i, r.tables[name]) for i, r in enumerate(records) if r.tables.get(name)]
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
    atomic_write(out_dir / "assumptions.json", json.dumps(assumption_log(scenario), indent=1) + "\n")
    doc = manifest(scenario, seed, len(records), started_at, argv)
    if council is not None:
        doc["council"] = council
    doc["files"] = {p.name: _sha256(p) for p in sorted(out_dir.iterdir()) if p.is_file()}
    atomic_write(out_dir / "manifest.json", _json(doc))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunDirectory:
    """A run directory written by ``flowsim run``: its summary, manifest, assumption log and tables.

    Raises:
        FlowsimError: if ``path`` is not a complete run directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tables: dict = {}
        missing = [n for n in REQUIRED if not (self.path / n).is_file()]
        missing += [n for n in self.files if n not in missing and not (self.path / n).is_file()]
        if missing:
            raise FlowsimError(
                f"{self.path}: expected a run directory written by `flowsim run`, missing {', '.join(missing)}"
            )

    def _read_json(self, name: str, check: bool = True):
        if check:
            self._check(name)
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FlowsimError(f"{self.path / name}: expected JSON written by `flowsim run`, found {exc}") from None

    @cached_property
    def files(self) -> dict[str, str]:
        """File name -> SHA-256 of every file the run wrote, from the manifest (empty for older runs, which lack it)."""
        if not (self.path / "manifest.json").is_file():
            return {}
        files = self.manifest.get("files")
        return files if isinstance(files, dict) else {}

    def _check(self, name: str) -> None:
        """Refuse a file that is not the one the run wrote: a directory holding files of two runs is not reported.

        Raises:
            FlowsimError: naming the file and the manifest it disagrees with.
        """
        want = self.files.get(name)
        if want is not None and _sha256(self.path / name) != want:
            raise FlowsimError(
                f"{self.path / name} is not the file the run in {self.path / 'manifest.json'} wrote (its checksum "
                "differs): the directory holds files of two runs; run the scenario again"
            )

    @cached_property
    def summary(self) -> dict:
        return self._read_json("summary.json")

    @cached_property
    def manifest(self) -> dict:
        doc = self._read_json("manifest.json", check=False)
        if not isinstance(doc, dict):
            raise FlowsimError(f"{self.path / 'manifest.json'}: expected a manifest written by `flowsim run`")
        return doc

    @property
    def notes(self) -> list[str]:
        """What the reader must know with the answer: the scale, small numbers, uncalibrated defaults."""
        return list(self.manifest.get("notes", []))

    @property
    def headline(self) -> str:
        """The run's headline with its notes, as the terminal, the report and the brief show it."""
        return headline(self.summary, self.notes)

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
        """Whether the run wrote ``table`` (a stray file the manifest does not list is not the run's)."""
        name = f"{table}.parquet"
        return (self.path / name).is_file() and (not self.files or name in self.files)

    def table(self, name: str):
        """Table ``name`` as a pandas DataFrame (dates as ``datetime.date``), read once."""
        import pyarrow.parquet as pq  # import time: pyarrow loads only to write or read tables

        if name not in self._tables:
            self._check(f"{name}.parquet")
            self._tables[name] = pq.read_table(self.path / f"{name}.parquet").to_pandas()
        return self._tables[name]
