"""The calibration report: targets against simulated with replication intervals, the fit chart, the objective's path."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from flowsim.calibrate.fit import Fit, evaluate, survey_values
from flowsim.calibrate.targets import Targets
from flowsim.files import atomic_write
from flowsim.scenario import Scenario
from flowsim.statistics import mean_interval


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean over replications, as a (mean, lo, hi) tuple."""
    m = mean_interval(values)
    return m["mean"], m["lo"], m["hi"]


def replicate(scenario: Scenario, targets: Targets, seeds: list[int]) -> dict:
    """Each target's simulated mean and 95% interval over ``seeds`` (not the fitting seeds)."""
    survey = scenario.with_values(survey_values(scenario, targets.scale), origin="calibration survey window")
    measures = evaluate(survey, {}, seeds)
    return {t.name: interval(measures[t.name]) for t in targets.targets}


def write_report(
    out_dir: Path, targets: Targets, rows: dict, fit_result: Fit | None, seeds: list[int], scenario_label: str
) -> Path:
    """Write report.md, fit.png, objective.png and objective_path.csv under ``out_dir``."""
    from flowsim.charts import calibration as charts
    from flowsim.charts.common import save_png

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Calibration report",
        "",
        f"Scenario `{scenario_label}` against `{targets.path}`. Each target is simulated over the survey window "
        f"(six yearly waves, no new policy) at scale {targets.scale:g}, for {len(seeds)} replications "
        f"(seeds {seeds[0]}-{seeds[-1]}, not the fitting seeds {list(targets.seeds)}); counts are scaled to England.",
        "",
        "| target | value | tolerance | simulated mean | 95% interval | within tolerance | source |",
        "|---|---|---|---|---|---|---|",
    ]
    names, z, lo_z, hi_z = [], [], [], []
    for t in targets.targets:
        mean, lo, hi = rows[t.name]
        ok = abs(mean - t.value) <= t.tolerance
        fmt = (lambda v: f"{v:,.3f}") if abs(t.value) < 10 and t.tolerance < 1 else (lambda v: f"{v:,.0f}")
        lines.append(
            f"| {t.name} | {fmt(t.value)} | ±{fmt(t.tolerance)} | {fmt(mean)} | {fmt(lo)} – {fmt(hi)} | "
            f"{'yes' if ok else '**no**'} | {t.source} |"
        )
        names.append(t.name)
        z.append((mean - t.value) / t.tolerance)
        lo_z.append((lo - t.value) / t.tolerance)
        hi_z.append((hi - t.value) / t.tolerance)
    save_png(charts.fit(names, z, lo_z, hi_z), out_dir / "fit.png", dpi=150)
    lines += ["", "![fit](fit.png)", ""]
    if fit_result is not None and fit_result.evaluations:
        obj = [e["objective"] for e in fit_result.evaluations]
        _write_objective_path(out_dir / "objective_path.csv", fit_result)
        save_png(charts.objective_path(obj), out_dir / "objective.png", dpi=150)
        b = fit_result.best
        lines += [
            f"## The fit (run `{fit_result.run_id}`)",
            "",
            f"{len(obj)} evaluations; objective {obj[0]:.2f} at the start, {b['objective']:.3f} at the best. "
            "The whole path is in `objective_path.csv`.",
            "",
            "![objective](objective.png)",
            "",
            "| parameter | fitted value |",
            "|---|---|",
            *(f"| `{k}` | {b['values'][k]:g} |" for k in fit_result.keys),
            "",
        ]
    return atomic_write(out_dir / "report.md", "\n".join(lines))


def _write_objective_path(path: Path, fit_result: Fit) -> None:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["evaluation", "objective", "best_so_far", *fit_result.keys])
    best = math.inf
    for i, e in enumerate(fit_result.evaluations, start=1):
        best = min(best, e["objective"])
        w.writerow([i, e["objective"], best, *(e["values"][k] for k in fit_result.keys)])
    atomic_write(path, out.getvalue())
