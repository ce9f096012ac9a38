"""Calibration: targets with their uncertainty, the point fit, the ensemble (history matching), and their reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flowsim.calibrate.fit import Fit, calibrated_parameters, evaluate, fit, survey_values, write_fitted
from flowsim.calibrate.report import replicate, write_report
from flowsim.calibrate.targets import Target, Targets, TargetsError, load_targets
from flowsim.scenario import Scenario

__all__ = [
    "Fit",
    "Target",
    "Targets",
    "TargetsError",
    "calibrate",
    "calibrate_ensemble",
    "calibrated_parameters",
    "evaluate",
    "fit",
    "load_targets",
    "replicate",
    "survey_values",
    "write_fitted",
    "write_report",
]


def calibrate(
    scenario: Scenario,
    targets_path: Path,
    out: Path,
    max_evaluations: int | None = None,
    report_seeds: int = 5,
    progress: Callable[[int, float], None] | None = None,
) -> dict:
    """Fit, write the fitted file ``out`` and a report beside it over unseen seeds (1001...); return what was found.

    Model v2 (``model.structure = "problems"``) is fitted by fixed-point passes to its targets
    (``flowsim.calibrate.problems``); the ladder model by Nelder-Mead. The document has ``run_id``,
    ``objective``, ``evaluations`` (passes), ``report`` (its path) and ``outside_tolerance``
    (targets the unseen seeds' mean misses by more than the stated uncertainty).

    Raises:
        TargetsError: if the targets file cannot be used.
    """
    seeds = list(range(1001, 1001 + report_seeds))
    if scenario.value("model.structure") == "problems":
        from flowsim.calibrate import problems

        ptargets = problems.load_problem_targets(targets_path)
        presult = problems.fit(scenario, ptargets, out.parent / "runs", max_evaluations, progress)
        problems.write_fitted(out, presult, ptargets, scenario.path or scenario.name)
        best = presult.best
        rows = problems.replicate(scenario.with_values(best["values"], origin="calibration"), ptargets, seeds)
        report = problems.write_report(out.parent, ptargets, rows, presult, seeds)
        return {
            "run_id": presult.run_id,
            "objective": best["fit_objective"],
            "evaluations": len(presult.passes),
            "report": str(report),
            "outside_tolerance": [t.name for t in ptargets.targets if abs(t.z(rows[t.name][0])) > 1.0],
        }
    targets = load_targets(targets_path)
    result = fit(scenario, targets, out.parent / "runs", max_evaluations or targets.max_evaluations, progress)
    write_fitted(out, result, targets, scenario.path or scenario.name)
    best = result.best
    rows = replicate(scenario.with_values(best["values"], origin="calibration"), targets, seeds)
    report = write_report(out.parent, targets, rows, result, seeds, scenario.path or scenario.name)
    return {
        "run_id": result.run_id,
        "objective": best["objective"],
        "evaluations": len(result.evaluations),
        "report": str(report),
        "outside_tolerance": [t.name for t in targets.targets if abs(rows[t.name][0] - t.value) > t.tolerance],
    }


#: Members re-run on unseen seeds for the report (drawn at random, the same every time).
UNSEEN_CHECKS = 20


def calibrate_ensemble(
    scenario: Scenario,
    targets_path: Path,
    design_path: Path,
    out_dir: Path,
    executor,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict:
    """History-match model v2 (resumable); write the ensemble, every run and the report's ensemble section.

    Returns ``run_id``, ``members``, ``runs``, ``seconds``, ``path`` (the ensemble), ``report``, ``cutoff``,
    and ``unseen`` / ``unseen_met``: members re-run on unseen seeds, and how many still meet every fitted target.

    Raises:
        TargetsError: if the targets or the design file cannot be used.
    """
    import numpy as np

    from flowsim.calibrate import ensemble_report, problems
    from flowsim.calibrate.ensemble import history_match, load_design

    targets = problems.load_problem_targets(targets_path)
    design = load_design(design_path, scenario)
    result = history_match(scenario, targets, design, out_dir / "runs", executor, progress)
    path = ensemble_report.write_ensemble(result, out_dir)
    rng = np.random.default_rng(design.seed)
    rows = sorted(rng.choice(len(result.members), size=min(UNSEEN_CHECKS, len(result.members)), replace=False))
    checks = ensemble_report.unseen(result, scenario, [int(r) for r in rows], executor)
    report = ensemble_report.write_report(result, out_dir, checks)
    return {
        "run_id": result.run_id,
        "members": len(result.members),
        "runs": len(result.runs) + design.noise_seeds,
        "seconds": result.seconds,
        "path": str(path),
        "report": str(report),
        "cutoff": design.cutoff,
        "unseen": len(checks),
        "unseen_met": sum(c["implausibility"] <= design.cutoff for c in checks),
    }
