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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowsim.calibrate.targets import Targets
from flowsim.files import atomic_write
from flowsim.scenario import PARAMETERS, Scenario


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


def survey_values(scenario: Scenario, scale: float) -> dict:
    """Values that run only the survey window (to one month past the start) at ``scale``."""
    start = scenario.params.time.start
    end = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return {"population.scale": scale, "time.end": end, "time.deadline": end}


def evaluate(scenario: Scenario, values: dict[str, float], seeds) -> dict[str, list[float]]:
    """Run ``scenario`` with ``values`` set once per seed; return each calibration measure's list over seeds."""
    from flowsim.engine import simulate
    from flowsim.measures import calibration_measures

    trial = scenario.with_values(values, origin="calibration")
    out: dict[str, list[float]] = {}
    for seed in seeds:
        for k, v in calibration_measures(simulate(trial, seed=seed)).items():
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
    scenario: Scenario,
    targets: Targets,
    runs_dir: Path,
    max_evaluations: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Fit:
    """Fit the calibrated parameters of ``scenario`` to ``targets`` (resumable)."""
    from scipy.optimize import minimize

    keys = calibrated_parameters(scenario)
    survey = scenario.with_values(survey_values(scenario, targets.scale), origin="calibration survey window")
    x0 = np.array([_to_x(k, float(scenario.value(k))) for k in keys])
    ident = json.dumps([scenario.sha256, targets.text_sha256, keys, survey.sha256], sort_keys=True)
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
            measures = evaluate(survey, values, targets.seeds)
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
    atomic_write(path, "\n".join(lines))
