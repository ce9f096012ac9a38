"""Run a sweep: every design row x replication, skipping runs already in the store, planned lazily.

Each task carries its resolved :class:`~flowsim.scenario.Scenario`, so a
worker (a local process or a Dask worker on another machine) needs no
scenario files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from flowsim import __version__
from flowsim.errors import Interrupted
from flowsim.measures import SWEEP, get, has, used_in
from flowsim.plan import Plan, count, estimate_seconds
from flowsim.replications import run_replication, run_shared_replication
from flowsim.sweep.designs import design_rows, distinct_rows, iter_design_rows
from flowsim.sweep.spec import SweepSpec
from flowsim.sweep.store import RunStore, run_id

#: Runs of one replication at up to this many consecutive design points are simulated together, sharing their
#: common past where the scenarios allow it (model v2; ``flowsim.engine.simulation.simulate_shared``).
SHARE_POINTS = 8


def run_point(task: dict) -> dict:
    """One run (module-level so process pools and Dask can pickle it): returns its result row."""
    record = run_replication(
        task["scenario"], task["seed"], task["replication"], tables=False, counterfactual=task["counterfactual"]
    )
    return _row(task, record)


def run_group(group: dict) -> list[dict]:
    """Runs of one replication at several design points (``group["runs"]``): their common past simulated once
    where the scenarios can share it, else one by one. Each run's row, in order; bit for bit the same either way."""
    runs = group["runs"]
    if len(runs) > 1:
        first = runs[0]
        scenarios = [t["scenario"] for t in runs]
        records = run_shared_replication(
            scenarios,
            first["seed"],
            first["replication"],
            keep_waits=False,
            tables=False,
            counterfactual=first["counterfactual"],
        )
        if records is not None:
            return [_row(t, r) for t, r in zip(runs, records, strict=True)]
    return [run_point(t) for t in runs]


def _row(task: dict, record: dict) -> dict:
    summ = record.summary
    row = {
        "run_id": task["run_id"],
        "design_point": task["design_point"],
        "replication": task["replication"],
        "seed": task["seed"],
        **task["row"],
    }
    keep = task["measures"]
    for m in used_in(SWEEP):
        if has(summ, m.key) and (not keep or m.column in keep):
            v = get(summ, m.key)
            row[m.column] = float(v) if not isinstance(v, bool) else v
    row["scenario_sha256"] = task["scenario"].sha256
    return row


def groups(tasks: Iterator[dict], points: int = SHARE_POINTS) -> Iterator[dict]:
    """Pending runs gathered, a window of ``points`` consecutive design points at a time, into one group per
    replication (lazy: a window is formed only when it is reached)."""
    window: list[dict] = []
    seen: set[int] = set()

    def flush() -> Iterator[dict]:
        by_replication: dict[int, list[dict]] = {}
        for t in window:
            by_replication.setdefault(t["replication"], []).append(t)
        for runs in by_replication.values():
            yield {"runs": runs}

    for task in tasks:
        if task["design_point"] not in seen and len(seen) == points:
            yield from flush()
            window, seen = [], set()
        window.append(task)
        seen.add(task["design_point"])
    yield from flush()


def _task(spec: SweepSpec, scenario, sha: str, row: dict, point: int, replication: int) -> dict:
    return {
        "scenario": scenario,
        "row": row,
        "design_point": point,
        "replication": replication,
        "seed": spec.seed,
        "run_id": run_id(sha, row, spec.seed, replication),
        "counterfactual": spec.counterfactual,
        "measures": spec.measures,
    }


def iter_plan(spec: SweepSpec) -> Iterator[dict]:
    """The sweep's distinct runs, one at a time, each with its deterministic id and its scenario.

    Lazy: a row's scenario is made only when its runs are reached, so a sweep
    of millions of runs starts at once. A repeated design row (Morris
    trajectories revisit points) is the same runs, planned once, under the
    design point where it first appears.
    """
    seen: set[tuple[float, ...]] = set()
    for point, row in enumerate(iter_design_rows(spec)):
        key = tuple(row.values())
        if key in seen:
            continue
        seen.add(key)
        scenario = spec.scenario_for(row)
        sha = scenario.sha256
        for r in range(spec.replications):
            if spec.members:  # each parameter set of the ensemble is its own scenario
                run = spec.scenario_of_run(scenario, row, r)
                yield _task(spec, run, run.sha256, row, point, r)
            else:
                yield _task(spec, scenario, sha, row, point, r)


def count_runs(spec: SweepSpec) -> int:
    """How many distinct runs the sweep has, without planning them."""
    return distinct_rows(spec) * spec.replications


