"""The ``flowsim`` command. Commands only parse, call the library and print."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from flowsim import __version__
from flowsim.console import (
    FlowsimGroup,
    announce,
    compile_first,
    cores,
    ensemble_options,
    executor_options,
    jobs_option,
    load,
    outputs,
    quiet_option,
    seed_option,
    set_option,
    user_errors,
    yes_option,
)
from flowsim.errors import FlowsimError


@click.group(cls=FlowsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowsim")
def main() -> None:
    """Simulate England's families at risk and ask: can every troubled family be turned around by May 2015?"""


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@seed_option
@click.option(
    "--replications",
    type=click.IntRange(1),
    default=None,
    help="Independent replications (streams from SeedSequence(seed).spawn) [default: 1; with --ensemble, "
    "replications of each parameter set, 2].",
)
@ensemble_options
@jobs_option
@set_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory [default: outputs/<scenario name>/]."
)
@click.option("--csv", is_flag=True, help="Also write every table as CSV.")
@click.option("--no-report", is_flag=True, help="Write tables, summary and manifest only: no charts, report or brief.")
@click.option(
    "--council",
    default=None,
    metavar="NAME",
    help="With the 2012 programme (programme_2012.enabled): print this council's counts, not England's.",
)
@yes_option
@quiet_option
@user_errors
def run(
    scenario,
    seed,
    replications,
    ensemble_sets,
    ensemble_file,
    jobs,
    overrides,
    out,
    csv,
    no_report,
    council,
    yes,
    quiet,
) -> None:
    """Run SCENARIO and write a run directory that answers the 2015 question."""
    from flowsim.files import writable_dir
    from flowsim.plan import Plan, count, estimate_seconds
    from flowsim.progress import Fraction
    from flowsim.replications import point_fit_replications
    from flowsim.report.text import details, headline, run_notes
    from flowsim.rundir import run_scenario

    sc = load(scenario, overrides)
    if council is not None:
        council_of(sc, council)  # a bad name stops here, before anything runs
    ensemble = None
    if ensemble_sets is not None:
        ensemble = ensemble_plan(sc, ensemble_sets, ensemble_file, replications, seed, quiet)
        runs = len(ensemble["members"]) * ensemble["per_set"]
        runs += point_fit_replications(runs)  # the point fit alone, beside the ensemble
    else:
        runs = replications = replications or 1
    out_dir = writable_dir(out or outputs(sc.name), replaced="manifest.json")
    announce(Plan(runs, estimate_seconds(sc), jobs or cores(), count(runs, "replication")), quiet, yes)
    compile_first(quiet)
    with Fraction(quiet, "simulating" if runs == 1 else "replications") as bar:
        summ = run_scenario(
            sc, out_dir, seed, replications, jobs, bar, sys.argv, csv, documents=not no_report, ensemble=ensemble
        )
    click.echo(headline(summ, run_notes(sc)))
    if "programme_2012" in summ:
        from flowsim.programme_2012 import lines

        for line in lines(summ, council_of(sc, council) if council is not None else None):
            click.echo(line)
    if not quiet:
        for line in details(summ):
            click.echo(line)
        click.echo(f"  results: {out_dir}/" + ("" if no_report else " (report.html, brief.pdf, charts/)"))


def ensemble_plan(sc, sets: int, path: Path | None, per_set: int | None, seed: int, quiet: bool) -> dict:
    """What ``--ensemble`` runs: ``sets`` members drawn from the ensemble, ``per_set`` replications each."""
    from flowsim import ensemble as ens

    e = ens.load(path or ens.DEFAULT_PATH)
    members, own = ens.members_for(sc, e, sets, seed)
    if own and not quiet:
        click.echo(f"  the scenario sets its own {', '.join(own)}: every member runs with it", err=True)
    return {
        "members": members,
        "per_set": per_set or ens.REPLICATIONS_PER_SET,
        "drawn_from": len(e),
        "path": e.path,
        "point_fit": {k: v for k, v in e.member(e.point_fit).items() if k not in own},
    }


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@user_errors
def report(run_dir: Path) -> None:
    """Draw RUN_DIR's charts and write its report.html and brief.pdf."""
    from flowsim.report import write_documents

    click.echo(f"{write_documents(run_dir)} (and brief.pdf, charts/)")


