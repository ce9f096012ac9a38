"""Worker processes die with their parent; one Ctrl-C or SIGTERM stops a run cleanly and keeps what a store finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowsim.sweep import load_sweep, sweep_table
from flowsim.sweep.run import plan

from .conftest import BASELINE, TINY, interruptible, process_table, session_members, sets, wait_until_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _sweep_file(tmp_path: Path, steps: int = 8, replications: int = 2) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f"""name = "w"
base = "{BASELINE}"
replications = {replications}
seed = 5
set = {json.dumps(TINY)}
[parameters."programmes.key_worker.caseload"]
range = [6.0, 12.0]
steps = {steps}
""")
    return path


def _start(args: list[str]) -> subprocess.Popen:
    """flowsim in a session of its own, so its workers can be found (and cleaned up) by session id."""
    return subprocess.Popen(
        [sys.executable, "-m", "flowsim", *args],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def _workers(proc: subprocess.Popen, n: int, timeout: float = 120) -> set[int]:
    """Wait until ``proc`` has ``n`` child processes; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = {pid for pid, (ppid, _) in process_table().items() if ppid == proc.pid}
        if len(kids) >= n:
            return kids
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError(f"no {n} workers after {timeout} s")


def _cleanup(proc: subprocess.Popen) -> None:
    for pid in session_members(proc.pid):
        os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _runs(out: Path) -> int:
    return len(list((out / "runs").glob("*.parquet")))


@pytest.mark.parametrize("command", ["sweep", "replications"])
def test_workers_die_when_their_parent_is_killed(tmp_path, command):
    """Before: after kill -9 of `flowsim sweep` its workers lived on with PPID 1, about 200 MB each."""
    if command == "sweep":
        args = ["sweep", str(_sweep_file(tmp_path, 20)), "--jobs", "2", "--quiet", "--out", str(tmp_path / "o")]
    else:
        args = ["run", str(BASELINE), "--replications", "40", "--jobs", "2", "--quiet", "--out", str(tmp_path / "r")]
        args += sets(TINY)
    proc = _start(args)
    try:
        workers = _workers(proc, 2)
        proc.send_signal(signal.SIGKILL)  # the parent only, as `kill -9 PID` does
        proc.wait()
        assert wait_until_gone(workers, 10) == set(), "workers outlived their parent"
    finally:
        _cleanup(proc)


@pytest.mark.slow
def test_one_ctrl_c_stops_a_sweep_and_keeps_its_finished_runs(tmp_path):
    out = tmp_path / "o"
    path = _sweep_file(tmp_path, 12)
    proc = _start(["sweep", str(path), "--jobs", "2", "--quiet", "--out", str(out)])
    try:
        deadline = time.monotonic() + 120
        while _runs(out) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "interrupted" in err and str(out) in err
        assert wait_until_gone(session_members(proc.pid), 10) == set()
    finally:
        _cleanup(proc)
    kept = _runs(out)
    assert 0 < kept < 24
    done = subprocess.run(
        [sys.executable, "-m", "flowsim", "sweep", str(path), "--jobs", "2", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{kept} already done" in done.stdout
    table = sweep_table(out)
    assert len(table) == 24 and table["run_id"].is_unique
    assert set(table["run_id"]) == {t["run_id"] for t in plan(load_sweep(path))}


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_one_signal_stops_many_replications(tmp_path, how):
    """Before: --replications 1000000 ignored the first Ctrl-C and hung on the second; SIGTERM orphaned workers."""
    out = tmp_path / "r"
    args = ["run", str(BASELINE), "--replications", "1000000", "--yes", "--jobs", "2", "--out", str(out)]
    proc = _start([*args, *sets(TINY)])
    try:
        workers = _workers(proc, 2)
        time.sleep(2)
        rss_kb = int(
            next(
                line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if line.startswith("VmRSS")
            ).split()[1]
        )
        assert rss_kb < 600_000, f"the parent grew to {rss_kb / 1000:.0f} MB while running"
        proc.send_signal(how)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 128 + how, err
        assert "Traceback" not in err and "interrupted" in err
        assert wait_until_gone(workers, 10) == set()
        assert not out.exists()  # nothing half-written
    finally:
        _cleanup(proc)
