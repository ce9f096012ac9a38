"""A sweep store belongs to one sweep and one writer; sweep files refuse what they cannot use, in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowsim.sweep import load_sweep, sweep_table
from flowsim.sweep.run import plan
from flowsim.sweep.store import RunStore, StoreError

from .conftest import BASELINE, assert_user_error, invoke

TINY = '["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]'


def _sweep(tmp_path: Path, body: str, name: str = "s.toml", head: str = "") -> Path:
    path = tmp_path / name
    path.write_text(f'{head}name = "s"\nbase = "{BASELINE}"\nseed = 3\nset = {TINY}\n{body}')
    return path


CASELOAD = '[parameters."programmes.key_worker.caseload"]\n'


def test_an_edited_sweep_is_refused_with_how_to_start_afresh(tmp_path):
    """Before: the edited sweep's table and chart carried the old values, and its means mixed two designs."""
    path = _sweep(tmp_path, CASELOAD + "values = [6, 10, 14]\n")
    out = tmp_path / "out"
    assert invoke("sweep", path, "--jobs", "2", "--out", out).exit_code == 0
    manifest = (out / "sweep.json").read_text()
    path.write_text(path.read_text().replace("[6, 10, 14]", "[8, 12]"))
    line = assert_user_error(invoke("sweep", path, "--jobs", "2", "--out", out), str(out), "--out")
    assert "different sweep" in line
    assert (out / "sweep.json").read_text() == manifest and len(sweep_table(out)) == 3
    fresh = tmp_path / "fresh"
    result = invoke("sweep", path, "--jobs", "2", "--out", fresh)
    assert result.exit_code == 0, result.output
    assert sorted(sweep_table(fresh)["programmes.key_worker.caseload"]) == [8.0, 12.0]


def test_the_store_records_the_hash_of_its_sweep(tmp_path):
    path = _sweep(tmp_path, CASELOAD + "values = [6]\n")
    spec = load_sweep(path)
    assert invoke("sweep", path, "--jobs", "1", "--out", tmp_path / "o").exit_code == 0
    doc = json.loads((tmp_path / "o" / "sweep.json").read_text())
    assert doc["sweep_sha256"] == spec.sha256 and len(spec.sha256) == 64
    # The name and comments do not change what runs; the values, the base and the replications do.
    renamed = _sweep(tmp_path, CASELOAD + "values = [6]  # a comment\n", "t.toml").read_text().replace('"s"', '"t"')
    (tmp_path / "t.toml").write_text(renamed)
    assert load_sweep(tmp_path / "t.toml").sha256 == spec.sha256
    for edit in ("values = [7]", 'values = [6]\n[parameters."identification.new_approach_rate_per_year"]\nvalues=[2]'):
        other = _sweep(tmp_path, CASELOAD + edit + "\n", "u.toml")
        assert load_sweep(other).sha256 != spec.sha256


def test_a_store_of_unknown_origin_is_refused(tmp_path):
    """A store with runs but no record of its sweep (an older flowsim, or files copied in) is not merged into."""
    path = _sweep(tmp_path, CASELOAD + "values = [6]\n")
    out = tmp_path / "out"
    assert invoke("sweep", path, "--jobs", "1", "--out", out).exit_code == 0
    doc = json.loads((out / "sweep.json").read_text())
    del doc["sweep_sha256"]
    (out / "sweep.json").write_text(json.dumps(doc))
    assert_user_error(invoke("sweep", path, "--jobs", "1", "--out", out), str(out))


def test_one_writer_at_a_time(tmp_path):
    spec = load_sweep(_sweep(tmp_path, CASELOAD + "values = [6]\n"))
    first = RunStore(tmp_path / "o", spec.sha256)
    try:
        with pytest.raises(StoreError, match="another flowsim"):
            RunStore(tmp_path / "o", spec.sha256)
    finally:
        first.close()
    RunStore(tmp_path / "o", spec.sha256).close()  # free again once the first is closed


