"""Fit the parameters marked ``calibrated`` to ``calibration/targets.toml``.

Each evaluation runs the scenario over the survey window only (to one month
past the start) at a reduced scale, for a fixed list of seeds: common random
numbers, so the objective changes with the parameters and not with the
noise. The objective is the sum of squared z-scores ``((simulated - target)
/ tolerance)**2``. Nelder-Mead (scipy) searches in a logit transform of each
parameter's registry range, so every trial value is valid.

An interrupted fit resumes: every evaluation is appended to
``<out dir>/runs/<run id>/evaluations.jsonl`` and Nelder-Mead, being
deterministic, replays the cached ones instantly when the same fit is
started again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowsim.errors import FlowsimError
from flowsim.scenario import PARAMETERS, Scenario, load_scenario
from flowsim.scenario.assumptions import value_of


class TargetsError(FlowsimError):
    """A targets file that cannot be used."""


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class Targets:
    path: str
    targets: tuple[Target, ...]
    scale: float
    seeds: tuple[int, ...]
    max_evaluations: int
    text_sha256: str


KNOWN_MEASURES = (
    "at_risk",
    "persistence_1y",
    "persistent_4_of_6",
    "stock",
    "flow_group",
    "at_risk_drift",
    "key_worker_started_by_2010",
    "turned_around_by_2010",
)


def load_targets(path: str | Path) -> Targets:
    """Read a targets file.

    Raises:
        TargetsError: naming the file and key, for a missing file, bad TOML,
            an unknown measure, or a value, tolerance or setting of the wrong kind.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except FileNotFoundError:
        raise TargetsError(f"{path}: expected an existing targets file, found no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{path}: expected valid TOML, found a syntax error: {exc}") from None
    settings = doc.get("settings", {})
    unknown = set(doc) - {"settings", "targets"} | set(settings) - {"scale", "seeds", "max_evaluations"}
    if unknown:
        raise TargetsError(f"{path}: unknown key(s) {sorted(unknown)}; expected [settings] and [targets.<measure>]")
    targets = []
    for name, t in doc.get("targets", {}).items():
        if name not in KNOWN_MEASURES:
            raise TargetsError(
                f"{path}, key targets.{name}: expected one of {', '.join(KNOWN_MEASURES)}, found {name!r}"
            )
        if not isinstance(t, dict) or set(t) != {"value", "tolerance", "source"}:
            raise TargetsError(f"{path}, key targets.{name}: expected value, tolerance and source, found {t!r}")
        if not all(isinstance(t[k], (int, float)) and not isinstance(t[k], bool) for k in ("value", "tolerance")):
            raise TargetsError(f"{path}, key targets.{name}: expected numbers for value and tolerance")
        if t["tolerance"] <= 0:
            raise TargetsError(f"{path}, key targets.{name}.tolerance: expected a number > 0, found {t['tolerance']!r}")
        targets.append(Target(name, float(t["value"]), float(t["tolerance"]), str(t["source"])))
    if not targets:
        raise TargetsError(f"{path}: expected at least one [targets.<measure>] table")
    seeds = settings.get("seeds", [101, 102])
    scale = settings.get("scale", 0.05)
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise TargetsError(f"{path}, key settings.seeds: expected a list of integers, found {seeds!r}")
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        raise TargetsError(f"{path}, key settings.scale: expected a number in (0, 1], found {scale!r}")
    return Targets(
        str(path),
        tuple(targets),
        float(scale),
        tuple(seeds),
        int(settings.get("max_evaluations", 400)),
        hashlib.sha256(text.encode()).hexdigest(),
    )


def calibrated_parameters(scenario: Scenario) -> list[str]:
    """Dotted paths of the numeric parameters whose source is ``calibrated``, in registry order."""
    out = []
    for key, p in PARAMETERS.items():
        if (
            p.source.startswith("calibrated")
            and isinstance(p.default, (int, float))
            and not isinstance(p.default, bool)
        ):
            if p.path.startswith("programmes."):
                prog = p.path.split(".")[1]
                if not getattr(scenario.params.programmes, prog).enabled:
                    continue
            out.append(key)
    return out


def _to_x(key: str, value: float) -> float:
    p = PARAMETERS[key]
    u = min(max((value - p.lo) / (p.hi - p.lo), 1e-6), 1 - 1e-6)
    return math.log(u / (1 - u))


