"""Run a sweep: every design row x replication, skipping runs already in the store.

Each task carries its resolved :class:`~flowsim.scenario.Scenario`, so a
worker (a local process or a Dask worker on another machine) needs no
scenario files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flowsim import __version__
from flowsim.measures import SWEEP, get, has, used_in
from flowsim.sweep.designs import design_rows
from flowsim.sweep.spec import SweepSpec
from flowsim.sweep.store import RunStore, run_id


def run_point(task: dict) -> dict:
    """One run (module-level so process pools and Dask can pickle it): returns its result row."""
    from flowsim.replications import run_replication

    scenario = task["scenario"]
    record = run_replication(scenario, task["seed"], task["replication"], tables=False)
    summ = record["summary"]
    row = {
        "run_id": task["run_id"],
        "design_point": task["design_point"],
        "replication": task["replication"],
        "seed": task["seed"],
        **task["row"],
    }
    for m in used_in(SWEEP):
        if has(summ, m.key):
            v = get(summ, m.key)
            row[m.column] = float(v) if not isinstance(v, bool) else v
    row["scenario_sha256"] = scenario.sha256
    return row


def plan(spec: SweepSpec) -> list[dict]:
    """Every run of the sweep, in order, with its deterministic id and its scenario."""
    tasks = []
    for i, row in enumerate(design_rows(spec)):
        scenario = spec.scenario_for(row)
        sha = scenario.sha256
        for r in range(spec.replications):
            tasks.append(
                {
                    "scenario": scenario,
                    "row": row,
                    "design_point": i,
                    "replication": r,
                    "seed": spec.seed,
                    "run_id": run_id(sha, row, spec.seed, r),
                }
            )
    return tasks


def run_sweep(spec: SweepSpec, out_dir: Path, executor, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run every missing run of ``spec`` into ``out_dir``; return counts (total, skipped, run)."""
    store = RunStore(out_dir)
    tasks = plan(spec)
    store.write_manifest(
        {
            "sweep_file": spec.path,
            "name": spec.name,
            "base": spec.base,
            "design": spec.design,
            "replications": spec.replications,
            "seed": spec.seed,
            "overrides": list(spec.overrides),
            "parameters": [p.key for p in spec.parameters],
            "flowsim_version": __version__,
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "runs": [{k: t[k] for k in ("run_id", "design_point", "replication", "row")} for t in tasks],
        }
    )
    done = store.done()
    # Identical design rows (Morris trajectories revisit points) are the same run: run it once.
    pending = list({t["run_id"]: t for t in tasks if t["run_id"] not in done}.values())
    unique = len({t["run_id"] for t in tasks})
    finished = unique - len(pending)
    if progress is not None:
        progress(finished, unique)
    for task, row in executor.run(run_point, pending):
        store.write(task["run_id"], row)
        finished += 1
        if progress is not None:
            progress(finished, unique)
    return {"total": unique, "skipped": unique - len(pending), "run": len(pending)}
