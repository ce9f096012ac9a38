"""A run directory is replaced whole, checked before simulating, written with the user's umask, and never escapes."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowsim.errors import FlowsimError
from flowsim.files import safe_name
from flowsim.rundir import RunDirectory

from .conftest import BASELINE, SCENARIOS, TINY, assert_user_error, invoke, sets

TF = SCENARIOS / "tf_programme_2012.toml"
#: The 2012 programme far enough into its window to pay results, at 0.4% scale.
TF_SETS = ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"]


def _files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_run_into_an_old_run_directory_leaves_none_of_its_files(tmp_path):
    """Before: finance.parquet and *.csv of the earlier run stayed, and the report drew money from them."""
    out, fresh = tmp_path / "run", tmp_path / "fresh"
    assert invoke("run", TF, "--csv", "--no-report", "--quiet", "--out", out, *sets(TF_SETS)).exit_code == 0
    assert (out / "finance.parquet").exists() and (out / "states.csv").exists()
    assert invoke("run", BASELINE, "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", fresh, *sets(TINY)).exit_code == 0
    data = {p for p in _files(out) if not p.startswith("charts/") and not p.endswith((".html", ".pdf"))}
    assert data == _files(fresh)
    assert not (out / "charts" / "money.png").exists() and (out / "charts" / "turned_around.png").exists()
    assert RunDirectory(out).manifest["scenario_name"] == "baseline"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging directory is left behind"


def test_a_mixed_run_directory_is_refused_not_reported(tmp_path):
    """Before: `report` on a directory holding two runs' files returned 0 and labelled it with the old scenario."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--seed", "1", "--out", a, *sets(TINY)).exit_code == 0
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--seed", "2", "--out", b, *sets(TINY)).exit_code == 0
    shutil.copy(b / "targets.parquet", a / "targets.parquet")  # what a run killed part-way used to leave
    assert_user_error(invoke("report", a), "targets.parquet", "manifest.json")


@pytest.mark.slow
def test_the_report_draws_only_the_tables_its_run_wrote(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    other = tmp_path / "tf"
    assert invoke("run", TF, "--no-report", "--quiet", "--out", other, *sets(TF_SETS)).exit_code == 0
    shutil.copy(other / "finance.parquet", out / "finance.parquet")  # a stray table, not in the manifest
    assert invoke("report", out).exit_code == 0
    assert not (out / "charts" / "money.png").exists()


@pytest.mark.parametrize("case", ["a file", "under a file", "unwritable"])
def test_a_bad_out_is_refused_before_simulating(tmp_path, monkeypatch, case):
    """Before: the run simulated, then ended in a traceback (FileExistsError, NotADirectoryError, PermissionError)."""
    import flowsim.engine

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(flowsim.engine, "simulate", no_simulation)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    if case == "a file":
        out = blocker
    elif case == "under a file":
        out = blocker / "run"
    elif os.geteuid() == 0:
        out = Path("/sys/flowsim_cannot_write_here/run")  # root may write anywhere but here
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "run"
    assert_user_error(invoke("run", BASELINE, "--out", out, *sets(TINY)), str(out))
    for command in (["sweep", SCENARIOS / "sweeps" / "key_worker_capacity.toml"], ["compare", BASELINE, BASELINE]):
        assert_user_error(invoke(*command, "--out", out), str(out))


@pytest.mark.parametrize("seed", ["-5", "-1", str(2**63), "x"])
def test_a_bad_seed_is_one_line(seed):
    """Before: --seed -5 ended in numpy's ValueError traceback."""
    assert_user_error(invoke("run", BASELINE, "--seed", seed, *sets(TINY)), "--seed")


def test_a_usage_error_is_one_line():
    assert_user_error(invoke("run", BASELINE, "--replications", "0"), "--replications")
    assert_user_error(invoke("run"), "SCENARIO")
    assert_user_error(invoke("sweep", "x.toml", "--executor", "ray"), "--executor")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../escaped_run", "escaped_run"),
        ("a/b", "a_b"),
        ("/etc", "etc"),
        ("..", "scenario"),
        ("", "scenario"),
        ("baseline v2 (draft)", "baseline_v2_draft"),
        ("tf_programme_2012", "tf_programme_2012"),
        ("~root", "root"),
        ("x" * 300, "x" * 100),
    ],
)
def test_directory_names_are_derived_safely(name, expected):
    assert safe_name(name) == expected


