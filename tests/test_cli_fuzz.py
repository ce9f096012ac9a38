"""A property-based fuzz of the command line and of sweep files.

Every outcome is exit 0 with the right output, or exit 2 with one line
(``error: ...``) and no traceback. Run with ``--hypothesis-show-statistics``
to see how many cases ran.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flowsim.rundir import RunDirectory
from flowsim.scenario.registry import PARAMETERS
from flowsim.sweep import load_sweep
from flowsim.sweep.run import plan

from .conftest import BASELINE, TINY, invoke, sets
from .test_scenario_fuzz import _literal, values

KEYS = sorted(PARAMETERS)
NUMERIC = [k for k, p in PARAMETERS.items() if isinstance(p.default, (int, float)) and not isinstance(p.default, bool)]
CASES = {"count": 0}


def _outcome(result, ok) -> None:
    """Exit 0 and ``ok(result)``, or exit 2 with one line of error and no traceback."""
    CASES["count"] += 1
    event(f"exit {result.exit_code}")
    if result.exit_code == 0:
        ok(result)
        return
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and "datetime." not in lines[0]


def _in_range(key: str, u: float) -> str:
    """KEY=VALUE with a value inside the parameter's bounds (u in [0, 1] picks where)."""
    p = PARAMETERS[key]
    lo = p.lo if p.lo is not None else 0.0
    hi = p.hi if p.hi is not None else max(lo, 1.0) * 10
    value = lo + u * (hi - lo)
    return f"{key}={round(value) if isinstance(p.default, int) else value!r}"


set_strings = st.one_of(
    st.text(max_size=40),
    st.builds(lambda k, v: f"{k}={_literal(v)}", st.sampled_from(KEYS), values),
    st.builds(
        lambda k, v: f"{k}={_literal(v)}",
        st.from_regex(r"[a-z_]{1,12}(\.[a-z_]{1,12}){0,3}", fullmatch=True),
        values,
    ),
    st.builds(_in_range, st.sampled_from(NUMERIC), st.floats(0, 1)),
    st.sampled_from(
        ['extends="quick.toml"', "name=7", 'name="../../x"', "target.count_families=0", "time.end=2020-12-31"]
    ),
)


@settings(max_examples=400, deadline=None)
@given(overrides=st.lists(set_strings, max_size=3))
def test_fuzz_set_strings(overrides):
    from flowsim.scenario import load_scenario

    def ok(result):
        match = re.fullmatch(r".*: valid \(scenario .*, sha256 ([0-9a-f]{12})\)", result.stdout.strip())
        assert match and match.group(1) == load_scenario(BASELINE, overrides).sha256[:12]

    _outcome(invoke("validate", BASELINE, *sets(overrides)), ok)


SWEEP = f"""name = "fuzz"
base = "{BASELINE}"
design = "grid"
replications = 2
seed = 3
set = {json.dumps(TINY)}
[parameters."programmes.key_worker.caseload"]
values = [6, 9]
[parameters."identification.new_approach_rate_per_year"]
range = [1.0, 3.0]
steps = 2
"""
#: Keys a sweep file may hold, misspellings among them, each with values near and far from valid ones.
PLAUSIBLE = {
    "name": st.one_of(st.text(max_size=12), st.integers()),
    "base": st.sampled_from(["../baseline.toml", str(BASELINE), str(BASELINE.parent), "nowhere.toml"]),
    "design": st.sampled_from(["grid", "lhs", "sobol", "morris", "Grid", ""]),
    "points": st.integers(-1, 6),
    "replications": st.one_of(st.integers(-1, 4), st.just(10**6)),
    "seed": st.one_of(st.integers(-3, 10), st.just(2**63), st.just(2**63 - 1)),
    "morris_levels": st.integers(0, 6),
    "set": st.lists(
        st.sampled_from(["population.scale=0.003", "population.scale=50", "nope=1", "time.end=2011-06-30"])
    ),
    "stpes": st.integers(0, 4),
    "steps": st.one_of(st.integers(-2, 5), st.just(10_000)),
    "values": st.lists(st.one_of(st.floats(-5, 150), st.integers(-5, 150)), max_size=4),
    "range": st.lists(st.one_of(st.floats(-5, 150), st.integers(-5, 150)), max_size=3),
    "low": st.floats(0, 10),
}
PARAM_KEYS = ["values", "range", "steps", "stpes", "low"]


def _assign(lines: list[str], start: int, key: str, value) -> list[str]:
    """Set ``key`` in the table that begins at line ``start`` (replacing its line if it is already there)."""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    line = f"{key} = {_literal(value)}"
    for i in range(start, end):
        if lines[i].split("=")[0].strip() == key:
            return [*lines[:i], line, *lines[i + 1 :]]
    return [*lines[:end], line, *lines[end:]]


