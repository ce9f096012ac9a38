"""The architecture's promises: a Scenario pickles and makes validated copies; workers need no files;
drawing charts leaves matplotlib as it was; reading a run loads neither numba nor simpy."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap

import pytest

from flowsim.errors import ScenarioError
from flowsim.scenario import load_scenario

from .conftest import BASELINE, ROOT, SCENARIOS


def test_scenario_pickles_to_an_equal_scenario():
    sc = load_scenario(SCENARIOS / "tf_programme_2012.toml", ["programmes.key_worker.caseload=7"])
    back = pickle.loads(pickle.dumps(sc))
    assert back.sha256 == sc.sha256 and back.params == sc.params
    assert (back.name, back.origins, back.overrides, back.path, back.calibrated_by) == (
        sc.name,
        sc.origins,
        sc.overrides,
        sc.path,
        sc.calibrated_by,
    )


def test_with_values_returns_a_validated_copy_and_names_the_origin():
    sc = load_scenario(BASELINE)
    copy = sc.with_values({"programmes.key_worker.caseload": 8, "survey.waves": 6.0}, origin="sweep file s.toml")
    assert copy.value("programmes.key_worker.caseload") == 8.0 and copy.value("survey.waves") == 6
    assert sc.value("programmes.key_worker.caseload") == 6.0  # the original is unchanged
    assert copy.origins["programmes.key_worker.caseload"] == "sweep file s.toml"
    assert copy.sha256 != sc.sha256
    with pytest.raises(
        ScenarioError, match=r"^sweep file s\.toml, key programmes\.key_worker\.caseload: expected a number"
    ):
        sc.with_values({"programmes.key_worker.caseload": 0.0}, origin="sweep file s.toml")
    with pytest.raises(ScenarioError, match=r"key survey\.waves: expected an integer"):
        sc.with_values({"survey.waves": 6.5})
    with pytest.raises(ScenarioError, match="did you mean 'programmes.key_worker.caseload'"):
        sc.with_values({"programmes.key_worker.caseloda": 8})
    with pytest.raises(ScenarioError, match=r"key time\.deadline: expected a date after time\.start"):
        sc.with_values({"time.deadline": sc.value("time.start")})


def test_dask_sweep_runs_where_no_scenario_file_exists(tmp_path):
    """A sweep's tasks carry their scenarios: after loading the sweep file, the files can go (seed 3, 0.4% scale)."""
    pytest.importorskip("distributed")
    from flowsim.sweep import load_sweep, run_sweep, sweep_table
    from flowsim.sweep.executors import DaskExecutor

    copied = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, copied)
    shutil.copytree(ROOT / "calibration", tmp_path / "calibration")
    sweep = copied / "sweeps" / "tiny.toml"
    sweep.write_text(
        textwrap.dedent("""
        name = "tiny"
        base = "../baseline.toml"
        seed = 3
        set = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
        [parameters."programmes.key_worker.caseload"]
        values = [6, 12]
        """)
    )
    spec = load_sweep(sweep)
    shutil.rmtree(copied)
    shutil.rmtree(tmp_path / "calibration")
    workdir = tmp_path / "empty"
    workdir.mkdir()
    here = os.getcwd()
    os.chdir(workdir)
    try:
        with DaskExecutor(None, jobs=2) as ex:
            counts = run_sweep(spec, tmp_path / "store", ex)
    finally:
        os.chdir(here)
    assert counts["run"] == 2 and len(sweep_table(tmp_path / "store")) == 2


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout


def test_importing_and_drawing_charts_leaves_matplotlib_as_it_was(tmp_path):
    code = f"""
import json, matplotlib
matplotlib.use("svg")
matplotlib.rcParams["lines.linewidth"] = 3.3
matplotlib.rcParams["axes.titlesize"] = 17.0

def state():
    return {{k: repr(dict.__getitem__(matplotlib.rcParams, k)) for k in dict.keys(matplotlib.rcParams)}}

before = state()
import flowsim.charts
from flowsim.charts.calibration import objective_path
from flowsim.charts.common import save
save(objective_path([3.0, 2.0, 1.0]), __import__("pathlib").Path({str(tmp_path)!r}) / "obj")
after = state()
print(json.dumps({{"changed": sorted(k for k in before if before[k] != after[k]), "backend": matplotlib.get_backend()}}))
"""
    doc = json.loads(_python(code))
    assert doc["changed"] == [] and doc["backend"] == "svg"
    assert (tmp_path / "obj.png").stat().st_size > 0


def test_report_on_a_run_directory_loads_neither_numba_nor_simpy(tmp_path):
    from click.testing import CliRunner

    from flowsim.cli import main

    sets = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    out = tmp_path / "run"
    args = ["run", str(BASELINE), "--no-report", "--quiet", "--out", str(out), *(a for s in sets for a in ("--set", s))]
    assert CliRunner().invoke(main, args).exit_code == 0
    code = f"""
import sys
from flowsim.cli import main
try:
    main(["report", {str(out)!r}])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(sorted(m for m in ("numba", "simpy", "flowsim.engine.kernel") if m in sys.modules))
"""
    assert _python(code).strip().splitlines()[-1] == "[]"
    assert (out / "report.html").exists() and (out / "brief.pdf").exists()
