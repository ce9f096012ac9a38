"""Calibrating model v2: each calibrated parameter is moved by the target it moves most, until all agree.

The evaluation runs the survey window (six yearly waves, no new policy) and
the first policy year, at ``settings.scale`` of England with every family
tracked (``population.sample_weight = 1``), for the same seeds every time
(common random numbers). Each pass then updates, multiplicatively:

- each problem's base onset rate by its prevalence target;
- ``problems.household_link_scale`` by the share multiply disadvantaged;
- ``events.crisis.rate_per_year`` by the number at risk;
- ``problems.child_link_scale`` by the stock;
- the ordinary child-in-need spell's mean length by the census's episodes (children in need / episodes begun a year);
- the crisis spells' mean length by the persistence;
- the key worker's hazard ratios by OSR14/2011's entry-to-exit changes.

The number at risk in 4 or more of 6 waves and the flow group are not
fitted: they are what the structure predicts, and the report compares them
with their targets. Every pass is appended to ``runs/<run id>/passes.jsonl``;
a killed calibration resumes from its last pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowsim import engine
from flowsim.calibrate.targets import Targets
from flowsim.charts import calibration as charts
from flowsim.charts.common import save_png
from flowsim.engine.cache import model_digest
from flowsim.engine.codes import H, R, S
from flowsim.files import atomic_write
from flowsim.measures import survey_moments
from flowsim.results import Results
from flowsim.scenario import PARAMETERS, Scenario
from flowsim.scenario.registry_problems import CRISIS_SOURCED, PROBLEM_NAMES
from flowsim.statistics import mean_interval

#: OSR14/2011's outcome domains as model v2's problems.
OSR14_DOMAINS = {
    "crime_asb": ("youth_crime_asb", "parental_offending"),
    "education": ("education",),
    "workless": ("workless",),
    "family_functioning": ("domestic_violence", "child_in_need"),
    "health": ("maternal_mental_health", "substance_misuse", "parental_illness"),
}
#: The FIP cohort whose outcomes OSR14/2011 reported: interventions that ended before April 2011.
OSR14_BEFORE_YEARS = 1.0


def osr14_changes(res: Results, programme: str = "key_worker", before: float = OSR14_BEFORE_YEARS) -> dict:
    """Relative change, entry to exit, in the share of families with each OSR14 domain's problems.

    Among families whose intervention in ``programme`` ended (completed) before ``before`` (model years).
    """
    if res.outcomes is None or programme not in res.programme_names:
        return {}
    prog, t, start, end, completed = res.outcomes
    k = res.programme_names.index(programme)
    sel = (prog == k) & (t < before) & completed
    out = {}
    for domain, problems in OSR14_DOMAINS.items():
        mask = sum(1 << PROBLEM_NAMES.index(p) for p in problems)
        entry = ((start[sel] & mask) != 0).mean() if sel.any() else float("nan")
        exit_ = ((end[sel] & mask) != 0).mean() if sel.any() else float("nan")
        out[domain] = float(exit_ / entry - 1.0) if entry > 0 else float("nan")
    out["_families"] = int(sel.sum())
    return out


def problem_measures(res: Results) -> dict[str, float]:
    """What model v2's targets compare against, in England's families (counts divided by the scale)."""
    m = survey_moments(res)
    per = 1.0 / res.scale
    waves = res.wave_t
    idx = np.searchsorted(res.boundary_t, waves)
    families = res.boundary_states[idx][:, :5].sum(axis=1).astype(float)
    out = {
        "at_risk": m["at_risk"] * per,
        "persistence_1y": m["persistence_1y"],
        "persistent_4_of_6": m["persistent_4_of_6"] * per,
        "stock": m["stock"] * per,
        "flow_group": m["flow_group"] * per,
        "multiply_disadvantaged": float(res.boundary_classes[idx][:, 3].mean()) * per,
    }
    for k, name in enumerate(res.problem_names):
        out[f"prevalence_{name}"] = float((res.boundary_problems[idx][:, k] / families).mean())
    for domain, change in osr14_changes(res).items():
        if not domain.startswith("_"):
            out[f"osr14_{domain}"] = change
    out["duration_child_in_need"] = m["duration_child_in_need"]
    stock = res.boundary_states[idx][:, S].astype(float)
    at_risk = res.boundary_states[idx][:, [R, H, S]].sum(axis=1).astype(float)
    out["stock_share_of_at_risk"] = float((stock / at_risk).mean())
    return out


def survey_values(scenario: Scenario, scale: float) -> dict:
    """The evaluation: to the end of the first policy year (OSR14's cohort ended by then), every family tracked."""
    end = dt.date(scenario.params.time.start.year + 1, 3, 31)
    return {"population.scale": scale, "time.end": end, "time.deadline": end, "population.sample_weight": 1}


def evaluate(scenario: Scenario, values: dict, seeds) -> dict[str, float]:
    """Each measure's mean over ``seeds`` with ``values`` set."""
    trial = scenario.with_values(values, origin="calibration")
    runs = [problem_measures(engine.simulate(trial, seed=s)) for s in seeds]
    return {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0]}


