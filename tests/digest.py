"""Digests of what a run writes, to pin behaviour across refactors.

``tests/test_digest.py`` runs three small cases (the baseline, the 2012
programme with two replications, a small sweep) and compares each table's
and summary's digest with ``tests/digests.json``. When a change is meant to
alter results, regenerate the file deliberately and say why in the commit:

    python -m tests.digest --update

A digest is of results only: hashes of the resolved scenario (``scenario_sha256``, a sweep's ``run_id`` and
``sweep_sha256``) are left out, since adding or removing a parameter changes them and nothing else.

The cases run in a child process with numpy's AVX-512 loops switched off (:data:`SAME_ON_EVERY_CPU`): on a CPU
that has them, numpy computes float64 ``exp``, ``log``, ``cos`` and ``power`` with other last bits than
everywhere else (its SVML loops), and a simulation carries a last bit into different events. Without them every
x86-64 CPU computes the same numbers, so one stored file serves every machine.
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


#: Names of what identifies the inputs rather than the results: columns and keys left out of a digest.
IDENTITIES = ("scenario_sha256", "run_id", "sweep_sha256")
#: numpy's AVX-512 feature groups (numpy 2.4 names, then earlier ones), switched off in the child process.
SAME_ON_EVERY_CPU = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX "
    "AVX512_CLX AVX512_CNL"
}


#: Significant digits a float keeps in a digest. A summary computes some of its numbers from the run's arrays in
#: this process (shares, expectations over the panel's attrition), and those differed in their last bits between
#: two machines whose tables were identical bit for bit: a change of method moves results far beyond this.
DIGITS = 10


def _canonical(value):
    """JSON-ready data with floats to :data:`DIGITS` significant digits and NaN spelled out."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{DIGITS}g}"
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items() if k not in IDENTITIES}
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
    table = table.drop_columns([c for c in IDENTITIES if c in table.column_names])
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


def compute_apart() -> dict[str, dict[str, str]]:
    """:func:`compute` in a child process whose numpy computes the same numbers on every x86-64 CPU."""
    import os
    import subprocess

    env = {**os.environ, **SAME_ON_EVERY_CPU}
    cmd = [sys.executable, "-m", "tests.digest", "--here"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"rewrite {STORED.name}")
    parser.add_argument("--here", action="store_true", help="compute in this process (CPU features as they are)")
    parser.add_argument("dirs", nargs="*", help="print the digests of these run directories instead")
    args = parser.parse_args(argv)
    if args.dirs:
        for d in args.dirs:
            print(d, json.dumps(run_digests(Path(d)), indent=1))
        return 0
    if args.here:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            digests = compute(Path(tmp))
    else:
        digests = compute_apart()
    if args.update:
        STORED.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        print(f"wrote {STORED}")
    else:
        print(json.dumps(digests, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