def _mutate(text: str, kind: int, key: str, value, cut: int, junk: str) -> str:
    lines = text.splitlines()
    if kind == 0:  # set a top-level key
        return "\n".join(_assign(lines, -1, key, value)) + "\n"
    if kind == 1:  # set a key in the last parameter table
        last = max(i for i, line in enumerate(lines) if line.startswith("["))
        return "\n".join(_assign(lines, last, key, value)) + "\n"
    if kind == 2:  # replace a line's value
        i = cut % len(lines)
        if "=" in lines[i]:
            lines[i] = lines[i].split("=")[0] + f"= {_literal(value)}"
        return "\n".join(lines) + "\n"
    if kind == 3:  # add a parameter table
        return text + f'[parameters."{key}"]\nvalues = {_literal(value)}\n'
    return text[: cut % (len(text) + 1)] + junk + text[cut % (len(text) + 1) + 3 :]  # splice in junk


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.integers(0, 4), cut=st.integers(0, 10_000), junk=st.text(string.printable, max_size=8))
def test_fuzz_sweep_files(tmp_path, data, kind, cut, junk):
    if kind == 0:
        key = data.draw(st.sampled_from([k for k in PLAUSIBLE if k not in PARAM_KEYS or k == "stpes"]))
    elif kind == 1:
        key = data.draw(st.sampled_from(PARAM_KEYS))
    else:
        key = data.draw(st.sampled_from(NUMERIC + list(PLAUSIBLE)))
    value = data.draw(st.one_of(PLAUSIBLE.get(key, st.floats(-5, 150)), values))
    path = tmp_path / "fuzz.toml"
    path.write_text(_mutate(SWEEP, kind, key, value, cut, junk))

    def ok(result):
        match = re.search(r"^flowsim: ([\d,]+) runs? \(", result.stdout)
        assert match, result.stdout
        runs = int(match.group(1).replace(",", ""))
        if runs <= 2000:  # count them another way: the distinct run ids of the whole plan
            assert runs == len({t["run_id"] for t in plan(load_sweep(path))})

    with tempfile.TemporaryDirectory() as out:
        _outcome(invoke("sweep", path, "--dry-run", "--out", Path(out) / "o"), ok)


def _mostly(valid, *invalid):
    """Draw from ``valid`` about four times in five, so that most cases run and some are refused."""
    return st.integers(0, 4).flatmap(lambda i: st.one_of(*invalid) if i == 0 else valid)


options = st.fixed_dictionaries(
    {
        "seed": _mostly(st.integers(0, 2**63 - 1), st.integers(-(2**70), -1), st.just(2**64), st.just("x")),
        "replications": _mostly(st.integers(1, 3), st.integers(-2, 0), st.integers(10**6, 10**12)),
        "jobs": _mostly(st.integers(1, 2), st.integers(-1, 0), st.just(10**6)),
        "out": _mostly(st.sampled_from(["fresh", "fresh/nested", "../up"]), st.sampled_from(["file", "file/under"])),
        "flags": st.lists(st.sampled_from(["--csv", "--quiet", "--no-report"]), unique=True),
        "overrides": st.lists(
            _mostly(
                st.sampled_from(
                    [
                        "population.scale=0.003",
                        "programmes.key_worker.caseload=9",
                        'name="a/../b"',
                        "target.count_families=1",
                    ]
                ),
                st.sampled_from(["population.scale=0", "time.end=3000-01-01", "population.scale.x=1", "seed=4"]),
            ),
            max_size=2,
        ),
    }
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opts=options)
def test_fuzz_run_options(tmp_path_factory, opts):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "file").write_text("not a directory")
    out = root / "work" / opts["out"]
    flags = (
        opts["flags"]
        if "--no-report" in opts["flags"] or opts["replications"] != 1
        else [*opts["flags"], "--no-report"]
    )
    args = ["run", BASELINE, "--seed", opts["seed"], "--replications", opts["replications"], "--jobs", opts["jobs"]]
    args += ["--out", out if "file" not in opts["out"] else root / opts["out"], *flags]
    args += sets([*TINY, *opts["overrides"]])

    def ok(result):
        run = RunDirectory(out)
        assert run.manifest["seed"] == opts["seed"] and run.manifest["replications"] == opts["replications"]
        assert result.stdout.splitlines()[0] == run.headline
        assert (out / "states.csv").exists() == ("--csv" in flags)
        assert dt.date.fromisoformat(run.manifest["started_at"][:10]).year >= 2024

    _outcome(invoke(*args), ok)