#: The heading of ``report.md``'s section that the history matching writes (:mod:`flowsim.calibrate.report`).
ENSEMBLE_SECTION = "## The ensemble (history matching)"

#: Targets no handle moves: what the structure predicts, compared with the seed, never fitted.
UNFITTED = ("persistent_4_of_6", "flow_group")


def objective(measures: dict[str, float], targets: Targets, fitted_only: bool = False) -> float:
    """Sum of squared z-scores over every target (``fitted_only``: over the targets a handle moves)."""
    return float(
        sum(
            t.z(measures[t.name]) ** 2
            for t in targets.targets
            if t.name in measures and not (fitted_only and t.name in UNFITTED)
        )
    )


def _ratio(target: float, simulated: float, floor: float = 1e-9) -> float:
    return target / max(simulated, floor)


def step(values: dict, m: dict, targets: Targets) -> dict:
    """One fixed-point pass: each handle moved by its target."""
    v = dict(values)
    for name in PROBLEM_NAMES:
        key = f"problems.{name}.onset_rate_per_year"
        t = targets[f"prevalence_{name}"].value
        v[key] = v[key] * _ratio(t, m[f"prevalence_{name}"]) ** 0.9
    v["problems.household_link_scale"] *= (
        _ratio(targets["multiply_disadvantaged"].value, m["multiply_disadvantaged"]) ** 0.35
    )
    at_risk = _ratio(targets["at_risk"].value, m["at_risk"])
    if "events.crisis.rate_per_year" in v:
        v["events.crisis.rate_per_year"] *= at_risk**0.6
    else:  # a structure with no crises: problems' links to one another make families at risk
        v["problems.adult_link_scale"] *= at_risk**0.3
    v["problems.child_link_scale"] *= _ratio(targets["stock"].value, m["stock"]) ** 0.6
    if "duration_child_in_need" in targets.names and math.isfinite(m.get("duration_child_in_need", math.nan)):
        key = "problems.child_in_need.duration_years"
        v[key] *= _ratio(targets["duration_child_in_need"].value, m["duration_child_in_need"]) ** 0.9
    f = _ratio(targets["persistence_1y"].value, m["persistence_1y"], 0.05) ** 1.5
    for name in PROBLEM_NAMES:
        key = f"problems.{name}.crisis_duration_years"
        if key in v:
            v[key] = min(v[key] * f, 20.0)
    return {key: _within_range(key, value) for key, value in v.items()}


def _within_range(key: str, value: float) -> float:
    """``value`` clipped to the parameter's registry range: a handle at its bound stays there."""
    p = PARAMETERS.get(key)
    lo = p.lo if p is not None and p.lo is not None else -math.inf
    hi = p.hi if p is not None and p.hi is not None else math.inf
    return float(min(max(value, lo), hi))


def handles(scenario: Scenario) -> list[str]:
    """The parameters the fit moves (all sourced ``calibrated``)."""
    keys = [f"problems.{n}.onset_rate_per_year" for n in PROBLEM_NAMES]
    crises = scenario.value("events.crisis.rate_per_year") > 0
    keys += ["problems.household_link_scale", "problems.child_link_scale", "problems.child_in_need.duration_years"]
    keys += ["events.crisis.rate_per_year"] if crises else ["problems.adult_link_scale"]
    keys += [f"problems.{n}.crisis_duration_years" for n in PROBLEM_NAMES if n not in CRISIS_SOURCED] if crises else []
    # The key worker's effects are not fitted: OSR14's before/after changes bound them (targets.toml), and their
    # values come from controlled evidence (the registry; their priors in calibration/ensemble.toml).
    return keys


@dataclass
class ProblemFit:
    run_id: str
    log_path: Path
    passes: list[dict]

    @property
    def best(self) -> dict:
        """The pass closest to the targets the handles move (the unfitted ones must not choose the pass)."""
        return min(self.passes, key=lambda e: e["fit_objective"])