def test_a_scenario_name_cannot_write_outside_outputs(tmp_path, monkeypatch):
    """Before: name = "../../escaped_run" wrote outside outputs/, and a / made nested folders."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    for name in ("../../escaped_run", "nested/run"):
        path = work / "s.toml"
        path.write_text(f'extends = "{BASELINE}"\nname = {json.dumps(name)}\n')
        result = invoke("run", path, "--no-report", "--quiet", *sets(TINY))
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "outputs").iterdir()) == ["escaped_run", "index.html", "nested_run"]
    assert not (tmp_path / "escaped_run").exists() and not (work / "outputs" / "nested").exists()


def test_a_sweep_name_cannot_write_outside_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(f"""name = "../../../evil"
base = "{BASELINE}"
set = {json.dumps(TINY)}
[parameters."programmes.key_worker.caseload"]
values = [6]
""")
    assert invoke("sweep", path, "--jobs", "1", "--quiet").exit_code == 0
    assert (tmp_path / "outputs" / "sweeps" / "evil" / "sweep.json").exists()


def _run_limited(args: list[str], limit: int) -> subprocess.CompletedProcess:
    """flowsim in a process whose files may not grow past ``limit`` bytes (writes then fail as on a full disk)."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "flowsim", *args]
    return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=cap, timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("flowsim: compiling")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.slow
def test_a_write_that_fails_leaves_the_old_run_and_one_line(tmp_path):
    """Before: a write failing part-way (disk full, file too large) ended in a traceback and left a mixed directory."""
    out = tmp_path / "run"
    assert invoke("run", BASELINE, "--quiet", "--no-report", "--seed", "1", "--out", out, *sets(TINY)).exit_code == 0
    before = {p: (out / p).read_bytes() for p in _files(out)}
    proc = _run_limited(["run", str(BASELINE), "--quiet", "--seed", "2", "--out", str(out), *sets(TINY)], 6000)
    assert "write" in _one_error_line(proc)
    assert {p: (out / p).read_bytes() for p in before} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert invoke("report", out).exit_code == 0  # the old run is still whole


@pytest.mark.slow
def test_report_that_cannot_write_leaves_the_run_and_one_line(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    names = _files(out)
    assert "write" in _one_error_line(_run_limited(["report", str(out)], 6000))
    assert _files(out) == names
    assert invoke("report", out).exit_code == 0


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_report_on_the_result_is_too(tmp_path):
    """A real full file system (a 1 MB tmpfs): needs root and mount; skipped elsewhere."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("needs root and mount to make a small file system")
    try:
        out = mnt / "run"
        cmd = [sys.executable, "-m", "flowsim", "run", str(BASELINE), "--quiet", "--out", str(out), *sets(TINY)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert "No space left on device" in _one_error_line(proc)
        assert list(mnt.iterdir()) == []
        result = invoke("report", out)
        assert_user_error(result, str(out))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in [root, *root.rglob("*")]}


@pytest.mark.slow
def test_every_file_has_one_mode_the_users_umask(tmp_path):
    """summary.json, manifest.json, assumptions.json and sweep.json must not be 0600 while the rest are 0644.

    Under umask 027 every file is 0640 and every directory 0750: one rule, the user's umask.
    """
    umask = 0o027
    out, store = tmp_path / "run", tmp_path / "store"
    spec = tmp_path / "s.toml"
    spec.write_text(f"""base = "{BASELINE}"
set = {json.dumps(TINY)}
[parameters."programmes.key_worker.caseload"]
values = [6]
""")
    for args in (
        ["run", str(BASELINE), "--quiet", "--out", str(out), *sets(TINY)],
        ["sweep", str(spec), "--quiet", "--jobs", "1", "--out", str(store)],
    ):
        subprocess.run(
            [sys.executable, "-m", "flowsim", *args], check=True, timeout=300, preexec_fn=lambda: os.umask(umask)
        )
    for root in (out, store):
        for name, mode in _modes(root).items():
            want = (0o777 if (root / name).is_dir() else 0o666) & ~umask
            assert mode == want, (root.name, name, oct(mode), oct(want))


def test_run_directory_reader_names_a_missing_directory(tmp_path):
    with pytest.raises(FlowsimError, match="expected a run directory"):
        RunDirectory(tmp_path / "absent")


def _write_run(path: Path, text: str) -> None:
    path.mkdir()
    (path / "summary.json").write_text(text)


def test_staged_dir_swaps_in_whole_and_cleans_up(tmp_path):
    from flowsim.files import staged_dir

    target = tmp_path / "run"
    _write_run(target, "old")
    (target / "stale.csv").write_text("from the old run")
    with staged_dir(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".run.")
        (staging / "summary.json").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in target.iterdir()] == ["summary.json"] and (target / "summary.json").read_text() == "new"
    with pytest.raises(RuntimeError), staged_dir(target) as staging:
        (staging / "summary.json").write_text("half")
        raise RuntimeError("killed part-way")
    assert (target / "summary.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_without_renameat2_the_swap_goes_through_an_old_copy_put_back_if_killed(tmp_path, monkeypatch):
    import flowsim.files as files

    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "run"
    _write_run(target, "old")
    with files.staged_dir(target) as staging:
        (staging / "summary.json").write_text("new")
    assert (target / "summary.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # A writer killed between its two renames left the old run aside and no run in place:
    target.rename(tmp_path / ".run.abcd1234.previous")
    (tmp_path / ".run.efgh5678.partial").mkdir()  # and another left a half-written staging directory
    with files.staged_dir(target, copy=True) as staging:
        assert (staging / "summary.json").read_text() == "new"  # the old run was put back first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
def test_report_keeps_the_run_files_and_replaces_its_documents(tmp_path):
    out = tmp_path / "run"
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    data = {p: (out / p).read_bytes() for p in _files(out)}
    (out / "charts").mkdir()
    (out / "charts" / "stale.png").write_bytes(b"from an old report")
    assert invoke("report", out).exit_code == 0
    assert {p: (out / p).read_bytes() for p in data} == data
    assert (out / "report.html").exists() and (out / "brief.pdf").exists()
    assert not (out / "charts" / "stale.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_directory_of_other_files_is_never_replaced(tmp_path, monkeypatch):
    """A run replaces its directory whole, so --out at a folder of someone's files must be refused, not emptied."""
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "minister.docx").write_text("draft")
    assert_user_error(invoke("run", BASELINE, "--out", papers, *sets(TINY)), "not a directory flowsim wrote")
    assert (papers / "minister.docx").read_text() == "draft"
    monkeypatch.chdir(papers)
    assert_user_error(invoke("run", BASELINE, "--out", ".", *sets(TINY)), "not a directory flowsim wrote")
    assert sorted(p.name for p in papers.iterdir()) == ["minister.docx"]
    (tmp_path / "empty").mkdir()
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", tmp_path / "empty", *sets(TINY)).exit_code == 0


