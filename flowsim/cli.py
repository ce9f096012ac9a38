"""The ``flowsim`` command. Commands only parse, call the library and print."""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import click

from flowsim import __version__
from flowsim.errors import FlowsimError


def _user_errors(fn):
    """Print a FlowsimError as one line on stderr and exit 2, with no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FlowsimError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowsim")
def main() -> None:
    """Simulate England's families at risk and ask: can every troubled family be turned around by May 2015?"""


_set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a parameter, e.g. --set programmes.key_worker.caseload=7 (VALUE is a TOML literal).",
)
_quiet_option = click.option("--quiet", is_flag=True, help="Print only the headline; no progress bar.")
_jobs_option = click.option(
    "--jobs", type=click.IntRange(1), default=None, help="Worker processes [default: every core]."
)


def _load(path: Path, overrides: tuple[str, ...]):
    from flowsim.scenario import load_scenario

    return load_scenario(path, list(overrides))


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True, help="Root random seed.")
@click.option(
    "--replications",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Independent replications (streams from SeedSequence(seed).spawn).",
)
@_jobs_option
@_set_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory [default: outputs/<scenario name>/]."
)
@click.option("--csv", is_flag=True, help="Also write every table as CSV.")
@click.option("--no-report", is_flag=True, help="Write tables, summary and manifest only: no charts, report or brief.")
@_quiet_option
@_user_errors
def run(scenario, seed, replications, jobs, overrides, out, csv, no_report, quiet) -> None:
    """Run SCENARIO and write a run directory that answers the 2015 question."""
    from flowsim.progress import Fraction, note_compile
    from flowsim.report.text import details
    from flowsim.rundir import run_scenario

    sc = _load(scenario, overrides)
    out_dir = out or Path("outputs") / sc.name
    note_compile(quiet)
    with Fraction(quiet, "simulating" if replications == 1 else "replications") as bar:
        summ = run_scenario(sc, out_dir, seed, replications, jobs, bar, argv=sys.argv, csv=csv)
    click.echo(summ["headline"])
    if not no_report:
        from flowsim.report import write_documents

        write_documents(out_dir)
    if not quiet:
        for line in details(summ):
            click.echo(line)
        click.echo(f"  results: {out_dir}/" + ("" if no_report else " (report.html, brief.pdf, charts/)"))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@_user_errors
def report(run_dir: Path) -> None:
    """Draw RUN_DIR's charts and write its report.html and brief.pdf."""
    from flowsim.report import write_documents

    click.echo(f"{write_documents(run_dir)} (and brief.pdf, charts/)")


@main.command()
@click.argument("scenario_a", type=click.Path(path_type=Path))
@click.argument("scenario_b", type=click.Path(path_type=Path))
@click.option("--replications", type=click.IntRange(2), default=10, show_default=True)
@_jobs_option
@click.option("--seed", type=int, default=1, show_default=True, help="Root seed, shared by both scenarios.")
@_set_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write compare.json [default: outputs/compare_<A>_vs_<B>/].",
)
@_quiet_option
@_user_errors
def compare(scenario_a, scenario_b, replications, jobs, seed, overrides, out, quiet) -> None:
    """Run A and B with common random numbers and report B - A, paired by replication, with 95% intervals."""
    from flowsim.compare import compare as compare_scenarios
    from flowsim.compare import headline, write_compare
    from flowsim.progress import Counter

    a, b = _load(scenario_a, overrides), _load(scenario_b, overrides)
    with Counter(quiet, "replications", "compare") as bar:
        doc = compare_scenarios(
            a,
            b,
            replications,
            seed,
            jobs,
            (lambda name, k: bar(k + (name == b.name) * replications, 2 * replications)) if bar else None,
        )
    click.echo(headline(doc))
    if not quiet:
        click.echo(f"  {'measure':34} {a.name[:14]:>14} {b.name[:14]:>14} {'B - A (paired 95% interval)':>36}")
        for key, d in doc["differences"].items():
            pr = d["paired"]
            click.echo(
                f"  {key:34} {d['a']:>14,.3f} {d['b']:>14,.3f} "
                f"{pr['mean']:>+12,.3f} [{pr['lo']:+,.3f}, {pr['hi']:+,.3f}]"
            )
    out_dir = out or Path("outputs") / f"compare_{a.name}_vs_{b.name}"
    paths = write_compare(doc, out_dir)
    if not quiet:
        click.echo(f"  results: {', '.join(str(p) for p in paths)}")