def _from_x(key: str, x: float) -> float:
    p = PARAMETERS[key]
    value = p.lo + (p.hi - p.lo) / (1 + math.exp(-x))
    return round(value) if isinstance(p.default, int) else float(f"{value:.6g}")


def survey_overrides(scenario: Scenario, scale: float) -> list[str]:
    """Overrides that run only the survey window (to one month past the start) at ``scale``."""
    start = scenario.params.time.start
    end = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return [f"population.scale={scale}", f"time.end={end.isoformat()}", f"time.deadline={end.isoformat()}"]


def evaluate(path: str | Path, base_overrides: list[str], values: dict[str, float], seeds) -> dict[str, list[float]]:
    """Run the survey window once per seed with ``values`` set; return each measure's list over seeds."""
    from flowsim.engine import simulate
    from flowsim.measures import calibration_measures

    overrides = base_overrides + [f"{k}={v!r}" for k, v in values.items()]
    scenario = load_scenario(path, overrides)
    out: dict[str, list[float]] = {}
    for seed in seeds:
        for k, v in calibration_measures(simulate(scenario, seed=seed)).items():
            out.setdefault(k, []).append(v)
    return out


def objective(measures: dict[str, list[float]], targets: Targets) -> float:
    """Sum of squared z-scores of the seed-averaged measures."""
    return float(sum(((np.mean(measures[t.name]) - t.value) / t.tolerance) ** 2 for t in targets.targets))


@dataclass
class Fit:
    """A fit's evaluations (in order), the best parameter values and where the log is."""

    run_id: str
    keys: list[str]
    log_path: Path
    evaluations: list[dict] = field(default_factory=list)

    @property
    def best(self) -> dict:
        return min(self.evaluations, key=lambda e: e["objective"])


def fit(
    scenario_path: str | Path,
    targets: Targets,
    runs_dir: Path,
    overrides: list[str] | None = None,
    max_evaluations: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Fit:
    """Fit the calibrated parameters of ``scenario_path`` to ``targets`` (resumable)."""
    from scipy.optimize import minimize

    overrides = list(overrides or [])
    scenario = load_scenario(scenario_path, overrides)
    keys = calibrated_parameters(scenario)
    base = overrides + survey_overrides(scenario, targets.scale)
    x0 = np.array([_to_x(k, float(value_of(scenario.params, k))) for k in keys])
    ident = json.dumps([scenario.sha256, targets.text_sha256, keys, base], sort_keys=True)
    run_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
    log_path = runs_dir / run_id / "evaluations.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = Fit(run_id, keys, log_path)
    cache: dict[str, dict] = {}
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short when the fit was killed
            cache[entry["values_key"]] = entry
    limit = max_evaluations or targets.max_evaluations

    def f(x: np.ndarray) -> float:
        values = {k: _from_x(k, xi) for k, xi in zip(keys, x, strict=True)}
        vkey = json.dumps(values, sort_keys=True)
        entry = cache.get(vkey)
        if entry is None:
            measures = evaluate(scenario_path, base, values, targets.seeds)
            entry = {
                "values_key": vkey,
                "values": values,
                "measures": measures,
                "objective": objective(measures, targets),
            }
            with log_path.open("a") as fh:
                fh.write(json.dumps(entry) + "\n")
            cache[vkey] = entry
        result.evaluations.append(entry)
        if progress is not None:
            progress(len(result.evaluations), min(e["objective"] for e in result.evaluations))
        return entry["objective"]

    simplex = np.vstack([x0] + [x0 + 0.5 * np.eye(len(keys))[i] for i in range(len(keys))])
    minimize(
        f, x0, method="Nelder-Mead", options={"maxfev": limit, "initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-3}
    )
    return result


def write_fitted(path: Path, fit_result: Fit, targets: Targets, scenario_path: str | Path) -> None:
    """Write the best values as a scenario file that the baseline extends."""
    best = fit_result.best
    today = dt.date.today().isoformat()
    lines = [
        "# Written by `flowsim calibrate`; do not edit by hand: re-run the calibration.",
        f"# Fitted to {targets.path} from {scenario_path}, objective {best['objective']:.3f} "
        f"after {len(fit_result.evaluations)} evaluations.",
        f'calibrated_by = "flowsim calibrate run {fit_result.run_id}, {today}"',
        "",
    ]
    tables: dict[str, list[str]] = {}
    for key, value in best["values"].items():
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append(f"{leaf} = {value!r}")
    for table, rows in tables.items():
        lines += [f"[{table}]", *rows, ""]
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