def test_a_manifest_that_is_not_flowsims_does_not_make_a_run_directory(tmp_path):
    """Before: any file named manifest.json let a run replace the folder (a web app's index.html was deleted)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "manifest.json").write_text('{"name": "my web app", "start_url": "/"}')
    (site / "index.html").write_text("<h1>mine</h1>")
    assert_user_error(invoke("run", BASELINE, "--out", site, *sets(TINY)), "not a directory flowsim wrote")
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "manifest.json"]


@pytest.mark.slow
def test_a_run_directory_with_files_someone_added_is_replaced_only_when_asked(tmp_path):
    """A run replaces its directory whole: files no run wrote are named and kept, unless --yes, which warns first."""
    out = tmp_path / "run"
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    (out / "my notes.txt").write_text("what the minister asked")
    assert_user_error(invoke("run", BASELINE, "--quiet", "--out", out, *sets(TINY)), "my notes.txt", "--yes")
    assert (out / "my notes.txt").read_text() == "what the minister asked"
    result = invoke("run", BASELINE, "--quiet", "--yes", "--out", out, *sets(TINY))
    assert result.exit_code == 0
    assert "warning: replacing" in result.stderr and "my notes.txt" in result.stderr
    assert not (out / "my notes.txt").exists() and (out / "report.html").exists()
    # The documents a run draws are its own: running again over them asks nothing.
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0


def test_two_runs_cannot_write_one_directory_at_once(tmp_path):
    """Before: both ran, the last one's files won, and the first still said its results were there."""
    from flowsim.files import claimed

    out = tmp_path / "run"
    with claimed(out):  # a run in progress (flock: a second open of the lock file conflicts, even in one process)
        assert_user_error(invoke("run", BASELINE, "--quiet", "--out", out, *sets(TINY)), "another flowsim run")
        assert not out.exists()
    assert invoke("run", BASELINE, "--no-report", "--quiet", "--out", out, *sets(TINY)).exit_code == 0
    assert RunDirectory(out).manifest["scenario_name"] == "baseline"
