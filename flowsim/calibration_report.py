"""The calibration report: targets against simulated with replication intervals, the fit chart, the objective's path."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from flowsim.calibrate import Fit, Targets, evaluate, survey_overrides
from flowsim.scenario import load_scenario


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean over replications, as a (mean, lo, hi) tuple."""
    from flowsim.replications import mean_interval

    m = mean_interval(values)
    return m["mean"], m["lo"], m["hi"]


def replicate(
    scenario_path: str | Path, targets: Targets, seeds: list[int], overrides: list[str] | None = None
) -> dict:
    """Each target's simulated mean and 95% interval over ``seeds`` (not the fitting seeds)."""
    scenario = load_scenario(scenario_path, overrides or [])
    measures = evaluate(scenario_path, list(overrides or []) + survey_overrides(scenario, targets.scale), {}, seeds)
    return {t.name: interval(measures[t.name]) for t in targets.targets}


def write_report(
    out_dir: Path, targets: Targets, rows: dict, fit_result: Fit | None, seeds: list[int], scenario_path: str | Path
) -> Path:
    """Write report.md, fit.png, objective.png and objective_path.csv under ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Calibration report",
        "",
        f"Scenario `{scenario_path}` against `{targets.path}`. Each target is simulated over the survey window "
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
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 2.0))
    y = np.arange(len(names))[::-1]
    ax.axvspan(-1, 1, color="#dddddd", label="within tolerance")
    ax.errorbar(
        z,
        y,
        xerr=[np.subtract(z, lo_z), np.subtract(hi_z, z)],
        fmt="o",
        color="#0072B2",
        capsize=3,
        label="simulated mean, 95% interval",
    )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel("(simulated - target) / tolerance")
    ax.set_title("Calibration: simulated moments against the seed targets")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(out_dir / "fit.png", dpi=150)
    plt.close(fig)
    lines += ["", "![fit](fit.png)", ""]
    if fit_result is not None and fit_result.evaluations:
        obj = [e["objective"] for e in fit_result.evaluations]
        with (out_dir / "objective_path.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["evaluation", "objective", "best_so_far", *fit_result.keys])
            best = math.inf
            for i, e in enumerate(fit_result.evaluations, start=1):
                best = min(best, e["objective"])
                w.writerow([i, e["objective"], best, *(e["values"][k] for k in fit_result.keys)])
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(np.arange(1, len(obj) + 1), obj, ".", ms=3, color="#999999", label="evaluation")
        ax.plot(np.arange(1, len(obj) + 1), np.minimum.accumulate(obj), color="#D55E00", label="best so far")
        ax.set_yscale("log")
        ax.set_xlabel("evaluation")
        ax.set_ylabel("objective (sum of squared z-scores)")
        ax.set_title("Calibration: the path of the objective (Nelder-Mead)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "objective.png", dpi=150)
        plt.close(fig)
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
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