def plan(spec: SweepSpec) -> list[dict]:
    """Every run of every design row, repeated rows included, in order (sensitivity maps rows to runs with it)."""
    tasks = []
    made: dict[tuple[float, ...], tuple] = {}
    for point, row in enumerate(design_rows(spec)):
        key = tuple(row.values())
        if key not in made:
            scenario = spec.scenario_for(row)
            made[key] = (scenario, scenario.sha256)
        for r in range(spec.replications):
            if spec.members:
                run = spec.scenario_of_run(made[key][0], row, r)
                tasks.append(_task(spec, run, run.sha256, row, point, r))
            else:
                tasks.append(_task(spec, *made[key], row, point, r))
    return tasks


def sweep_plan(spec: SweepSpec, out_dir: Path | None, jobs: int | None) -> Plan:
    """The plan to show before running: its runs, how many a store at ``out_dir`` already holds, and the time."""
    runs = count_runs(spec)
    done = RunStore.count(out_dir, spec.sha256) if out_dir is not None else 0
    return Plan(runs, _seconds(spec), jobs or os.cpu_count() or 1, _what(spec), min(done, runs))


def _seconds(spec: SweepSpec) -> float:
    """Estimated seconds a run takes on one core, without its counterfactual if it needs none."""
    return estimate_seconds(spec.scenario, spec.counterfactual)


def _what(spec: SweepSpec) -> str:
    """'4 design points x 2 replications', or with an ensemble '... x 25 parameter sets x 2 replications'; and
    'without counterfactuals' when no measure it keeps needs them."""
    lean = "" if spec.counterfactual else "; without counterfactuals: no measure kept needs one"
    if spec.members:
        sets = len(spec.members)
        return (
            f"{count(distinct_rows(spec), 'design point')} x {sets} parameter sets of {spec.ensemble_file} (one "
            f"structure's ensemble: a sweep does not pool structures) x {count(spec.replications // sets, 'replication')}"
            f"{lean}"
        )
    return f"{count(distinct_rows(spec), 'design point')} x {count(spec.replications, 'replication')}{lean}"


def run_sweep(
    spec: SweepSpec,
    out_dir: Path,
    executor,
    progress: Callable[[int, int], None] | None = None,
    before: Callable[[Plan], None] | None = None,
    share: bool = True,
) -> dict:
    """Run every missing run of ``spec`` into ``out_dir``; return counts (total, skipped, run).

    ``share``: runs of one replication at neighbouring design points simulate their common past once (the
    same rows; ``False`` runs every run on its own, for timing and checking).

    The store is locked while the sweep runs and records the sweep's hash;
    each finished run is kept as it arrives. ``before`` is called with the
    plan (runs, those already done, the estimated time) once the store is
    open, before anything runs; it may raise to stop.

    Raises:
        StoreError: if another flowsim holds the store, or it holds another sweep's runs.
        Interrupted: on KeyboardInterrupt (Ctrl-C, or SIGTERM through the command line), saying what is kept.
    """
    total = count_runs(spec)
    with RunStore(out_dir, spec.sha256) as store:
        done = store.done()
        if before is not None:
            before(Plan(total, _seconds(spec), executor.jobs, _what(spec), len(done)))
        store.write_manifest(
            {
                "sweep_file": spec.path,
                "name": spec.name,
                "base": spec.base,
                "overrides": list(spec.overrides),
                "parameters": [p.key for p in spec.parameters],
                "measures": list(spec.measures) or "every sweep measure",
                "counterfactuals": spec.counterfactual,
                "sweep_sha256": spec.sha256,
                "sweep": spec.describe(),
                "design_points": distinct_rows(spec),
                "runs_planned": total,
                "flowsim_version": __version__,
                "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
        pending = (t for t in iter_plan(spec) if t["run_id"] not in done)
        finished = len(done)
        if progress is not None:
            progress(finished, total)
        # Windows small enough that every worker gets four groups (steady progress, little lost to a kill), large
        # enough to share (at most SHARE_POINTS design points).
        window = max(1, min(SHARE_POINTS, (total - finished) // (4 * max(executor.jobs, 1)))) if share else 1
        results = executor.run(run_group, groups(pending, window), size=total - finished)
        try:
            for group, rows in results:
                for task, row in zip(group["runs"], rows, strict=True):
                    store.write(task["run_id"], row)
                    finished += 1
                if progress is not None:
                    progress(finished, total)
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted: {finished:,} of {total:,} runs are finished and kept in {out_dir}; "
                "run the same command again to resume"
            ) from None
        finally:
            getattr(results, "close", lambda: None)()  # stop the workers now, whatever ended the loop
    return {"total": total, "skipped": len(done), "run": finished - len(done)}
