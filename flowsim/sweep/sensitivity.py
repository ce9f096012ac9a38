"""Sensitivity analysis over a sweep file's ranges: Sobol (Saltelli design) or Morris indices, with SALib."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flowsim import __version__
from flowsim.charts import ChartMeta, save
from flowsim.charts.sweep import tornado
from flowsim.errors import FlowsimError
from flowsim.files import atomic_write
from flowsim.measures import BY_COLUMN, INDICES, used_in
from flowsim.sweep.designs import design_rows, morris_problem
from flowsim.sweep.run import plan, run_sweep
from flowsim.sweep.spec import SweepSpec
from flowsim.sweep.store import sweep_table

METHODS = ("sobol", "morris")


def sensitivity_indices(spec: SweepSpec, table, method: str) -> dict[str, dict]:
    """Sobol (first and total order) or Morris (mu*, sigma) indices of each outcome, from each design row's mean.

    Rows are matched to runs by run id, since identical rows share their runs.
    """
    problem = morris_problem(spec)
    by_id = table.set_index("run_id")
    tasks = plan(spec)
    n_rows = max(t["design_point"] for t in tasks) + 1
    ids: list[list[str]] = [[] for _ in range(n_rows)]
    for t in tasks:
        ids[t["design_point"]].append(t["run_id"])
    out = {}
    for outcome in (m.column for m in used_in(INDICES)):
        if outcome not in table.columns or table[outcome].isna().all():
            continue  # not measured in this sweep (payment by results switched off)
        y = np.array([by_id.loc[row_ids, outcome].astype(float).mean() for row_ids in ids])
        if method == "sobol":
            from SALib.analyze import sobol  # import time: SALib loads only for designs and indices

            res = sobol.analyze(problem, y, calc_second_order=False, seed=spec.seed)
            out[outcome] = {
                k: {
                    "S1": float(res["S1"][i]),
                    "S1_conf": float(res["S1_conf"][i]),
                    "ST": float(res["ST"][i]),
                    "ST_conf": float(res["ST_conf"][i]),
                }
                for i, k in enumerate(problem["names"])
            }
        else:
            from SALib.analyze import morris  # import time: SALib loads only for designs and indices
            from SALib.sample import morris as morris_sample  # import time: SALib loads only for designs and indices

            x = morris_sample.sample(problem, spec.points, num_levels=spec.morris_levels, seed=spec.seed)
            res = morris.analyze(problem, x, y, num_levels=spec.morris_levels, seed=spec.seed)
            out[outcome] = {
                k: {
                    "mu_star": float(res["mu_star"][i]),
                    "mu_star_conf": float(res["mu_star_conf"][i]),
                    "sigma": float(res["sigma"][i]),
                }
                for i, k in enumerate(problem["names"])
            }
    return out


def sensitivity_spec(spec: SweepSpec, method: str, points: int | None = None) -> SweepSpec:
    """The sweep ``method`` runs over ``spec``'s ranges: a Saltelli design for Sobol indices, or Morris trajectories.

    Raises:
        FlowsimError: if a parameter has no range or the method is unknown.
    """
    if method not in METHODS:
        raise FlowsimError(f"sensitivity method: expected one of {', '.join(METHODS)}, found {method!r}")
    if any(p.low is None for p in spec.parameters):
        raise FlowsimError(f"{spec.path}: sensitivity needs range = [low, high] for every parameter")
    return dataclasses.replace(spec, design="saltelli" if method == "sobol" else "morris", points=points or spec.points)


def run_sensitivity(
    spec: SweepSpec,
    method: str,
    out_dir: Path,
    executor,
    points: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    before: Callable | None = None,
) -> dict:
    """Run the design ``method`` needs over ``spec``'s ranges, analyse it, write ``sensitivity.json`` and ``tornado``.

    Returns the document written: method, design rows, replications, runs, the indices
    and, per outcome, the parameter it depends on most.

    Raises:
        FlowsimError: if a parameter has no range or the method is unknown.
    """
    spec = sensitivity_spec(spec, method, points)
    counts = run_sweep(spec, out_dir, executor, progress, before)
    table = sweep_table(out_dir)
    indices = sensitivity_indices(spec, table, method)
    key = "ST" if method == "sobol" else "mu_star"
    doc = {
        "method": method,
        "design_rows": len(design_rows(spec)),
        "replications": spec.replications,
        "runs": counts["total"],
        "indices": indices,
        "index": key,
        "most_influential": {o: max(rows.items(), key=lambda kv: kv[1][key])[0] for o, rows in indices.items()},
    }
    atomic_write(out_dir / "sensitivity.json", json.dumps(doc, indent=2) + "\n")
    scale = float(spec.scenario.value("population.scale"))
    meta = ChartMeta(spec.name, str(table["scenario_sha256"].iloc[0]), spec.replications, __version__, scale)
    outcome = "additional_turned_around" if "additional_turned_around" in indices else "turned_around"  # caused first
    save(tornado(indices, method, meta, outcome, BY_COLUMN[outcome].label), out_dir / "tornado")
    return doc


def describe(doc: dict, method: str) -> list[str]:
    """The answer in a line, then each outcome's indices, one line each."""
    key = doc["index"]
    # What the programmes cause leads (families turned around because of them), when the sweep measured it.
    lead = "additional_turned_around" if "additional_turned_around" in doc["most_influential"] else "turned_around"
    what = "families turned around because of the programmes" if lead != "turned_around" else "families turned around"
    top = doc["most_influential"][lead]
    lines = [
        f"Sensitivity ({method}, {doc['runs']} runs): {what} depend most on {top} "
        f"({key} {doc['indices'][lead][top][key]:.3g})"
    ]
    for outcome, rows in doc["indices"].items():
        lines.append(f"  {outcome}: " + ", ".join(f"{k} {v[key]:.3g}" for k, v in rows.items()))
    return lines