@main.command()
@click.argument("scenario_a", type=click.Path(path_type=Path))
@click.argument("scenario_b", type=click.Path(path_type=Path))
@click.option(
    "--replications",
    type=click.IntRange(2),
    default=None,
    help="Replications [default: 10; with --ensemble, of each parameter set, 2].",
)
@ensemble_options
@jobs_option
@seed_option
@set_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/compare_<A>_vs_<B>/]")
@click.option("--no-share", is_flag=True, help="Simulate the two apart, past included (same results; for timing).")
@yes_option
@quiet_option
@user_errors
def compare(
    scenario_a, scenario_b, replications, ensemble_sets, ensemble_file, jobs, seed, overrides, out, no_share, yes, quiet
) -> None:
    """Run A and B with common random numbers and report B - A, paired by replication, with 95% intervals."""
    from flowsim.compare import compare as compare_scenarios
    from flowsim.compare import headline, point_fit_line, table_lines, write_compare
    from flowsim.files import writable_dir
    from flowsim.plan import Plan, count, estimate_seconds
    from flowsim.progress import Counter
    from flowsim.replications import point_fit_replications
    from flowsim.report.text import run_notes, with_notes

    a, b = load(scenario_a, overrides), load(scenario_b, overrides)
    ensemble = None
    if ensemble_sets is not None:
        plans = [ensemble_plan(sc, ensemble_sets, ensemble_file, replications, seed, quiet) for sc in (a, b)]
        ensemble = {**plans[0], "members": [p["members"] for p in plans], "point_fit": [p["point_fit"] for p in plans]}
        replications = len(plans[0]["members"]) * plans[0]["per_set"]
    replications = replications or 10
    runs = replications + (point_fit_replications(replications) if ensemble is not None else 0)
    out_dir = writable_dir(out or outputs(f"compare_{a.name}_vs_{b.name}"))
    seconds = (estimate_seconds(a) + estimate_seconds(b)) / 2
    announce(
        Plan(2 * runs, seconds, jobs or cores(), f"{count(runs, 'replication')} x 2 scenarios"),
        quiet,
        yes,
    )
    compile_first(quiet)
    with Counter(quiet, "replications", "compare") as bar:
        finished: dict[str, int] = {}  # runs done per scenario (the two advance together when they share a past)

        def step(name: str, k: int) -> None:
            finished[name] = k
            bar(sum(finished.values()), 2 * runs)

        step = step if bar else None
        doc = compare_scenarios(a, b, replications, seed, jobs, step, share=not no_share, ensemble=ensemble)
    click.echo(with_notes(headline(doc), list(dict.fromkeys(run_notes(a) + run_notes(b)))))
    paths = write_compare(doc, out_dir)
    if not quiet:
        for line in [point_fit_line(doc), *table_lines(doc)]:
            if line is not None:
                click.echo(line)
        click.echo(f"  results: {', '.join(str(p) for p in paths)}")


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@executor_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>/]")
@click.option("--dry-run", is_flag=True, help="Check the sweep file and print its plan; run nothing.")
@click.option("--no-share", is_flag=True, help="Simulate every run on its own (same results; for timing).")
@yes_option
@click.option("--quiet", is_flag=True)
@user_errors
def sweep(sweep_file, jobs, executor, scheduler, out, dry_run, no_share, yes, quiet) -> None:
    """Run every run of SWEEP_FILE that has not finished yet (resumable), then chart the result."""
    from flowsim.progress import Counter
    from flowsim.report.text import run_notes, with_notes
    from flowsim.sweep import load_sweep, run_sweep
    from flowsim.sweep.executors import make_executor
    from flowsim.sweep.run import sweep_plan
    from flowsim.sweep.summary import headline, point_lines, summarise_sweep

    spec = load_sweep(sweep_file)
    out_dir = out or outputs("sweeps", spec.name)
    plan = sweep_plan(spec, out_dir, jobs)
    if dry_run:
        return click.echo(plan.describe())
    plan.check(yes)
    compile_first(quiet)
    started = time.perf_counter()
    say = None if quiet else (lambda p: click.echo(p.describe(), err=True))
    with make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        counts = run_sweep(spec, out_dir, ex, bar, before=say, share=not no_share)
    doc = summarise_sweep(spec, out_dir)
    click.echo(with_notes(headline(spec, counts, doc, time.perf_counter() - started), run_notes(spec.scenario)))
    if not quiet:
        for line in point_lines(doc):
            click.echo(line)
        click.echo(f"  results: {out_dir}/ (runs/*.parquet, summary.json, sweep.png)")


