"""The ``flowsim`` command. Commands only parse, call the library and print."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from flowsim import __version__, calibrate, ensemble, programme_2012, report, solve, structures, text
from flowsim import compare as comparing
from flowsim.console import (
    FlowsimGroup,
    announce,
    calibrate_options,
    compile_first,
    cores,
    ensemble_options,
    executor_options,
    jobs_option,
    load,
    outputs,
    quiet_option,
    refuse_unused_options,
    say_plan,
    seed_option,
    set_option,
    user_errors,
    warn,
    yes_option,
)
from flowsim.engine.compile import compiled
from flowsim.errors import FlowsimError
from flowsim.files import writable_dir
from flowsim.plan import Plan, count, estimate_seconds
from flowsim.progress import Counter, Fraction
from flowsim.replications import point_fit_replications
from flowsim.run import run_scenario
from flowsim.rundir import check_out
from flowsim.scenario.assumptions import assumption_log, where_set
from flowsim.sweep import executors, load_sweep, run_sweep, sensitivity, store, summary
from flowsim.sweep.run import sweep_plan
from flowsim.sweep.spec import MAX_POINTS


@click.group(cls=FlowsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowsim")
def main() -> None:
    """Simulate England's families at risk and ask: can every troubled family be turned around by May 2015?"""


def _plan_ensemble(sc, sets: int, path: Path | None, per_set: int | None, seed: int, quiet: bool):
    """The scenario's own ensemble (``path``'s, or its fit's), and what the scenario sets itself, said."""
    plan = ensemble.plan(sc, sets, path, per_set, seed)
    if not quiet and plan.own:
        click.echo(f"  the scenario sets its own {', '.join(plan.own)}: every member runs with it", err=True)
    return plan


def _check_structures(which: str | None, sets: int | None, path: Path | None) -> None:
    """Refuse ``--structures`` where it would be ignored: without ``--ensemble``, or ``all`` beside
    ``--ensemble-file``."""
    if which is not None and sets is None:
        raise FlowsimError(f"--structures {which}: expected it with --ensemble N, found it without")
    if which == "all" and path is not None:
        raise FlowsimError("--structures all: expected the shipped structures' own ensembles, found --ensemble-file")


def _plan_structures(sc, sets: int, path: Path | None, per_set: int | None, seed: int, which: str, quiet: bool):
    """With ``--structures all`` (the default) and no ``--ensemble-file``: the sets split over the shipped structures
    that have an ensemble, said before the run; else (or when the scenario is built on no shipped structure) its
    own ensemble alone."""
    plan = structures.plan(sc, sets, per_set, seed) if which != "own" and path is None else None
    if plan is None:
        return _plan_ensemble(sc, sets, path, per_set, seed, quiet)
    _say_structures(plan, [plan], quiet)
    return plan


def _say_structures(plan, own_of: list, quiet: bool) -> None:
    """Before the run: the sets each structure gives, the structures left out and why, and what each scenario in
    ``own_of`` (their plans) sets itself."""
    if quiet:
        return
    parts = ", ".join(
        f"{c.structure.name} {c.plan.runs // c.plan.per_set} ({c.plan.method or 'ensemble'} of {c.plan.drawn_from})"
        for c in plan.components
    )
    click.echo(f"  parameter sets by structure: {parts}", err=True)
    for name, why in plan.missing:
        click.echo(f"  left out of the pool: {name}, {why}", err=True)
    for p in own_of:
        if p.home.plan.own:
            click.echo(
                f"  {p.home.scenario.name} sets its own {', '.join(p.home.plan.own)}: every member runs with it",
                err=True,
            )


def _plan_compare(a, b, sets: int, path: Path | None, per_set: int | None, seed: int, which: str, quiet: bool):
    """A's and B's plans: over the shipped structures (as :func:`_plan_structures`) when both are built on the same
    one, else each over its own ensemble, which must be the same ensemble (else their runs cannot be paired).

    Raises:
        FlowsimError: if A and B would draw from different ensembles (their runs could not be paired).
    """
    if which != "own" and path is None:
        pa, pb = (structures.plan(sc, sets, per_set, seed) for sc in (a, b))
        if pa is not None and pb is not None and pa.home.structure.name == pb.home.structure.name:
            _say_structures(pa, [pa, pb], quiet)
            return pa, pb
    plans = tuple(_plan_ensemble(sc, sets, path, per_set, seed, quiet) for sc in (a, b))
    if Path(plans[0].path).resolve() != Path(plans[1].path).resolve():
        raise FlowsimError(
            f"--ensemble: {a.name} draws its parameter sets from {plans[0].path} and {b.name} from {plans[1].path}: "
            "runs of different ensembles cannot be paired. Compare them without --ensemble (at their point fits, "
            "with common random numbers), or answer each with `flowsim run --ensemble N`"
        )
    return plans


