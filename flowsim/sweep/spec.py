"""Sweep files: what to vary, how, how often, and from which seed.

Example (``scenarios/sweeps/key_worker_capacity.toml``)::

    base = "../baseline.toml"          # resolved relative to this file
    design = "grid"                    # grid | lhs | sobol | morris
    replications = 2
    seed = 20110401
    set = ["population.scale=0.03"]    # applied to every run
    [parameters."programmes.key_worker.caseload"]
    values = [6, 9]                    # a list, or
    [parameters."identification.new_approach_rate_per_year"]
    range = [1.0, 3.0]                 # a range (grid: with steps = N)
    steps = 2
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowsim.errors import FlowsimError
from flowsim.scenario import PARAMETERS, Scenario, load_scenario

DESIGNS = ("grid", "lhs", "sobol", "morris")


class SweepError(FlowsimError):
    """A sweep file that cannot be used."""


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

    def scenario_for(self, row: dict[str, float]) -> Scenario:
        """The scenario of one design row: the base (with the fixed overrides), then the row's values."""
        return self.scenario.with_values(row, origin=f"sweep file {self.path}")


def _err(path: Path, key: str, msg: str) -> SweepError:
    return SweepError(f"{path}, key {key}: {msg}")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; the base scenario and every override are validated too.

    Raises:
        SweepError or ScenarioError: naming the file and key, with what was expected.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{path}: expected an existing sweep file, found no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: expected valid TOML, found a syntax error: {exc}") from None
    allowed = {"name", "base", "design", "points", "replications", "seed", "set", "parameters", "morris_levels"}
    for key in doc:
        if key not in allowed:
            raise _err(path, key, f"unknown key; expected one of {', '.join(sorted(allowed))}")
    if not isinstance(doc.get("base"), str):
        raise _err(path, "base", 'expected the base scenario file, e.g. base = "../baseline.toml"')
    base = (path.parent / doc["base"]).resolve()
    design = doc.get("design", "grid")
    if design not in DESIGNS:
        raise _err(path, "design", f"expected one of {', '.join(DESIGNS)}, found {design!r}")
    ints = {
        "points": doc.get("points", 8),
        "replications": doc.get("replications", 1),
        "seed": doc.get("seed", 1),
        "morris_levels": doc.get("morris_levels", 4),
    }
    for key, v in ints.items():
        if isinstance(v, bool) or not isinstance(v, int) or (key != "seed" and v < 1):
            raise _err(path, key, f"expected a positive integer, found {v!r}")
    overrides = doc.get("set", [])
    if not (isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)):
        raise _err(path, "set", "expected a list of KEY=VALUE strings")
    params = []
    table = doc.get("parameters", {})
    if not isinstance(table, dict) or not table:
        raise _err(path, "parameters", 'expected at least one [parameters."dotted.key"] table')
    for key, spec in table.items():
        if key not in PARAMETERS:
            raise _err(
                path, f"parameters.{key}", "expected a dotted parameter key such as programmes.key_worker.caseload"
            )
        default = PARAMETERS[key].default
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise _err(path, f"parameters.{key}", "expected a numeric parameter")
        if not isinstance(spec, dict) or not ({"values"} <= set(spec) or {"range"} <= set(spec)):
            raise _err(path, f"parameters.{key}", "expected values = [...] or range = [low, high]")
        values = spec.get("values")
        rng = spec.get("range")
        if values is not None and (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            raise _err(path, f"parameters.{key}.values", "expected a non-empty list of numbers")
        if rng is not None and (not isinstance(rng, list) or len(rng) != 2 or not rng[0] < rng[1]):
            raise _err(path, f"parameters.{key}.range", f"expected [low, high] with low < high, found {rng!r}")
        if design != "grid" and rng is None:
            raise _err(path, f"parameters.{key}", f"the {design} design needs range = [low, high]")
        steps = spec.get("steps", 3 if rng is not None else None)
        params.append(
            Parameter(
                key,
                tuple(values) if values else None,
                rng[0] if rng else None,
                rng[1] if rng else None,
                steps,
                isinstance(default, int),
            )
        )
    spec = SweepSpec(
        str(path),
        doc.get("name", path.stem),
        str(base),
        design,
        ints["points"],
        ints["replications"],
        ints["seed"],
        tuple(overrides),
        tuple(params),
        load_scenario(base, overrides),
        ints["morris_levels"],
    )
    # Validate the extremes of every parameter now, not part-way through a sweep.
    for p in spec.parameters:
        for v in p.values or (p.low, p.high):
            spec.scenario_for({p.key: float(v)})
    return spec