@main.command("sweep-results")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Write the table as CSV here.")
@user_errors
def sweep_results(out_dir: Path, csv_path: Path | None) -> None:
    """One tidy table of a sweep's runs: run_id, design values, seed and each target measure."""
    from flowsim.sweep import sweep_table
    from flowsim.sweep.store import write_csv

    if not (out_dir / "runs").is_dir():
        raise FlowsimError(f"{out_dir}: expected a sweep directory written by `flowsim sweep` (with runs/)")
    table = sweep_table(out_dir)
    if csv_path:
        click.echo(f"{len(table)} runs written to {write_csv(table, csv_path)}")
    else:
        click.echo(table.to_csv(index=False), nl=False)


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol", show_default=True)
@click.option(
    "--points",
    type=click.IntRange(1),
    default=None,
    help="Sobol: base samples N (runs = N x (parameters + 2)); Morris: trajectories (runs = r x (parameters + 1)). "
    "[default: the sweep file's points]",
)
@executor_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>_<method>/]")
@yes_option
@click.option("--quiet", is_flag=True)
@user_errors
def sensitivity(sweep_file, method, points, jobs, executor, scheduler, out, yes, quiet) -> None:
    """Sobol or Morris sensitivity indices of each target measure over SWEEP_FILE's parameter ranges (SALib)."""
    from flowsim.progress import Counter
    from flowsim.sweep import load_sweep
    from flowsim.sweep.executors import make_executor
    from flowsim.sweep.run import sweep_plan
    from flowsim.sweep.sensitivity import describe, run_sensitivity, sensitivity_spec

    spec = load_sweep(sweep_file)
    out_dir = out or outputs("sweeps", f"{spec.name}_{method}")
    sweep_plan(sensitivity_spec(spec, method, points), out_dir, jobs).check(yes)
    compile_first(quiet)
    say = None if quiet else (lambda p: click.echo(p.describe(), err=True))
    with make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        doc = run_sensitivity(spec, method, out_dir, ex, points, bar, before=say)
    lines = describe(doc, method)
    for line in lines if not quiet else lines[:1]:
        click.echo(line)
    if not quiet:
        click.echo(f"  results: {out_dir}/ (sensitivity.json, tornado.png)")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--target", type=click.Choice(["count", "coverage", "prevalence"]), default="count", show_default=True)