def fit(
    scenario: Scenario,
    targets: Targets,
    runs_dir: Path,
    iterations: int | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> ProblemFit:
    """Fit model v2's calibrated parameters by fixed-point passes (resumable)."""
    keys = handles(scenario)
    base = survey_values(scenario, targets.scale)
    ident = json.dumps([scenario.sha256, targets.text_sha256, keys, model_digest()], sort_keys=True)
    run_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
    log_path = runs_dir / run_id / "passes.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    passes: list[dict] = []
    if log_path.exists():
        for line in log_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short when the fit was killed
            passes.append({**entry, "fit_objective": objective(entry["measures"], targets, fitted_only=True)})
    values = passes[-1]["next"] if passes else {k: float(scenario.value(k)) for k in keys}
    for n in range(len(passes), iterations or targets.iterations):
        m = evaluate(scenario, {**base, **values}, targets.seeds)
        entry = {
            "pass": n,
            "values": values,
            "measures": m,
            "objective": objective(m, targets),
            "fit_objective": objective(m, targets, fitted_only=True),
        }
        entry["next"] = step(values, m, targets)
        with log_path.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        passes.append(entry)
        values = entry["next"]
        if progress is not None:
            progress(n + 1, min(p["fit_objective"] for p in passes))
    return ProblemFit(run_id, log_path, passes)


def write_fitted(path: Path, result: ProblemFit, targets: Targets, scenario_label: str) -> None:
    """Write the best pass's values as the scenario file model v2's baseline extends.

    A fitted file that itself extends a scenario (an alternative structure's fit layered on the baseline) keeps
    its ``extends`` line.
    """
    best = result.best
    parent = _extends_of(path)
    lines = [
        "# Written by `flowsim calibrate`; do not edit by hand: re-run the calibration.",
        f"# Fitted to {targets.path} from {scenario_label}: pass {best['pass']}, objective {best['fit_objective']:.2f} "
        f"over the fitted targets ({best['objective']:.2f} with {' and '.join(UNFITTED)}).",
        f'calibrated_by = "flowsim calibrate run {result.run_id}, {dt.date.today().isoformat()}"',
        *([f"extends = {json.dumps(parent)}"] if parent else []),
        "",
    ]
    tables: dict[str, list[str]] = {}
    for key, value in best["values"].items():
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append(f"{leaf} = {float(f'{value:.6g}')!r}")
    for table, rows in tables.items():
        lines += [f"[{table}]", *rows, ""]
    atomic_write(path, "\n".join(lines))


def _extends_of(path: Path) -> str | None:
    try:
        parent = tomllib.loads(path.read_text()).get("extends")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return parent if isinstance(parent, str) else None


def replicate(scenario: Scenario, targets: Targets, seeds: list[int]) -> dict[str, tuple[float, float, float]]:
    """Each target's simulated mean and 95% interval over ``seeds`` (not the fitting seeds)."""
    trial = scenario.with_values(survey_values(scenario, targets.scale), origin="calibration report")
    runs = [problem_measures(engine.simulate(trial, seed=s)) for s in seeds]
    out = {}
    for t in targets.targets:
        x = np.array([r[t.name] for r in runs], float)
        m = mean_interval(x[np.isfinite(x)])
        out[t.name] = (m["mean"], m["lo"], m["hi"])
    return out


def write_report(out_dir: Path, targets: Targets, rows: dict, result: ProblemFit, seeds: list[int]) -> Path:
    """Write ``report.md`` and ``fit.png``: every target against the fit on unseen seeds."""
    lines = [
        "# Calibration report: model v2",
        "",
        f"Fit `{result.run_id}` against `{targets.path}`: {len(result.passes)} fixed-point passes, best at pass "
        f"{result.best['pass']} (objective {result.best['fit_objective']:.1f}, the sum of squared z-scores over the "
        f"fitted targets on the fitting seeds {list(targets.seeds)}; {result.best['objective']:.1f} with the unfitted "
        f"ones). The unfitted targets ({', '.join(UNFITTED)}) are predictions: no parameter is moved to meet them. "
        f"Below: {len(seeds)} replications the fit never saw (seeds {seeds[0]}-{seeds[-1]}), at scale "
        f"{targets.scale:g}, every family tracked; counts scaled to England.",
        "",
        "| target | value | sd | simulated mean | 95% interval | z | source |",
        "|---|---|---|---|---|---|---|",
    ]
    names, z, lo_z, hi_z = [], [], [], []
    for t in targets.targets:
        mean, lo, hi = rows[t.name]
        small = abs(t.value) < 10
        fmt = (lambda v: f"{v:,.3f}") if small else (lambda v: f"{v:,.0f}")
        bound = " (at least)" if t.bound == "lower" else ""
        lines.append(
            f"| {t.name}{' (not fitted)' if t.name in UNFITTED else ''} | {fmt(t.value)}{bound} | {fmt(t.sd)} | {fmt(mean)} | {fmt(lo)} – {fmt(hi)} | "
            f"{t.z(mean):+.2f} | {t.source} |"
        )
        names.append(t.name)
        z.append(t.z(mean))
        lo_z.append(t.z(lo))
        hi_z.append(t.z(hi))
    fitted = charts.fit(names, z, lo_z, hi_z, UNFITTED, scale=targets.scale, replications=len(seeds))
    save_png(fitted, out_dir / "fit.png", dpi=150)
    lines += ["", "![fit](fit.png)", "", "## Fitted values", "", "| parameter | value |", "|---|---|"]
    lines += [f"| `{k}` | {v:.6g} |" for k, v in result.best["values"].items()]
    path = out_dir / "report.md"
    ensemble = ""  # the history matching's section, kept (it is rewritten only by the history matching)
    if path.exists() and ENSEMBLE_SECTION in (old := path.read_text()):
        ensemble = "\n" + ENSEMBLE_SECTION + old.split(ENSEMBLE_SECTION, 1)[1]
    return atomic_write(path, "\n".join(lines) + "\n" + ensemble)