structures_option = click.option(
    "--structures",
    "which_structures",
    type=click.Choice(["all", "own"]),
    default=None,
    help="With --ensemble: split the sets over every shipped structure with an ensemble "
    "(calibration/structures.toml) and pool them, or use the scenario's own structure's ensemble alone "
    "[default: all; own with --ensemble-file].",
)


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
@structures_option
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
def run(scenario, seed, replications, ensemble_sets, ensemble_file, which_structures, jobs, overrides, out, csv, no_report, council, yes, quiet):  # fmt: skip
    """Run SCENARIO and write a run directory that answers the 2015 question."""
    sc = load(scenario, overrides)
    where = programme_2012.council_of(sc, council) if council is not None else None  # a bad name stops here
    plan = None
    _check_structures(which_structures, ensemble_sets, ensemble_file)
    if ensemble_sets is not None:
        plan = _plan_structures(sc, ensemble_sets, ensemble_file, replications, seed, which_structures, quiet)
        runs = plan.runs + point_fit_replications(plan.runs)  # the point fit alone, beside the ensemble
    else:
        runs = replications = replications or 1
    out_dir = out or outputs(sc.name)
    added = check_out(out_dir, replace_added=yes)
    if added:
        warn(f"replacing {out_dir} removes {len(added)} file(s) no run wrote: {', '.join(added)}")
    announce(Plan(runs, estimate_seconds(sc), jobs or cores(), count(runs, "replication")), quiet, yes)
    compile_first(quiet)
    with Fraction(quiet, "simulating" if runs == 1 else "replications") as bar:
        summ = run_scenario(
            sc,
            out_dir,
            seed,
            replications,
            jobs,
            bar,
            sys.argv,
            csv,
            not no_report,
            plan,
            replace_added=yes,
            council=where,
        )
    click.echo(text.headline(summ, text.run_notes(sc)))
    if "programme_2012" in summ:
        for line in programme_2012.lines(summ, where):
            click.echo(line)
    if not quiet:
        if where is not None:
            click.echo("England as a whole:")  # the council's lines above; the lines below are England's
        for line in text.details(summ):
            click.echo(line)
        click.echo(f"  results: {out_dir}/" + ("" if no_report else " (report.html, brief.pdf, charts/)"))


@main.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@user_errors
def report_command(run_dir: Path) -> None:
    """Draw RUN_DIR's charts and write its report.html and brief.pdf."""
    click.echo(f"{report.write_documents(run_dir)} (and brief.pdf, charts/)")


