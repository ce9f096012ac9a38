"""Fault injection: SIGKILL `run`, `sweep` and `report` at seeded random moments, then check what is left.

After every kill: the run directory is the old complete run or the new
complete run, never a mix; the sweep store holds only whole runs of its own
plan, and a restart finishes with every run exactly once; and no child
process of the killed command is alive.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowsim.sweep import load_sweep, sweep_table
from flowsim.sweep.run import plan

from .conftest import BASELINE, SCENARIOS, TINY, session_members, sets, wait_until_gone
from .digest import table_digest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]
KILLS = 10


def _fingerprint(run_dir: Path) -> dict:
    """What a run directory holds, minus what differs between two runs of one command (start time, argv)."""
    out = {}
    for p in sorted(run_dir.iterdir()):
        if p.suffix == ".parquet":
            out[p.name] = table_digest(p)
        elif p.suffix == ".csv" or p.name in ("summary.json", "assumptions.json"):
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.name == "manifest.json":
            m = json.loads(p.read_text())
            out[p.name] = (m["scenario_sha256"], m["seed"], m["replications"])
    return out


def _timed(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "flowsim", *map(str, args)], check=True, capture_output=True, timeout=300)
    return time.monotonic() - started


def _kill_at(args: list[str], after: float) -> subprocess.Popen:
    """Start flowsim in a session of its own, SIGKILL it (the parent only) after ``after`` seconds, and wait."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowsim", *map(str, args)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = wait_until_gone(session_members(proc.pid), 10)
    for pid in left:  # leave no orphan behind, even when the check below fails
        os.kill(pid, signal.SIGKILL)
    assert left == set(), "a child outlived the killed command"
    return proc


def test_sigkill_run(tmp_path):
    rng = random.Random(1501)
    out = tmp_path / "run"
    old = ["run", BASELINE, "--seed", "1", "--quiet", "--out", out, *sets(TINY)]
    tf = ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"]
    new_args = [
        "run",
        SCENARIOS / "tf_programme_2012.toml",
        "--seed",
        "2",
        "--csv",
        "--no-report",
        "--quiet",
        *sets(tf),
    ]
    _timed(old)
    duration = _timed([*new_args, "--out", tmp_path / "reference"])
    runs = {"old": _fingerprint(out), "new": _fingerprint(tmp_path / "reference")}
    assert runs["old"] != runs["new"] and "finance.parquet" in runs["new"]
    seen = []
    for _ in range(KILLS):
        _kill_at([*new_args, "--out", out], rng.uniform(0.0, duration))
        now = _fingerprint(out)
        state = next((k for k, v in runs.items() if v == now), None)
        assert state is not None, f"a mixed run directory: {sorted(now)}"
        seen.append(state)
        if state == "new":
            _timed(old)  # start the next kill from the old run again
    assert "old" in seen, seen
    _timed([*new_args, "--out", out])
    assert _fingerprint(out) == runs["new"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "staging left behind"


def test_sigkill_report(tmp_path):
    rng = random.Random(1502)
    out = tmp_path / "run"
    _timed(["run", BASELINE, "--quiet", "--no-report", "--out", out, *sets(TINY)])
    data = _fingerprint(out)
    duration = _timed(["report", out])
    for _ in range(KILLS):
        _kill_at(["report", out], rng.uniform(0.0, duration))
        assert _fingerprint(out) == data
        report = out / "report.html"
        assert not report.exists() or report.read_text().rstrip().endswith("</html>")
        charts = {p.stem for p in (out / "charts").glob("*.png")} if (out / "charts").exists() else set()
        svgs = {p.stem for p in (out / "charts").glob("*.svg")} if (out / "charts").exists() else set()
        assert charts == svgs and (charts == set()) == (not report.exists()), "documents from two redraws"
        if report.exists():  # written last: a chart or brief newer than the report is from a later, killed redraw
            newest = max(p.stat().st_mtime_ns for p in [*(out / "charts").iterdir(), out / "brief.pdf"])
            assert newest <= report.stat().st_mtime_ns, "documents from two redraws"


def _file_times(args: list[str], runs: Path) -> list[float]:
    """Run flowsim to the end, noting the seconds after its start at which each run file appeared in ``runs``."""
    proc = subprocess.Popen([sys.executable, "-m", "flowsim", *map(str, args)], stdout=subprocess.DEVNULL)
    started, seen = time.monotonic(), {}
    while proc.poll() is None:
        for p in runs.glob("*.parquet") if runs.exists() else ():
            seen.setdefault(p.name, time.monotonic() - started)
        time.sleep(0.05)
    assert proc.returncode == 0
    return sorted(seen.get(p.name, time.monotonic() - started) for p in runs.glob("*.parquet"))


def test_sigkill_sweep(tmp_path):
    """Kills before any run is stored, then while runs are being stored (between the reference run's first and
    last stored file: the store fills in groups, so a kill at a random fraction of the whole run can miss it)."""
    rng = random.Random(1503)
    path = tmp_path / "s.toml"
    path.write_text(f"""name = "k"
base = "{BASELINE}"
replications = 1
seed = 11
set = ["population.scale=0.004", "time.end=2015-05-31", "time.deadline=2015-05-31"]
[parameters."programmes.key_worker.caseload"]
range = [6.0, 12.0]
steps = 24
""")
    planned = {t["run_id"] for t in plan(load_sweep(path))}
    args = ["sweep", path, "--jobs", "2", "--quiet"]
    stored = _file_times([*args, "--out", tmp_path / "reference"], tmp_path / "reference" / "runs")
    assert len(stored) == len(planned)
    first, last = stored[0], stored[-1]
    assert first < last, "the store filled all at once: no kill could leave part of the plan"
    out = tmp_path / "out"
    counts = []
    for k in range(KILLS):
        after = rng.uniform(0.0, first) if k < 3 else rng.uniform(first, last)
        _kill_at([*args, "--out", out], after)
        files = {p.stem for p in (out / "runs").glob("*.parquet")} if (out / "runs").exists() else set()
        assert files <= planned
        if files:
            assert len(sweep_table(out)) == len(files)  # every file is a whole run
        counts.append(len(files))
    assert counts == sorted(counts) and any(0 < c < len(planned) for c in counts), counts
    subprocess.run([sys.executable, "-m", "flowsim", *map(str, args), "--out", str(out)], check=True, timeout=300)
    table = sweep_table(out)
    assert set(table["run_id"]) == planned and table["run_id"].is_unique and len(table) == len(planned)
