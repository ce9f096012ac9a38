"""The run store: one Parquet file per finished run under ``DIR/runs/``, written atomically.

A run's file appears by an atomic rename of a finished temporary file, so a
sweep killed at any moment (kill -9 included) leaves each run either
complete or absent, never half-written or duplicated; a restarted sweep
skips the runs whose files exist.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flowsim.files import atomic_path, atomic_write


def run_id(scenario_sha256: str, row: dict[str, float], seed: int, replication: int) -> str:
    """Deterministic id: the hash of the resolved scenario, the design row, the seed and the replication."""
    text = json.dumps([scenario_sha256, sorted(row.items()), seed, replication], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, out_dir: Path) -> None:
        self.dir = Path(out_dir)
        self.runs = self.dir / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)

    def path(self, rid: str) -> Path:
        return self.runs / f"{rid}.parquet"

    def done(self) -> set[str]:
        return {p.stem for p in self.runs.glob("*.parquet")}

    def write(self, rid: str, row: dict) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with atomic_path(self.path(rid)) as tmp:
            pq.write_table(pa.table({k: [v] for k, v in row.items()}), tmp)

    def write_manifest(self, doc: dict) -> None:
        atomic_write(self.dir / "sweep.json", json.dumps(doc, indent=2))


def sweep_table(out_dir: str | Path):
    """Every finished run as one tidy pandas DataFrame, one row per run.

    Read with DuckDB over the Parquet files when it is installed
    (``pip install 'flowsim[duckdb]'``), else with pyarrow.
    """
    runs = Path(out_dir) / "runs"
    files = sorted(runs.glob("*.parquet"))
    if not files:
        import pandas as pd

        return pd.DataFrame()
    try:
        import duckdb
    except ImportError:
        import pyarrow.parquet as pq

        return pq.read_table(runs).to_pandas().sort_values(["design_point", "replication"]).reset_index(drop=True)
    pattern = str(runs / "*.parquet").replace("'", "''")
    return duckdb.sql(
        f"SELECT * FROM read_parquet('{pattern}', union_by_name=true) ORDER BY design_point, replication"
    ).df()