@main.command("compare")
@click.argument("scenario_a", type=click.Path(path_type=Path))
@click.argument("scenario_b", type=click.Path(path_type=Path))
@click.option(
    "--replications",
    type=click.IntRange(2),
    default=None,
    help="Replications [default: 10; with --ensemble, of each parameter set, 2].",
)
@ensemble_options
@structures_option
@jobs_option
@seed_option
@set_option
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/compare_<A>_vs_<B>/]")
@click.option("--no-share", is_flag=True, help="Simulate the two apart, past included (same results; for timing).")
@yes_option
@quiet_option
@user_errors
def compare_command(scenario_a, scenario_b, replications, ensemble_sets, ensemble_file, which_structures, jobs, seed, overrides, out, no_share, yes, quiet):  # fmt: skip
    """Run A and B with common random numbers and report B - A, paired by replication, with 95% intervals."""
    a, b = load(scenario_a, overrides), load(scenario_b, overrides)
    comparing.check_comparable(a, b)  # before any plan or work
    plans = None
    _check_structures(which_structures, ensemble_sets, ensemble_file)
    if ensemble_sets is not None and no_share:
        raise FlowsimError("--no-share: expected it without --ensemble (runs over an ensemble share no past)")
    if ensemble_sets is not None:
        plans = _plan_compare(a, b, ensemble_sets, ensemble_file, replications, seed, which_structures, quiet)
        replications = plans[0].runs
    replications = replications or 10
    runs = replications + (point_fit_replications(replications) if plans is not None else 0)
    out_dir = writable_dir(out or outputs(f"compare_{a.name}_vs_{b.name}"))
    seconds = (estimate_seconds(a) + estimate_seconds(b)) / 2
    announce(Plan(2 * runs, seconds, jobs or cores(), f"{count(runs, 'replication')} x 2 scenarios"), quiet, yes)
    compile_first(quiet)
    with Counter(quiet, "replications", "compare") as bar:
        finished: dict[str, int] = {}  # runs done per scenario (the two advance together when they share a past)

        def step(name: str, k: int) -> None:
            finished[name] = k
            bar(sum(finished.values()), 2 * runs)

        doc = comparing.compare(
            a, b, replications, seed, jobs, step if bar else None, share=not no_share, ensemble=plans
        )
    click.echo(text.with_notes(comparing.headline(doc), list(dict.fromkeys(text.run_notes(a) + text.run_notes(b)))))
    paths = comparing.write_compare(doc, out_dir)
    click.echo(comparing.counted_line(doc))
    if not quiet:
        for line in [*comparing.structure_lines(doc), comparing.point_fit_line(doc), *comparing.table_lines(doc)]:
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
    spec = load_sweep(sweep_file)
    out_dir = out or outputs("sweeps", spec.name)
    plan = sweep_plan(spec, out_dir, jobs)
    if dry_run:
        return click.echo(plan.describe())
    plan.check(yes)
    compile_first(quiet)
    started = time.perf_counter()
    with executors.make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        counts = run_sweep(spec, out_dir, ex, bar, before=say_plan(quiet), share=not no_share)
    doc = summary.summarise_sweep(spec, out_dir)
    line = summary.headline(spec, counts, doc, time.perf_counter() - started)
    click.echo(text.with_notes(line, text.run_notes(spec.scenario)))
    if not quiet:
        for line in summary.point_lines(doc):
            click.echo(line)
        click.echo(f"  results: {out_dir}/ (runs/*.parquet, summary.json, sweep.png)")


@main.command("sweep-results")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Write the table as CSV here.")
@user_errors
def sweep_results(out_dir: Path, csv_path: Path | None) -> None:
    """One tidy table of a sweep's runs: run_id, design values, seed and each target measure."""
    if not (out_dir / "runs").is_dir():
        raise FlowsimError(f"{out_dir}: expected a sweep directory written by `flowsim sweep` (with runs/)")
    table = store.sweep_table(out_dir)
    if csv_path:
        click.echo(f"{len(table)} runs written to {store.write_csv(table, csv_path)}")
    else:
        click.echo(table.to_csv(index=False), nl=False)


@main.command("sensitivity")
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol", show_default=True)
@click.option(
    "--points",
    type=click.IntRange(1, MAX_POINTS),
    default=None,
    help="Sobol: base samples N (runs = N x (parameters + 2)); Morris: trajectories (runs = r x (parameters + 1)). "
    "[default: the sweep file's points]",
)
@executor_options
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>_<method>/]")
@yes_option
@click.option("--quiet", is_flag=True)
@user_errors
def sensitivity_command(sweep_file, method, points, jobs, executor, scheduler, out, yes, quiet) -> None:
    """Sobol or Morris sensitivity indices of each target measure over SWEEP_FILE's parameter ranges (SALib)."""
    spec = load_sweep(sweep_file)
    out_dir = out or outputs("sweeps", f"{spec.name}_{method}")
    sweep_plan(sensitivity.sensitivity_spec(spec, method, points), out_dir, jobs).check(yes)
    compile_first(quiet)
    with executors.make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        doc = sensitivity.run_sensitivity(spec, method, out_dir, ex, points, bar, before=say_plan(quiet))
    lines = sensitivity.describe(doc, method)
    for line in lines if not quiet else lines[:1]:
        click.echo(line)
    if not quiet:
        click.echo(f"  results: {out_dir}/ (sensitivity.json, tornado.png)")