@pytest.mark.slow
def test_two_sweeps_into_one_store_at_once(tmp_path):
    """Before: both exited 0 with their runs merged, and sweep.json described only one of them."""
    a = _sweep(tmp_path, CASELOAD + "range = [6, 12]\nsteps = 7\n", "a.toml")
    b = _sweep(tmp_path, CASELOAD + "values = [7, 9]\n", "b.toml")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "flowsim", "sweep", "--jobs", "1", "--quiet", "--out", str(out)]
    first = subprocess.Popen([*cmd, str(a)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "sweep.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run([*cmd, str(b)], capture_output=True, text=True, timeout=120)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith("error: ") and "another flowsim" in second.stderr and str(out) in second.stderr
    assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert sorted(sweep_table(out)["programmes.key_worker.caseload"]) == [6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    assert json.loads((out / "sweep.json").read_text())["sweep_sha256"] == load_sweep(a).sha256


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (CASELOAD + 'range = ["a", "b"]\n', ["range", "numbers"]),
        (CASELOAD + "range = [6, 10]\nsteps = 0\n", ["steps", "found 0"]),
        (CASELOAD + "range = [6, 10]\nsteps = -3\n", ["steps", "found -3"]),
        (CASELOAD + 'range = [6, 10]\nsteps = "five"\n', ["steps", "found 'five'"]),
        (CASELOAD + "range = [6, 10]\nsteps = 2.5\n", ["steps"]),
        (CASELOAD + "values = [6]\nstpes = 5\n", ["stpes", "did you mean 'steps'"]),
        (CASELOAD + "values = [6]\nrange = [1, 2]\n", ["values", "range"]),
        (CASELOAD + "values = [6, nan]\n", ["values", "nan"]),
        (CASELOAD + "range = [6, inf]\n", ["range", "inf"]),
        (CASELOAD + "values = [2011-04-01]\n", ["values", "2011-04-01"]),
        (CASELOAD + "range = [2011-04-01, 2012-04-01]\n", ["range", "2011-04-01"]),
        (CASELOAD + "values = []\n", ["values"]),
        (CASELOAD + "values = 6\n", ["values"]),
        ('[parameters]\n"programmes.key_worker.caseload" = 6\n', ["programmes.key_worker.caseload"]),
        ('[parameters."time.end"]\nvalues = [1]\n', ["time.end", "numeric"]),
        (CASELOAD + "values = [6, 1000]\n", ["parameters.programmes.key_worker.caseload.values", "found 1000"]),
        ("replications = -1\n" + CASELOAD + "values = [6]\n", ["replications", "found -1"]),
        ("replications = 1979-05-27T07:32:00\n" + CASELOAD + "values = [6]\n", ["replications", "1979-05-27"]),
        ("points = true\n" + CASELOAD + "values = [6]\n", ["points", "found true"]),
        ("morris_levels = 1\n" + CASELOAD + "values = [6]\n", ["morris_levels", "found 1"]),
        ('design = "lhs"\n' + CASELOAD + "values = [6]\n", ["range"]),
        ('design = "Grid"\n' + CASELOAD + "values = [6]\n", ["design", "grid"]),
        ("stpes = 2\n" + CASELOAD + "values = [6]\n", ["stpes"]),
    ],
)
def test_bad_sweep_fields_are_one_line_naming_the_file_and_key(tmp_path, body, fragments):
    """Before: wrong types and unknown keys in parameter tables ended in tracebacks or were ignored."""
    path = _sweep(tmp_path, body)
    assert_user_error(invoke("sweep", path, "--out", tmp_path / "o"), str(path), *fragments)
    assert "datetime" not in invoke("sweep", path).stderr


@pytest.mark.parametrize(
    ("head", "fragments"),
    [
        ("seed = -5\n", ["seed", "found -5"]),
        ("name = 7\n", ["name", "found 7"]),
    ],
)
def test_bad_sweep_heads(tmp_path, head, fragments):
    path = tmp_path / "s.toml"
    path.write_text(head + f'base = "{BASELINE}"\nset = {TINY}\n{CASELOAD}values = [6]\n')
    assert_user_error(invoke("sweep", path, "--out", tmp_path / "o"), *fragments)


def test_a_bad_value_in_the_sweep_files_set_names_the_sweep_file_not_a_command_line_set(tmp_path):
    path = _sweep(tmp_path, CASELOAD + "values = [6]\n").read_text().replace("0.004", "5000")
    (tmp_path / "s.toml").write_text(path)
    line = assert_user_error(invoke("sweep", tmp_path / "s.toml"), str(tmp_path / "s.toml"), "key population.scale")
    assert "--set" not in line


def test_a_binary_file_or_a_directory_as_the_sweep_file(tmp_path):
    """Before: UnicodeDecodeError and IsADirectoryError tracebacks."""
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert_user_error(invoke("sweep", binary), str(binary))
    assert_user_error(invoke("sweep", tmp_path), str(tmp_path))
    assert_user_error(invoke("sensitivity", tmp_path), str(tmp_path))


def test_sweep_results_csv_to_a_directory_or_a_missing_folder(tmp_path):
    """Before: IsADirectoryError and "Cannot save file into a non-existent directory" tracebacks."""
    path = _sweep(tmp_path, CASELOAD + "values = [6]\n")
    out = tmp_path / "out"
    assert invoke("sweep", path, "--jobs", "1", "--out", out).exit_code == 0
    assert_user_error(invoke("sweep-results", out, "--csv", tmp_path), str(tmp_path))
    result = invoke("sweep-results", out, "--csv", tmp_path / "new" / "folder" / "t.csv")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "new" / "folder" / "t.csv").read_text().splitlines()) == 2
    assert_user_error(invoke("sweep-results", tmp_path / "absent"), str(tmp_path / "absent"))
    assert_user_error(invoke("sweep-results", path), str(path))


def test_an_unreachable_dask_scheduler_is_a_quick_clear_error(tmp_path):
    """Before: a 30 s wait and a two-part traceback."""
    pytest.importorskip("distributed")
    path = _sweep(tmp_path, CASELOAD + "values = [6]\n")
    for address in ("tcp://127.0.0.1:9", "nonsense://x"):
        started = time.monotonic()
        result = invoke("sweep", path, "--executor", "dask", "--scheduler", address, "--out", tmp_path / "o")
        assert_user_error(result, address)
        assert time.monotonic() - started < 15


def test_the_plan_is_lazy_and_shares_repeated_rows(tmp_path):
    """Before: a sweep of 10,000 steps x 1,000 replications spent over a minute and 1.6 GB planning."""
    from flowsim.sweep.run import count_runs, iter_plan

    path = _sweep(tmp_path, CASELOAD + "values = [6, 6, 9]\n", head="replications = 2\n")
    spec = load_sweep(path)
    assert count_runs(spec) == 4 and len({t["run_id"] for t in plan(spec)}) == 4  # a repeated value shares its runs
    big = load_sweep(
        _sweep(tmp_path, CASELOAD + "range = [6, 12]\nsteps = 10000\n", "big.toml", "replications = 1000\n")
    )
    started = time.monotonic()
    first = next(iter_plan(big))
    assert count_runs(big) == 10_000_000
    assert time.monotonic() - started < 2 and first["replication"] == 0
