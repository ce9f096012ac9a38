"""The ``flowsim`` command. Commands only parse, call the library and print."""

from __future__ import annotations

import datetime as dt
import functools
import sys
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


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True, help="Root random seed.")
@_set_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory [default: outputs/<scenario name>/]."
)
@click.option("--csv", is_flag=True, help="Also write every table as CSV.")
@click.option("--quiet", is_flag=True, help="Print only the headline; no progress bar.")
@_user_errors
def run(scenario: Path, seed: int, overrides: tuple[str, ...], out: Path | None, csv: bool, quiet: bool) -> None:
    """Run SCENARIO once and write a run directory that answers the 2015 question."""
    from flowsim.engine import simulate
    from flowsim.results import write_run
    from flowsim.scenario import load_scenario

    sc = load_scenario(scenario, list(overrides))
    started = dt.datetime.now(dt.UTC)
    with _progress(quiet) as progress:
        res = simulate(sc, seed=seed, progress=progress)
    out_dir = out or Path("outputs") / sc.name
    summ = write_run(out_dir, res, sc, started, argv=sys.argv, csv=csv)
    click.echo(summ["headline"])
    if quiet:
        return
    t, m = summ["target"], summ["moments"]
    click.echo(
        f"  coverage: {t['coverage']['share']:.0%} of the {t['coverage']['start_stock']:,} families "
        "in the stock at the start received key-worker intervention"
    )
    click.echo(
        f"  prevalence: stock {t['prevalence']['stock_start']:,} at the start, "
        f"{t['prevalence']['stock_end']:,} at the deadline"
    )
    click.echo(
        f"  survey moments: {m['at_risk']:,.0f} at risk, {m['persistence_1y']:.0%} still at risk a year on, "
        f"{m['persistent_4_of_6']:,} at risk in 4+ of {res.wave_count} waves, "
        f"stock {m['stock']:,.0f}, flow group {m['flow_group']:,.0f}"
    )
    if res.scale != 1:
        click.echo(f"  (population.scale = {res.scale:g}: counts are for the simulated share of England)")
    click.echo(f"  results: {out_dir}/")


class _progress:
    """A tqdm bar on stderr after 2 s, only when stderr is a terminal and not --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            delay=2,
            file=sys.stderr,
            unit="%",
            desc="simulating",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )
        return self.update

    def update(self, fraction: float) -> None:
        # tqdm checks its start-up delay only inside update(), so advance by the difference.
        self.bar.update(round(100 * fraction, 1) - self.bar.n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


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
def calibrate(
    scenario: Path,
    targets_path: Path,
    out: Path,
    max_evaluations: int | None,
    report_seeds: int,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Fit SCENARIO's calibrated parameters to the targets; write the fitted file and a report beside it."""
    from flowsim import calibrate as cal
    from flowsim.calibration_report import replicate, write_report

    targets = cal.load_targets(targets_path)
    limit = max_evaluations or targets.max_evaluations
    with _progress(quiet) as bar:
        update = (lambda n, best: bar(n / limit)) if bar else None
        result = cal.fit(scenario, targets, out.parent / "runs", list(overrides), limit, update)
    cal.write_fitted(out, result, targets, scenario)
    best = result.best
    click.echo(
        f"Calibration run {result.run_id}: objective {best['objective']:.3f} after "
        f"{len(result.evaluations)} evaluations; fitted values in {out}"
    )
    seeds = list(range(1001, 1001 + report_seeds))
    values = [f"{k}={v!r}" for k, v in best["values"].items()]
    rows = replicate(scenario, targets, seeds, list(overrides) + values)
    report = write_report(out.parent, targets, rows, result, seeds, scenario)
    misses = [t.name for t in targets.targets if abs(rows[t.name][0] - t.value) > t.tolerance]
    click.echo(
        f"  report: {report}"
        + (f"; outside tolerance: {', '.join(misses)}" if misses else "; every target within tolerance")
    )


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_set_option
@_user_errors
def validate(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Check SCENARIO: exit 0 if it is valid, else print the problem and exit 2."""
    from flowsim.scenario import load_scenario

    sc = load_scenario(scenario, list(overrides))
    click.echo(f"{scenario}: valid (scenario {sc.name!r}, sha256 {sc.sha256[:12]})")


@main.command()
@click.argument("scenario", type=click.Path(path_type=Path))
@_set_option
@_user_errors
def show(scenario: Path, overrides: tuple[str, ...]) -> None:
    """Print SCENARIO's resolved parameters with their units and sources."""
    from flowsim.scenario import load_scenario
    from flowsim.scenario.assumptions import assumption_log

    sc = load_scenario(scenario, list(overrides))
    click.echo(f"# {sc.name}: {sc.description}".rstrip(": "))
    for row in assumption_log(sc):
        mark = f"  [set in {row['set_in']}]" if row["set_in"] else ""
        click.echo(f"{row['key']} = {row['value']}  ({row['unit']}; {row['source']}){mark}")
