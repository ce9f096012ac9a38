"""Running a scenario into a run directory: simulate, summarise, write the directory whole, draw its documents.

The one place the run path meets the documents: :mod:`flowsim.rundir` writes and reads a run directory and knows
nothing of how it was simulated or how it is drawn.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flowsim import structures
from flowsim.ensemble import EnsemblePlan
from flowsim.files import claimed, staged_dir
from flowsim.replications import point_fit_replications, run_ensemble, run_point_fit, run_replication, run_replications
from flowsim.rundir import check_out, write_run
from flowsim.structures import StructuresPlan
from flowsim.summary import point_fit_summary, summarise, summarise_ensemble, summarise_structures


def run_scenario(
    scenario,
    out_dir: Path,
    seed: int = 1,
    replications: int = 1,
    jobs: int | None = None,
    progress=None,
    argv: list[str] | None = None,
    csv: bool = False,
    documents: bool = False,
    ensemble: EnsemblePlan | StructuresPlan | None = None,
    replace_added: bool = False,
    council: str | None = None,
) -> dict:
    """Simulate ``scenario`` and write its run directory whole; return the run's summary.

    ``out_dir`` is checked before simulating (:func:`~flowsim.rundir.check_out`) and held from then until the
    run is written (:func:`~flowsim.files.claimed`): a second run into it meanwhile is refused. The run (and, with ``documents``,
    its charts, ``report.html`` and ``brief.pdf``) is written into a fresh
    directory beside ``out_dir`` and swapped in whole, so nothing of an
    earlier run in ``out_dir`` survives, and a run killed at any point leaves
    the old run or the new one. Then the ``index.html`` of the folder holding
    ``out_dir`` is rebuilt (:func:`~flowsim.report.index.rebuild_index`; a
    failure there only warns).

    Args:
        replications: 1 runs the seed's own streams in this process; more run
            replications 0 .. n-1 over ``jobs`` worker processes.
        progress: called with the fraction done (of simulated time, or of replications).
        ensemble: run its ``per_set`` replications at each of its parameter sets instead (``replications`` is then
            ignored); with its ``point_fit`` values, also run the point fit alone
            (:func:`~flowsim.replications.point_fit_replications`) and set its answer beside the ensemble's in
            ``summary["ensemble"]["point_fit"]``. A :class:`~flowsim.structures.StructuresPlan` runs each structure's
            share of the sets under that structure, on streams that follow each other (the scenario's own structure
            first), and pools them (:func:`~flowsim.summary.summarise_structures`); the point fit is its own
            structure's.
        replace_added: replace a run directory that holds files no run wrote (refused otherwise).
        council: the 2012 programme's council asked about (``--council``): the report gives it a section.

    Raises:
        WriteError: if ``out_dir`` cannot be written or replaced (checked first), another run holds it, or writing
            fails part-way.
    """
    check_out(out_dir, replace_added)
    with claimed(out_dir):
        summary = _run(scenario, out_dir, seed, replications, jobs, progress, argv, csv, documents, ensemble, council)
    from flowsim.report.index import rebuild_index  # here, not above: the run path needs no report

    rebuild_index(out_dir)  # the index of the runs beside this one; a failure only warns
    return summary


def _run(scenario, out_dir, seed, replications, jobs, progress, argv, csv, documents, ensemble, council) -> dict:
    started = dt.datetime.now(dt.UTC)
    if ensemble is not None:
        n = ensemble.runs
        point = ensemble.home.plan.point_fit if isinstance(ensemble, StructuresPlan) else ensemble.point_fit
        k = point_fit_replications(n) if point is not None else 0
        if isinstance(ensemble, StructuresPlan):
            records, summary = _run_structures(ensemble, seed, jobs, progress, n + k)
        else:
            step = (lambda i: progress(i / (n + k))) if progress else None
            records = run_ensemble(scenario, list(ensemble.members), ensemble.per_set, seed, jobs, step)
            summary = summarise_ensemble(
                records, ensemble.per_set, ensemble.drawn_from, ensemble.path, ensemble.members
            )
        if point is not None:  # the point fit alone, on the ensemble's first k streams: the answer without the ensemble
            step = (lambda i: progress((n + i) / (n + k))) if progress else None
            summary["ensemble"]["point_fit"] = point_fit_summary(run_point_fit(scenario, point, n, seed, jobs, step))
    elif replications == 1:
        records = [run_replication(scenario, seed, progress=progress)]
        summary = summarise(records)
    else:
        step = (lambda k: progress(k / replications)) if progress else None
        records = run_replications(scenario, seed, replications, jobs, step)
        summary = summarise(records)
    with staged_dir(out_dir) as staging:
        write_run(staging, records, summary, scenario, seed, started, argv, csv, council)
        if documents:
            from flowsim.report import draw_documents  # here, not above: the charts load matplotlib (import time)

            draw_documents(staging)
    return summary


def _run_structures(plan: StructuresPlan, seed: int, jobs, progress, total: int) -> tuple[list, dict]:
    """Each structure's share of the sets under that structure, on the streams after the one before's; pooled."""
    parts, first = [], 0
    for c in plan.components:
        step = (lambda i, done=first: progress((done + i) / total)) if progress else None
        records = run_ensemble(c.scenario, list(c.plan.members), plan.per_set, seed, jobs, step, first=first)
        for r in records:
            r.summary["structure"] = c.structure.name
        first += len(records)
        parts.append(structures.part(c, records, plan.missing))
    return [r for p in parts for r in p["records"]], summarise_structures(parts, plan.per_set)