def _executor_opts(fn):
    fn = click.option("--scheduler", default=None, help="Dask scheduler address [default: a LocalCluster].")(fn)
    fn = click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)(fn)
    return click.option("--jobs", type=click.IntRange(1), default=None, help="Workers [default: every core].")(fn)


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@_executor_opts
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>/]")
@click.option("--quiet", is_flag=True)
@_user_errors
def sweep(sweep_file, jobs, executor, scheduler, out, quiet) -> None:
    """Run every run of SWEEP_FILE that has not finished yet (resumable), then chart the result."""
    from flowsim.progress import Counter
    from flowsim.sweep import load_sweep, run_sweep
    from flowsim.sweep.executors import make_executor
    from flowsim.sweep.summary import summarise_sweep

    spec = load_sweep(sweep_file)
    out_dir = out or Path("outputs") / "sweeps" / spec.name
    started = time.perf_counter()
    with make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        counts = run_sweep(spec, out_dir, ex, bar)
    doc = summarise_sweep(spec, out_dir)
    click.echo(
        f"Sweep {spec.name}: {counts['total']} runs ({counts['run']} run now, {counts['skipped']} already done) "
        f"in {time.perf_counter() - started:.1f} s; the target is met with probability up to "
        f"{doc['best']['p_met']:.2f} across {len(doc['points'])} design points"
    )
    if not quiet:
        cols = [*doc["parameters"], "turned_around", "p_met", "p_met_lo", "p_met_hi"]
        widths = [max(len(c), 9) for c in cols]
        click.echo("  ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True)))
        for row in doc["points"]:
            cells = (f"{row[c]:,.0f}" if abs(row[c]) >= 100 else f"{row[c]:.3g}" for c in cols)
            click.echo("  ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True)))
        click.echo(f"  results: {out_dir}/ (runs/*.parquet, sweep.json, sweep.png)")


@main.command("sweep-results")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Write the table as CSV here.")
@_user_errors
def sweep_results(out_dir: Path, csv_path: Path | None) -> None:
    """One tidy table of a sweep's runs: run_id, design values, seed and each target measure."""
    from flowsim.sweep import sweep_table

    if not (out_dir / "runs").is_dir():
        raise FlowsimError(f"{out_dir}: expected a sweep directory written by `flowsim sweep` (with runs/)")
    table = sweep_table(out_dir)
    if csv_path:
        table.to_csv(csv_path, index=False)
        click.echo(f"{len(table)} runs written to {csv_path}")
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
@_executor_opts
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>_<method>/]")
@click.option("--quiet", is_flag=True)
@_user_errors
def sensitivity(sweep_file, method, points, jobs, executor, scheduler, out, quiet) -> None:
    """Sobol or Morris sensitivity indices of each target measure over SWEEP_FILE's parameter ranges (SALib)."""
    from flowsim.progress import Counter
    from flowsim.sweep import load_sweep
    from flowsim.sweep.executors import make_executor
    from flowsim.sweep.sensitivity import run_sensitivity

    spec = load_sweep(sweep_file)
    out_dir = out or Path("outputs") / "sweeps" / f"{spec.name}_{method}"
    with make_executor(executor, jobs, scheduler) as ex, Counter(quiet, "runs") as bar:
        doc = run_sensitivity(spec, method, out_dir, ex, points, bar)
    key, top = doc["index"], doc["most_influential"]["turned_around"]
    click.echo(
        f"Sensitivity ({method}, {doc['runs']} runs): families turned around depend most on {top} "
        f"({key} {doc['indices']['turned_around'][top][key]:.3g})"
    )
    if not quiet:
        for outcome, rows in doc["indices"].items():
            click.echo(f"  {outcome}: " + ", ".join(f"{k} {v[key]:.3g}" for k, v in rows.items()))
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
    default=20,
    show_default=True,
    help="Replications per trial value (the same streams at every value).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@_jobs_option
@_set_option
@click.option("--quiet", is_flag=True)
@_user_errors
def solve(scenario, target, probability, param, bounds, replications, seed, jobs, overrides, quiet) -> None:
    """Find the smallest value of a parameter at which the target is met with the given probability."""
    from flowsim.solve import describe, describe_trial
    from flowsim.solve import solve as solve_for

    def show(trial) -> None:
        if not quiet:
            click.echo("  " + describe_trial(param, trial), err=True)

    sc = _load(scenario, overrides)
    sol = solve_for(sc, target, probability, param, bounds[0], bounds[1], replications, seed, jobs, progress=show)
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
    "--max-evaluations", type=int, default=None, help="Stop after this many evaluations [default: the targets file's]."
)
@click.option("--report-seeds", type=int, default=5, show_default=True, help="Replications for the report's intervals.")
@_set_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_user_errors
def calibrate(scenario, targets_path, out, max_evaluations, report_seeds, overrides, quiet) -> None:
    """Fit SCENARIO's calibrated parameters to the targets; write the fitted file and a report beside it."""
    from flowsim.calibrate import calibrate as run_calibration
    from flowsim.calibrate import load_targets
    from flowsim.progress import Fraction

    targets = load_targets(targets_path)
    sc = _load(scenario, overrides)
    limit = max_evaluations or targets.max_evaluations
    with Fraction(quiet, "calibrating") as bar:
        doc = run_calibration(sc, targets, out, limit, report_seeds, (lambda n, best: bar(n / limit)) if bar else None)
    click.echo(
        f"Calibration run {doc['run_id']}: objective {doc['objective']:.3f} after "
        f"{doc['evaluations']} evaluations; fitted values in {out}"
    )
    misses = doc["outside_tolerance"]
    click.echo(
        f"  report: {doc['report']}"
        + (f"; outside tolerance: {', '.join(misses)}" if misses else "; every target within tolerance")
    )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_set_option
@_user_errors
def validate(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Check SCENARIO: exit 0 if it is valid, else print the problem and exit 2."""
    sc = _load(scenario, overrides)
    click.echo(f"{scenario}: valid (scenario {sc.name!r}, sha256 {sc.sha256[:12]})")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_set_option
@_user_errors
def show(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Print SCENARIO's resolved parameters with their units and sources."""
    from flowsim.scenario.assumptions import assumption_log, where_set

    sc = _load(scenario, overrides)
    click.echo(f"# {sc.name}: {sc.description}".rstrip(": "))
    for row in assumption_log(sc):
        mark = f"  [set in {where_set(row)}]" if row["set_in"] else ""
        click.echo(f"{row['key']} = {row['value']}  ({row['unit']}; {row['source']}){mark}")
