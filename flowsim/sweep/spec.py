"""Sweep files: what to vary, how, how often, and from which seed.

Example (``scenarios/sweeps/key_worker_capacity.toml``)::

    base = "../baseline.toml"          # resolved relative to this file
    design = "grid"                    # grid | lhs | sobol | morris
    replications = 2
    seed = 20110401
    set = ["population.scale=0.03"]    # applied to every run
    measures = ["stock_end"]           # optional: the columns kept (none caused: no counterfactuals)
    [parameters."programmes.key_worker.caseload"]
    values = [6, 9]                    # a list, or
    [parameters."identification.new_approach_rate_per_year"]
    range = [1.0, 3.0]                 # a range (grid: with steps = N)
    steps = 2
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowsim import ensemble as ens
from flowsim.errors import ScenarioError
from flowsim.measures import BY_COLUMN, SWEEP, needs_counterfactual, used_in
from flowsim.scenario import PARAMETERS, Scenario, load_scenario
from flowsim.scenario.loader import key_lines
from flowsim.scenario.models import show_value

DESIGNS = ("grid", "lhs", "sobol", "morris")
#: Keys of a sweep file, and of each of its parameter tables.
TOP_KEYS = (
    "name",
    "base",
    "design",
    "points",
    "replications",
    "seed",
    "set",
    "parameters",
    "morris_levels",
    "ensemble",
    "ensemble_file",
    "measures",
)
PARAMETER_KEYS = ("values", "range", "steps")
#: Seeds are stored as 64-bit signed integers in the run store.
MAX_SEED = 2**63 - 1
#: A sampled design is drawn whole, and a grid's axes too, before a run: more points (or steps across one range) than
#: this would exhaust memory before the plan could be shown.
MAX_POINTS = 100_000
#: Columns every sweep keeps, whatever its ``measures``: what its summary answers (P(target met), turned around).
ALWAYS = ("turned_around", "count_met")


class SweepError(ScenarioError):
    """A sweep file that cannot be used: names the file, the line and the key, what was expected and what was found."""


@dataclass(frozen=True)
class Parameter:
    key: str
    values: tuple[float, ...] | None  # an explicit list
    low: float | None  # or a range
    high: float | None
    steps: int | None  # grid points across the range
    integer: bool


@dataclass(frozen=True)
class SweepSpec:
    path: str
    name: str
    base: str
    design: str
    points: int
    replications: int
    seed: int
    overrides: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    scenario: Scenario  # the base with the fixed ``set`` overrides applied, read when the sweep file is loaded
    morris_levels: int = 4
    #: ``ensemble = N``: N parameter sets drawn from the calibrated ensemble (less what the base sets itself and
    #: what the sweep varies); ``replications`` is then the runs per design point, ``replications / N`` per set.
    members: tuple[dict, ...] = ()
    ensemble_file: str = ""
    #: ``measures = [...]``: the sweep table's outcome columns to keep (with :data:`ALWAYS`); empty: every one.
    measures: tuple[str, ...] = ()

    @property
    def counterfactual(self) -> bool:
        """Whether its runs simulate their counterfactuals: only if a measure it keeps needs one."""
        return not self.measures or any(needs_counterfactual(BY_COLUMN[c]) for c in self.measures)

    def scenario_for(self, row: dict[str, float]) -> Scenario:
        """The scenario of one design row: the base (with the fixed overrides), then the row's values."""
        return self.scenario.with_values(row, origin=f"sweep file {self.path}")

    def scenario_of_run(self, scenario: Scenario, row: dict[str, float], replication: int) -> Scenario:
        """A design row's scenario for one replication: with its parameter set of the ensemble, if the sweep has one."""
        if not self.members:
            return scenario
        per_set = self.replications // len(self.members)
        member = {k: v for k, v in self.members[replication // per_set].items() if k not in row}
        return scenario.with_values(member, origin=f"ensemble member ({self.ensemble_file})")

    def describe(self) -> dict[str, Any]:
        """The sweep as JSON-ready data: what runs, not where the file is or what it is called."""
        return {
            "scenario_sha256": self.scenario.sha256,
            "design": self.design,
            "points": self.points,
            "replications": self.replications,
            "seed": self.seed,
            "morris_levels": self.morris_levels,
            **({"ensemble": [sorted(m.items()) for m in self.members]} if self.members else {}),
            **({"measures": list(self.measures)} if self.measures else {}),
            "parameters": [
                {
                    "key": p.key,
                    "values": [float(v) for v in p.values] if p.values else None,
                    "range": [float(p.low), float(p.high)] if p.low is not None else None,
                    "steps": p.steps,
                }
                for p in self.parameters
            ],
        }

    @property
    def sha256(self) -> str:
        """SHA-256 of what the sweep runs (see :meth:`describe`): its store belongs to this hash alone."""
        text = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class _Checker:
    """Errors for one sweep file, each naming the file, the line and the key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = key_lines(text)

    def error(self, key: str, message: str) -> SweepError:
        return SweepError(message, file=str(self.path), line=self.lines.get(key), key=key)

    def unknown(self, key: str, leaf: str, allowed: tuple[str, ...]) -> SweepError:
        close = difflib.get_close_matches(leaf, allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return self.error(key, f"unknown key{hint} (expected one of: {', '.join(allowed)}), found {leaf!r}")

    def integer(self, key: str, value: Any, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            span = f"between {low} and {high:,}" if high is not None else f"of at least {low}"
            raise self.error(key, f"expected an integer {span}, found {show_value(value)}")
        return value

    @staticmethod
    def numbers(value: Any) -> bool:
        """A list of finite numbers (not booleans)."""
        return isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError("expected an existing sweep file, found no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(
            f"expected a readable UTF-8 TOML sweep file, found {exc.__class__.__name__}", file=str(path)
        ) from None


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; the base scenario, every override and every value are validated too.

    Raises:
        SweepError: naming the file, line and key, with what was expected and what was found; or
            ScenarioError: for the base scenario, or a ``set`` override (named as the sweep file's ``set``).
    """
    path = Path(path)
    text = _read(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"expected valid TOML, found a syntax error: {exc}", file=str(path)) from None
    check = _Checker(path, text)
    for key in doc:
        if key not in TOP_KEYS:
            raise check.unknown(key, key, TOP_KEYS)
    name = doc.get("name", path.stem)
    if not isinstance(name, str):
        raise check.error("name", f"expected a string, found {show_value(name)}")
    if not isinstance(doc.get("base"), str):
        raise check.error("base", 'expected the base scenario file, e.g. base = "../baseline.toml"')
    base = (path.parent / doc["base"]).resolve()
    design = doc.get("design", "grid")
    if design not in DESIGNS:
        raise check.error("design", f"expected one of {', '.join(DESIGNS)}, found {show_value(design)}")
    points = check.integer("points", doc.get("points", 8), 1, MAX_POINTS)
    replications = check.integer("replications", doc.get("replications", 1), 1)
    seed = check.integer("seed", doc.get("seed", 1), 0, MAX_SEED)
    morris_levels = check.integer("morris_levels", doc.get("morris_levels", 4), 2)
    overrides = doc.get("set", [])
    if not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        raise check.error("set", f"expected a list of KEY=VALUE strings, found {show_value(overrides)}")
    table = doc.get("parameters", {})
    if not isinstance(table, dict) or not table:
        raise check.error("parameters", 'expected at least one [parameters."dotted.key"] table')
    params = tuple(_parameter(check, key, spec, design) for key, spec in table.items())
    scenario = load_scenario(base, overrides, overrides_from=f"{path}, set")
    members, ensemble_file = (), ""
    if "ensemble" in doc:
        sets = check.integer("ensemble", doc["ensemble"], 2)
        per_set = check.integer("replications", doc.get("replications", 2), 2)
        members, ensemble_file = _members(check, doc, path, scenario, sets, seed)
        replications = sets * per_set
    elif "ensemble_file" in doc:
        raise check.error("ensemble_file", "expected it only with ensemble = N (the parameter sets to draw)")
    measures = _measures(check, doc["measures"]) if "measures" in doc else ()
    spec = SweepSpec(
        str(path),
        name,
        str(base),
        design,
        points,
        replications,
        seed,
        tuple(overrides),
        params,
        scenario,
        morris_levels,
        members,
        ensemble_file,
        measures,
    )
    # Validate every value (or both ends of every range) now, not part-way through a sweep.
    for p in params:
        key = f"parameters.{p.key}.{'values' if p.values else 'range'}"
        for v in p.values or (p.low, p.high):
            try:
                spec.scenario_for({p.key: v})
            except ScenarioError as exc:
                raise check.error(key, exc.detail) from None
    return spec


def _parameter(check: _Checker, key: str, spec: Any, design: str) -> Parameter:
    """One ``[parameters."dotted.key"]`` table, checked."""
    where = f"parameters.{key}"
    if key not in PARAMETERS:
        close = difflib.get_close_matches(key, list(PARAMETERS), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise check.error(
            where, f"expected a parameter key such as programmes.key_worker.caseload{hint}, found {key!r}"
        )
    default = PARAMETERS[key].default
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise check.error(where, f"expected a numeric parameter, found {key} ({PARAMETERS[key].unit})")
    if not isinstance(spec, dict):
        raise check.error(
            where, f"expected a table with values = [...] or range = [low, high], found {show_value(spec)}"
        )
    for sub in spec:
        if sub not in PARAMETER_KEYS:
            raise check.unknown(f"{where}.{sub}", sub, PARAMETER_KEYS)
    if ("values" in spec) == ("range" in spec):
        raise check.error(where, "expected either values = [...] or range = [low, high], not both and not neither")
    values, rng = spec.get("values"), spec.get("range")
    if values is not None and not (check.numbers(values) and values):
        raise check.error(f"{where}.values", f"expected a non-empty list of finite numbers, found {show_value(values)}")
    if rng is not None and not (check.numbers(rng) and len(rng) == 2 and rng[0] < rng[1]):
        raise check.error(
            f"{where}.range", f"expected [low, high], two finite numbers with low < high, found {show_value(rng)}"
        )
    if design != "grid" and rng is None:
        raise check.error(where, f"the {design} design needs range = [low, high]")
    if "steps" in spec and rng is None:
        raise check.error(f"{where}.steps", "expected steps only with range = [low, high] (values lists every value)")
    steps = (
        check.integer(f"{where}.steps", spec["steps"], 2, MAX_POINTS)
        if "steps" in spec
        else (3 if rng is not None else None)
    )
    return Parameter(
        key,
        tuple(values) if values else None,
        rng[0] if rng else None,
        rng[1] if rng else None,
        steps,
        isinstance(default, int),
    )


def _measures(check: _Checker, value: Any) -> tuple[str, ...]:
    """``measures = [...]``: sweep table columns, kept with :data:`ALWAYS`, in the catalogue's order."""
    columns = tuple(m.column for m in used_in(SWEEP))
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise check.error(
            "measures", f'expected a list of column names such as ["stock_end"], found {show_value(value)}'
        )
    for v in value:
        if v not in columns:
            close = difflib.get_close_matches(v, columns, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise check.error(
                "measures", f"unknown measure {v!r}{hint} (expected sweep table columns: {', '.join(columns)})"
            )
    return tuple(c for c in columns if c in value or c in ALWAYS)


def _members(check: _Checker, doc: dict, path: Path, scenario: Scenario, sets: int, seed: int) -> tuple:
    """The sweep's parameter sets drawn from the ensemble (``ensemble_file``, relative to the sweep file)."""
    where = doc.get("ensemble_file")
    if where is not None and not isinstance(where, str):
        raise check.error("ensemble_file", f"expected a path, found {show_value(where)}")
    file = (path.parent / where).resolve() if where else ens.DEFAULT_PATH
    try:
        e = ens.load(file)
    except ens.EnsembleError as exc:
        raise check.error("ensemble_file" if where else "ensemble", str(exc)) from None
    members, _ = ens.members_for(scenario, e, sets, seed)
    return tuple(members), str(file)
