"""Hundreds of malformed scenario documents: the loader answers each with a ScenarioError or a valid scenario, never anything else."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsim.errors import ScenarioError
from flowsim.scenario import load_scenario
from flowsim.scenario.registry import PARAMETERS

from .conftest import BASELINE

KEYS = sorted(PARAMETERS)
BASE_TEXT = BASELINE.read_text(encoding="utf-8")

scalars = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (int, dt.date)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(value)


def _check(path, overrides=()) -> None:
    """Loading either works or raises a ScenarioError that is one line, names where (the file or the override) and
    the key when there is one, and says what was expected (before: only that the message was not empty)."""
    try:
        load_scenario(path, list(overrides))
    except ScenarioError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert exc.file is not None and str(exc.file) in message, message
        assert exc.detail.startswith(("expected", "unknown key")), message
        if exc.key is not None:
            assert f"key {exc.key}" in message, message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.one_of(st.sampled_from(KEYS), st.from_regex(r"[a-z_]{1,10}(\.[a-z_]{1,10}){0,3}", fullmatch=True)),
    value=values,
)
def test_random_assignments(tmp_path, key, value):
    """A known or random dotted key set to a random value, in a file that extends the baseline."""
    table, _, leaf = key.rpartition(".")
    body = f'extends = "{BASELINE}"\n' + (f"[{table}]\n" if table else "") + f"{leaf} = {_literal(value)}\n"
    path = tmp_path / "fuzz.toml"
    path.write_text(body, encoding="utf-8")
    _check(path)
    _check(BASELINE, [f"{key}={_literal(value)}"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(BASE_TEXT)), junk=st.text(max_size=20), drop=st.integers(0, 40))
def test_mangled_baseline_text(tmp_path, cut, junk, drop):
    """The baseline file with random text spliced in and a stretch deleted."""
    text = BASE_TEXT[:cut] + junk + BASE_TEXT[cut + drop :]
    path = tmp_path / "mangled.toml"
    path.write_text(text, encoding="utf-8")
    _check(path)


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=40))
def test_random_set_strings(raw):
    _check(BASELINE, [raw])
