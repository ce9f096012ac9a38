from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"

#: Overrides that make an engine test fast: 1% of England, a run ending in April 2012.
SMALL = ["population.scale=0.01", "time.end=2012-04-30", "time.deadline=2012-04-30"]


@pytest.fixture
def write(tmp_path: Path):
    """Write a scenario file into a temporary directory and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


#: Overrides for the smallest useful run: 0.4% of England for one year (about 0.1 s of simulation).
TINY = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]


def sets(overrides: list[str]) -> list[str]:
    """``--set`` arguments for a list of overrides."""
    return [arg for s in overrides for arg in ("--set", s)]


def invoke(*args):
    """Run the command line in this process (click's CliRunner); stdout and stderr are kept apart."""
    from click.testing import CliRunner

    from flowsim.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def assert_user_error(result, *fragments: str) -> str:
    """Exit 2 with exactly one line, ``error: ...``, on stderr, no traceback; return that line."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def process_table() -> dict[int, tuple[int, int]]:
    """Every live process on this (Linux) machine: pid -> (parent pid, session id), read from /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie has exited; only its parent's wait() is missing
            continue
        out[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return out


def session_members(sid: int) -> set[int]:
    """Live processes in session ``sid`` (a command started with start_new_session=True, and its workers)."""
    return {pid for pid, (_, s) in process_table().items() if s == sid}


def wait_until_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    """Wait for ``pids`` to exit; return those still alive after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive &= set(process_table())
        time.sleep(0.05)
    return alive


def interruptible() -> None:
    """``preexec_fn`` for a flowsim started by a test that will Ctrl-C it: SIGINT and SIGTERM as a terminal leaves them.

    A child inherits an ignored signal across exec, and Python keeps it ignored. Whatever the test runner's own
    SIGINT disposition has become by then, the flowsim under test must see the signal the way a user's would.
    """
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


@pytest.fixture(scope="session", autouse=True)
def compiled_kernel():
    """The first test run after installing compiles the event kernel once, here, before any test starts workers."""
    from flowsim.engine.compile import ensure_compiled

    ensure_compiled(print)


def pytest_terminal_summary(terminalreporter):
    """How many fuzz cases went through the command line this session (a count, not a test: it cannot fail)."""
    fuzz = sys.modules.get("tests.test_cli_fuzz")
    if fuzz is not None and fuzz.CASES["count"]:
        terminalreporter.write_line(f"fuzz cases run through the command line: {fuzz.CASES['count']}")