@main.command("solve")
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
    "parameter set, 2]; a trial value whose interval includes the probability runs up to 4 times as many.",
)
@ensemble_options
@structures_option
@seed_option
@jobs_option
@set_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where solve.json and solve.png go [default: outputs/solve_<scenario>_<parameter>/].",
)
@yes_option
@click.option("--quiet", is_flag=True)
@user_errors
def solve_command(scenario, target, probability, param, bounds, replications, ensemble_sets, ensemble_file, which_structures, seed, jobs, overrides, out, yes, quiet):  # fmt: skip
    """Find the smallest value of a parameter at which the target is met with the given probability.

    With --ensemble N, the probability is over N parameter sets of the shipped structures' ensembles, pooled (the
    same sets and streams at every trial value): what it takes given what the data allow, not only given the point
    fit.
    Trial runs skip the counterfactual and the tables (the target is all a trial needs): a third faster than run.
    """
    sc = load(scenario, overrides)
    plan = None
    _check_structures(which_structures, ensemble_sets, ensemble_file)
    if ensemble_sets is not None:
        plan = _plan_structures(sc, ensemble_sets, ensemble_file, replications, seed, which_structures, quiet)
        replications = plan.runs
    replications = replications or 20
    announce(solve.solve_plan(sc, param, bounds[0], bounds[1], replications, jobs, plan is None), quiet, yes)
    compile_first(quiet)
    show = None if quiet else (lambda trial: click.echo("  " + solve.describe_trial(param, trial), err=True))
    out_dir = writable_dir(out or outputs(f"solve_{sc.name}_{param}"))
    sol = solve.solve(
        sc, target, probability, param, bounds[0], bounds[1], replications, seed, jobs, progress=show, ensemble=plan
    )
    doc = solve.solve_document(sol, sc, target, bounds[0], bounds[1], seed)
    click.echo(text.with_notes(doc["headline"], text.run_notes(sc)))
    paths = solve.write_solve(doc, out_dir)
    if not quiet:
        click.echo(f"  results: {', '.join(str(p) for p in paths)}")


# Which of calibrate's options each method reads: any other given on the command line is refused, not ignored.
_CALIBRATE_METHOD_OPTIONS = {
    "point": {"max_evaluations", "report_seeds"},
    "history-matching": {"design_path", "jobs", "executor", "scheduler"},
    "posterior": {"design_path", "jobs", "executor", "scheduler"},
}


@main.command("calibrate")
@click.argument("scenario", type=click.Path(path_type=Path))
@calibrate_options
@executor_options
@set_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def calibrate_command(scenario, targets_path, out, max_evaluations, report_seeds, method, design_path, jobs, executor, scheduler, overrides, quiet):  # fmt: skip
    """Fit SCENARIO's calibrated parameters to the targets; write the fitted file and a report beside it.

    With --method history-matching, find every parameter set the targets cannot rule out instead (resumable:
    a killed run started again runs only what is missing). With --method posterior, then weight what it left
    by the sourced priors and a joint likelihood (resumable too): the weighted ensemble --ensemble draws from.
    """
    if out.is_dir():
        raise FlowsimError(f"{out}: expected the fitted scenario file to write, found a directory")
    refuse_unused_options(click.get_current_context(), _CALIBRATE_METHOD_OPTIONS, method)
    writable_dir(out.parent)
    sc = load(scenario, overrides)
    compile_first(quiet)
    if method == "posterior":
        with (
            executors.make_executor(executor, jobs, scheduler) as ex,
            Counter(quiet, "runs", "posterior") as bar,
        ):
            step = (lambda done, total, stage: bar(done, total)) if bar else None
            lines = calibrate.calibrate_posterior(sc, targets_path, design_path, out.parent, ex, step)
    elif method == "history-matching":
        with (
            executors.make_executor(executor, jobs, scheduler) as ex,
            Counter(quiet, "runs", "history matching") as bar,
        ):
            step = (lambda done, total, stage: bar(done, total)) if bar else None
            lines = calibrate.describe_ensemble(
                calibrate.calibrate_ensemble(sc, targets_path, design_path, out.parent, ex, step)
            )
    else:
        with Counter(quiet, "evaluations", "calibrating") as bar:
            step = (lambda n, best: bar(n, max_evaluations or n)) if bar else None
            lines = calibrate.describe(calibrate.calibrate(sc, targets_path, out, max_evaluations, report_seeds, step))
    for line in lines:
        click.echo(line)


@main.command("warm-up")
@user_errors
def warm_up() -> None:
    """Compile the event kernel now, once after installing, so the first run starts at once."""
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
    sc = load(scenario, overrides)
    click.echo(f"# {sc.name}: {sc.description}".rstrip(": "))
    for row in assumption_log(sc):
        mark = f"  [set in {where_set(row)}]" if row["set_in"] else ""
        click.echo(f"{row['key']} = {row['value']}  ({row['unit']}; {row['source']}){mark}")
