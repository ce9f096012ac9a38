"""Calibration: targets with their uncertainty, the point fit, the ensemble (history matching, then the posterior), and
their reports."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flowsim.calibrate import point_fit, posterior, posterior_report, report
from flowsim.calibrate.design import load_design
from flowsim.calibrate.history_matching import history_match
from flowsim.calibrate.targets import Target, Targets, TargetsError, load_targets
from flowsim.scenario import Scenario

__all__ = [
    "Target",
    "Targets",
    "TargetsError",
    "calibrate",
    "calibrate_ensemble",
    "calibrate_posterior",
    "load_targets",
]

#: Members re-run on unseen seeds for the report (drawn at random, the same every time).
UNSEEN_CHECKS = 20


def calibrate(
    scenario: Scenario,
    targets_path: Path,
    out: Path,
    max_evaluations: int | None = None,
    report_seeds: int = 5,
    progress: Callable[[int, float], None] | None = None,
) -> dict:
    """Fit by fixed-point passes (:mod:`flowsim.calibrate.point_fit`), write the fitted file ``out`` and a report
    beside it over unseen seeds (1001...); return what was found.

    The document has ``run_id``, ``objective``, ``evaluations`` (passes), ``report`` (its path) and
    ``outside_tolerance`` (targets the unseen seeds' mean misses by more than one sd).

    Raises:
        TargetsError: if the targets file cannot be used.
    """
    seeds = list(range(1001, 1001 + report_seeds))
    targets = load_targets(targets_path)
    result = point_fit.fit(scenario, targets, out.parent / "runs", max_evaluations, progress)
    point_fit.write_fitted(out, result, targets, scenario.path or scenario.name)
    best = result.best
    rows = point_fit.replicate(scenario.with_values(best["values"], origin="calibration"), targets, seeds)
    path = point_fit.write_report(out.parent, targets, rows, result, seeds)
    return {
        "run_id": result.run_id,
        "objective": best["fit_objective"],
        "evaluations": len(result.passes),
        "report": str(path),
        "fitted": str(out),
        "outside_tolerance": [t.name for t in targets.targets if abs(t.z(rows[t.name][0])) > 1.0],
    }


def shown_path(scenario: Scenario) -> str:
    """The scenario file as a report names it: relative to the working directory, without ``..`` detours."""
    return os.path.relpath(os.path.normpath(scenario.path)) if scenario.path else "SCENARIO"


def calibrate_ensemble(
    scenario: Scenario,
    targets_path: Path,
    design_path: Path,
    out_dir: Path,
    executor,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """History-match (resumable); write the ensemble, every run and the report's ensemble section.

    Returns ``run_id``, ``members``, ``runs``, ``seconds``, ``path`` (the ensemble), ``report``, ``cutoff``,
    and ``unseen`` / ``unseen_met``: members re-run on unseen seeds, and how many still meet every fitted target.

    Raises:
        TargetsError: if the targets or the design file cannot be used.
    """
    targets = load_targets(targets_path)
    design = load_design(design_path, scenario)
    result = history_match(scenario, targets, design, out_dir / "runs", executor, progress)
    path = report.write_ensemble(result, out_dir)
    rng = np.random.default_rng(design.seed)
    rows = sorted(rng.choice(len(result.members), size=min(UNSEEN_CHECKS, len(result.members)), replace=False))
    checks = report.unseen(result, scenario, [int(r) for r in rows], executor)
    doc = report.write_report(result, out_dir, checks, shown_path(scenario))
    from flowsim.calibrate import structures_report  # here: it also runs alone, as a module

    unrestated = structures_report.refresh_for(scenario, out_dir)  # every structure's report restates every ensemble
    return {
        "run_id": result.run_id,
        "members": len(result.members),
        "runs": len(result.runs) + design.noise_seeds,
        "seconds": result.seconds,
        "path": str(path),
        "report": str(doc),
        "cutoff": design.cutoff,
        "unseen": len(checks),
        "unseen_met": sum(c["implausibility"] <= design.cutoff for c in checks),
        **({"note": unrestated} if unrestated else {}),
    }


def calibrate_posterior(
    scenario: Scenario,
    targets_path: Path,
    design_path: Path,
    out_dir: Path,
    executor,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[str]:
    """Weight history matching's space by sourced priors and a joint likelihood (resumable); write the weighted
    ensemble and the report's posterior section; return what the command line prints.

    Raises:
        TargetsError: if the targets, the design or history matching's runs (in ``out_dir``) cannot be used.
    """
    targets = load_targets(targets_path)
    design = load_design(design_path, scenario)
    history = posterior.load_history(out_dir)
    sim = scenario.with_values(point_fit.survey_values(scenario, design.scale), origin="posterior")
    result = posterior.posterior(sim, targets, design, history, out_dir / "runs", executor, progress)
    point = {k: float(scenario.value(k)) for p in design.priors for k in p.keys}
    path = posterior_report.write_posterior(result, out_dir, point)
    doc = posterior_report.write_report(result, out_dir, shown_path(scenario))
    from flowsim.calibrate import structures_report  # here: it also runs alone, as a module

    unrestated = structures_report.refresh_for(scenario, out_dir)  # every structure's report restates every ensemble
    return posterior_report.describe(result, path, doc) + ([f"  {unrestated}"] if unrestated else [])


def describe(doc: dict) -> list[str]:
    """The point fit's answer, as the command line prints it."""
    misses = doc["outside_tolerance"]
    return [
        f"Calibration run {doc['run_id']}: objective {doc['objective']:.3f} after {doc['evaluations']} passes; "
        f"fitted values in {doc['fitted']}",
        f"  report: {doc['report']}"
        + (f"; outside tolerance: {', '.join(misses)}" if misses else "; every target within tolerance"),
    ]


def describe_ensemble(doc: dict) -> list[str]:
    """The history matching's answer, as the command line prints it."""
    return [
        f"History matching run {doc['run_id']}: {doc['members']} parameter sets not ruled out "
        f"(the ensemble, {doc['path']}), from {doc['runs']:,} runs in {doc['seconds'] / 60:.1f} min",
        f"  on unseen seeds {doc['unseen_met']} of {doc['unseen']} members drawn at random meet every fitted "
        f"target within {doc['cutoff']:g} total sds; report: {doc['report']}",
    ] + ([f"  {doc['note']}"] if doc.get("note") else [])
