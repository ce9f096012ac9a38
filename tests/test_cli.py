"""The commands, through click's CliRunner."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.rundir import RunDirectory
from flowsim.tables import TABLES

from .conftest import BASELINE, SCENARIOS, SMALL


def _sets():
    return [arg for s in SMALL for arg in ("--set", s)]


def test_run_writes_a_run_directory_that_answers_the_question(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(BASELINE), "--seed", "3", "--out", str(out), *_sets()])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("Target (") and "turned around by 30 April 2012" in first  # UK dates
    summary = json.loads((out / "summary.json").read_text())
    assert first.startswith(summary["headline"]) and "population.scale 0.01" in first  # the headline says its scale
    assert RunDirectory(out).headline == first
    count = summary["target"]["count"]
    assert set(count) >= {"turned_around", "target", "met", "date_met"}
    assert isinstance(count["met"], bool)
    assert "share" in summary["target"]["coverage"]
    assert set(summary["target"]["prevalence"]) >= {"stock_start", "stock_end"}
    assert set(summary["moments"]) >= {"at_risk", "persistence_1y", "persistent_4_of_6", "stock", "flow_group"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["scenario_sha256"]) == 64 and manifest["seed"] == 3
    assert manifest["flowsim_version"] and manifest["started_at"]
    assert manifest["scenario"]["population"]["scale"] == 0.01
    for name in TABLES:
        assert pq.read_table(out / f"{name}.parquet").num_rows > 0, name


def test_run_quiet_prints_only_the_headline(tmp_path):
    result = CliRunner().invoke(main, ["run", str(BASELINE), "--quiet", "--out", str(tmp_path), *_sets()])
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) == 1


def test_validate_every_shipped_scenario():
    for path in sorted(SCENARIOS.glob("*.toml")):
        result = CliRunner().invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, (path, result.output)


def test_show_lists_every_parameter_with_unit_and_source():
    result = CliRunner().invoke(
        main, ["show", str(SCENARIOS / "key_worker_plus20.toml"), "--set", "programmes.key_worker.caseload=7"]
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    caseload = next(line for line in lines if line.startswith("programmes.key_worker.caseload ="))
    assert "= 7" in caseload and "ref: NatCen 2011" in caseload and "--set" in caseload
    staff = next(line for line in lines if line.startswith("programmes.key_worker.staff ="))
    assert "key_worker_plus20.toml" in staff


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "flowsim", "--version"], capture_output=True, text=True, check=True)
    assert "flowsim" in out.stdout


@pytest.mark.parametrize(
    "values",
    [
        ["R", "H", "", "children's centres — targeted"],
        [dt.date(2005, 4, 1), dt.date(2015, 5, 31), dt.date(1969, 12, 31)],
        [0.5, float("nan"), -1e300],
        [3, -7, 2**62],
        np.arange(5, dtype=np.int32),
        np.array([1.5, np.inf, -0.0]),
        [True, False],  # not laid out by hand: pyarrow.array's bool
        [],
    ],
)
def test_table_columns_are_the_arrays_pyarrow_would_build(values):
    """Columns laid out from buffers (to keep pandas off the run path) equal what pyarrow.array builds."""
    import pyarrow as pa

    from flowsim.rundir import arrow_array as _arrow_array

    got, want = _arrow_array(values), pa.array(values)
    assert got.type == want.type
    assert got.to_pylist() == want.to_pylist() or np.allclose(got.to_numpy(), want.to_numpy(), equal_nan=True)


def test_run_path_does_not_import_pandas(tmp_path):
    """pandas costs 0.2 s of import: the run path writes its tables with pyarrow alone."""
    import subprocess
    import sys

    code = (
        "import sys; from flowsim.cli import main\n"
        f"sys.argv = ['flowsim', 'run', {str(BASELINE)!r}, '--quiet', '--no-report', '--out', {str(tmp_path)!r}]"
        f" + [a for s in {SMALL!r} for a in ('--set', s)]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "waits.parquet").exists()
    assert out.strip().endswith("False"), out


def test_warm_up_compiles_or_says_the_kernel_is_ready():
    """`flowsim warm-up` (the kernel is already compiled in the test session: it says so and exits 0)."""
    result = CliRunner().invoke(main, ["warm-up"])
    assert result.exit_code == 0, result.output
    assert "the event kernel is compiled" in result.output


def test_the_warm_up_scenario_is_a_valid_tiny_scenario(tmp_path, monkeypatch):
    """What compile_kernel simulates is a valid scenario of registry defaults at 0.2% scale."""
    from flowsim.engine import compile

    ran = []
    monkeypatch.setattr("flowsim.engine.simulation.simulate", lambda sc, seed: ran.append(sc))
    compile.compile_kernel()
    assert len(ran) == 1 and ran[0].value("population.scale") == 0.002
