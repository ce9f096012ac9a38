"""Digests of what a run writes, to pin behaviour across refactors.

``tests/test_digest.py`` runs three small cases (the baseline, the 2012
programme with two replications, a small sweep) and compares each table's
and summary's digest with ``tests/digests.json``. When a change is meant to
alter results, regenerate the file deliberately and say why in the commit:

    python -m tests.digest --update
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORED = Path(__file__).with_name("digests.json")
SCALE = ["population.scale=0.02"]

#: name -> flowsim command-line arguments (the output directory is appended).
CASES = {
    "baseline": ["run", str(ROOT / "scenarios" / "baseline.toml"), "--no-report", "--quiet", "--seed", "7"],
    "tf_programme_2012": [
        *("run", str(ROOT / "scenarios" / "tf_programme_2012.toml"), "--no-report", "--quiet"),
        *("--seed", "7", "--replications", "2", "--jobs", "1"),
    ],
}


def _canonical(value):
    """JSON-ready data with floats written exactly (repr) and NaN spelled out."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _sha(data) -> str:
    text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def table_digest(path: Path) -> str:
    """Digest of a Parquet table's column names, types and values (not of the file's bytes)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return _sha({"schema": [f"{f.name}:{f.type}" for f in table.schema], "columns": table.to_pydict()})


def run_digests(run_dir: Path) -> dict[str, str]:
    """Each table's digest and the summary's, for a run directory or a sweep store."""
    run_dir = Path(run_dir)
    out = {p.stem: table_digest(p) for p in sorted(run_dir.glob("*.parquet"))}
    if (run_dir / "summary.json").exists():
        out["summary"] = _sha(json.loads((run_dir / "summary.json").read_text()))
    runs = run_dir / "runs"
    if runs.is_dir():
        out["runs"] = _sha(sorted(table_digest(p) for p in runs.glob("*.parquet")))
    return out


def _sweep_file(tmp: Path) -> Path:
    text = (ROOT / "scenarios" / "sweeps" / "key_worker_capacity.toml").read_text()
    text = text.replace('base = "../baseline.toml"', f"base = {json.dumps(str(ROOT / 'scenarios' / 'baseline.toml'))}")
    text = text.replace('set = ["population.scale=0.03"]', 'set = ["population.scale=0.01"]')
    path = tmp / "sweep.toml"
    path.write_text(text)
    return path


def compute(tmp: Path) -> dict[str, dict[str, str]]:
    """Run every case into ``tmp`` and return their digests."""
    from click.testing import CliRunner

    from flowsim.cli import main

    out = {}
    for name, args in CASES.items():
        target = tmp / name
        sets = [a for s in SCALE for a in ("--set", s)]
        result = CliRunner().invoke(main, [*args, *sets, "--out", str(target)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        out[name] = run_digests(target)
    store = tmp / "sweep_store"
    args = ["sweep", str(_sweep_file(tmp)), "--quiet", "--jobs", "1", "--out", str(store)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out["sweep"] = run_digests(store)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {STORED.name}")
    parser.add_argument("dirs", nargs="*", help="print the digests of these run directories instead")
    args = parser.parse_args(argv)
    if args.dirs:
        for d in args.dirs:
            print(d, json.dumps(run_digests(Path(d)), indent=1))
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        digests = compute(Path(tmp))
    if args.update:
        STORED.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        print(f"wrote {STORED}")
    else:
        print(json.dumps(digests, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