@click.option("--probability", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True)
@click.option("--vary", "param", required=True, help="Parameter to vary, e.g. programmes.key_worker.caseload.")
@click.option("--range", "bounds", nargs=2, type=float, required=True, metavar="A B")
@click.option(
    "--replications",
    type=click.IntRange(2),
    default=None,
    help="Replications per trial value (the same streams at every value) [default: 20; with --ensemble, of each "
    "parameter set, 2].",
)
@ensemble_options
@seed_option
@jobs_option
@set_option
@yes_option
@click.option("--quiet", is_flag=True)
@user_errors
def solve(
    scenario,
    target,
    probability,
    param,
    bounds,
    replications,
    ensemble_sets,
    ensemble_file,
    seed,
    jobs,
    overrides,
    yes,
    quiet,
) -> None:
    """Find the smallest value of a parameter at which the target is met with the given probability.

    With --ensemble N, the probability is over N parameter sets of the calibrated ensemble (the same sets and
    streams at every trial value): what it takes given what the data allow, not only given the point fit.
    Trial runs skip the counterfactual and the tables (the target is all a trial needs): a third faster than run.
    """
    from flowsim.solve import describe, describe_trial, solve_plan
    from flowsim.solve import solve as solve_for

    def show(trial) -> None:
        if not quiet:
            click.echo("  " + describe_trial(param, trial), err=True)

    sc = load(scenario, overrides)
    ensemble = None
    if ensemble_sets is not None:
        ensemble = ensemble_plan(sc, ensemble_sets, ensemble_file, replications, seed, quiet)
        replications = len(ensemble["members"]) * ensemble["per_set"]
    replications = replications or 20
    announce(solve_plan(sc, param, bounds[0], bounds[1], replications, jobs), quiet, yes)
    compile_first(quiet)
    sol = solve_for(
        sc, target, probability, param, bounds[0], bounds[1], replications, seed, jobs, progress=show, ensemble=ensemble
    )
    click.echo(describe(sol, target, bounds[1]))


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--targets",
    "targets_path",
    type=click.Path(path_type=Path),
    default=Path("calibration/targets.toml"),
    show_default=True,
    help="Targets file.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("calibration/fitted.toml"),
    show_default=True,
    help="Scenario file to write the fitted values to (the baseline extends it).",
)
@click.option(
    "--max-evaluations",
    type=click.IntRange(1),
    default=None,
    help="Stop after this many evaluations (model v2: passes) [default: the targets file's].",
)
@click.option(
    "--report-seeds",
    type=click.IntRange(2),
    default=5,
    show_default=True,
    help="Replications for the report's intervals.",
)
@click.option(
    "--method",
    type=click.Choice(["point", "history-matching"]),
    default="point",
    show_default=True,
    help="point: one best fit (written to --out); history-matching: the ensemble of every parameter set the "
    "targets cannot rule out (calibration/ensemble.parquet), its diagnostics in the report.",
)
@click.option(
    "--design",
    "design_path",
    type=click.Path(path_type=Path),
    default=Path("calibration/ensemble.toml"),
    show_default=True,
    help="History matching: its settings and every parameter's prior range.",
)
@executor_options
@set_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def calibrate(
    scenario,
    targets_path,
    out,
    max_evaluations,
    report_seeds,
    method,
    design_path,
    jobs,
    executor,
    scheduler,
    overrides,
    quiet,
) -> None:
    """Fit SCENARIO's calibrated parameters to the targets; write the fitted file and a report beside it.

    With --method history-matching, find every parameter set the targets cannot rule out instead (resumable:
    a killed run started again runs only what is missing).
    """
    from flowsim.calibrate import calibrate as run_calibration
    from flowsim.files import writable_dir
    from flowsim.progress import Counter

    if out.is_dir():
        raise FlowsimError(f"{out}: expected the fitted scenario file to write, found a directory")
    writable_dir(out.parent)
    sc = load(scenario, overrides)
    compile_first(quiet)
    if method == "history-matching":
        from flowsim.calibrate import calibrate_ensemble
        from flowsim.sweep.executors import make_executor

        with make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs", "history matching") as bar:
            step = (lambda done, total, stage: bar(done, total)) if bar else None
            doc = calibrate_ensemble(sc, targets_path, design_path, out.parent, ex, step)
        click.echo(
            f"History matching run {doc['run_id']}: {doc['members']} parameter sets not ruled out "
            f"(the ensemble, {doc['path']}), from {doc['runs']:,} runs in {doc['seconds'] / 60:.1f} min"
        )
        click.echo(
            f"  on unseen seeds {doc['unseen_met']} of {doc['unseen']} members drawn at random meet every fitted "
            f"target within {doc['cutoff']:g} total sds; report: {doc['report']}"
        )
        return
    with Counter(quiet, "evaluations", "calibrating") as bar:
        step = (lambda n, best: bar(n, max_evaluations or n)) if bar else None
        doc = run_calibration(sc, targets_path, out, max_evaluations, report_seeds, step)
    click.echo(
        f"Calibration run {doc['run_id']}: objective {doc['objective']:.3f} after "
        f"{doc['evaluations']} evaluations (or passes); fitted values in {out}"
    )
    misses = doc["outside_tolerance"]
    click.echo(
        f"  report: {doc['report']}"
        + (f"; outside tolerance: {', '.join(misses)}" if misses else "; every target within tolerance")
    )


@main.command("warm-up")
@user_errors
def warm_up() -> None:
    """Compile the event kernel now, once after installing, so the first run starts at once."""
    from flowsim.engine.compile import compiled

    compile_first(quiet=False)
    click.echo(f"flowsim: the event kernel is {'compiled' if compiled() else 'NOT compiled'}")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@set_option
@user_errors
def validate(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Check SCENARIO: exit 0 if it is valid, else print the problem and exit 2."""
    sc = load(scenario, overrides)
    click.echo(f"{scenario}: valid (scenario {sc.name!r}, sha256 {sc.sha256[:12]})")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@set_option
@user_errors
def show(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Print SCENARIO's resolved parameters with their units and sources."""
    from flowsim.scenario.assumptions import assumption_log, where_set

    sc = load(scenario, overrides)
    click.echo(f"# {sc.name}: {sc.description}".rstrip(": "))
    for row in assumption_log(sc):
        mark = f"  [set in {where_set(row)}]" if row["set_in"] else ""
        click.echo(f"{row['key']} = {row['value']}  ({row['unit']}; {row['source']}){mark}")


def council_of(scenario, name: str) -> str:
    """The council ``--council NAME`` means in this scenario, or a FlowsimError saying why there is none."""
    from flowsim.errors import FlowsimError
    from flowsim.programme_2012 import find_council
    from flowsim.scenario.registry_programme_2012 import council_names

    cfg = scenario.params.programme_2012
    if not cfg.enabled:
        raise FlowsimError(
            f"--council {name}: {scenario.path or scenario.name} does not run the 2012 programme by council "
            "(set programme_2012.enabled = true, as scenarios/tf_programme_2012.toml does)"
        )
    names = council_names() if cfg.council == "all" else [cfg.council]
    try:
        return find_council(name, names)
    except ValueError as exc:
        raise FlowsimError(f"--council: {exc}") from None
