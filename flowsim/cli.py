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
@click.option(
    "--replications",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Independent replications (streams from SeedSequence(seed).spawn).",
)
@click.option("--jobs", type=click.IntRange(1), default=None, help="Worker processes [default: every core].")
@_set_option
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Run directory [default: outputs/<scenario name>/]."
)
@click.option("--csv", is_flag=True, help="Also write every table as CSV.")
@click.option("--no-report", is_flag=True, help="Write tables, summary and manifest only: no charts, report or brief.")
@click.option("--quiet", is_flag=True, help="Print only the headline; no progress bar.")
@_user_errors
def run(
    scenario: Path,
    seed: int,
    replications: int,
    jobs: int | None,
    overrides: tuple[str, ...],
    out: Path | None,
    csv: bool,
    no_report: bool,
    quiet: bool,
) -> None:
    """Run SCENARIO and write a run directory that answers the 2015 question."""
    from flowsim.results import write_run
    from flowsim.scenario import load_scenario

    sc = load_scenario(scenario, list(overrides))
    started = dt.datetime.now(dt.UTC)
    records = _simulate_records(scenario, sc, list(overrides), seed, replications, jobs, quiet)
    out_dir = out or Path("outputs") / sc.name
    summ = write_run(out_dir, records, sc, seed, started, argv=sys.argv, csv=csv)
    click.echo(summ["headline"])
    if not no_report:
        _write_report(out_dir)
    if not quiet:
        _print_details(summ, replications)
        click.echo(f"  results: {out_dir}/" + ("" if no_report else " (report.html, brief.pdf, charts/)"))


def _write_report(run_dir: Path) -> Path:
    from flowsim.charts import draw_run_charts
    from flowsim.report import write_brief, write_report

    charts = draw_run_charts(run_dir)
    write_brief(run_dir)
    return write_report(run_dir, charts)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, file_okay=False))
@_user_errors
def report(run_dir: Path) -> None:
    """Draw RUN_DIR's charts and write its report.html and brief.pdf."""
    from flowsim.errors import FlowsimError

    missing = [
        n
        for n in ("summary.json", "manifest.json", "assumptions.json", "targets.parquet")
        if not (run_dir / n).is_file()
    ]
    if missing:
        raise FlowsimError(
            f"{run_dir}: expected a run directory written by `flowsim run`, missing {', '.join(missing)}"
        )
    path = _write_report(run_dir)
    click.echo(f"{path} (and brief.pdf, charts/)")


def _simulate_records(path: Path, sc, overrides: list[str], seed: int, n: int, jobs: int | None, quiet: bool) -> list:
    """One replication in this process (progress by simulated time), or n over worker processes."""
    if n == 1:
        from flowsim.engine import simulate
        from flowsim.results import replication_record

        with _progress(quiet) as progress:
            return [replication_record(simulate(sc, seed=seed, progress=progress), sc)]
    from flowsim.replications import run_replications

    with _progress(quiet, desc="replications") as progress:
        return run_replications(path, overrides, seed, n, jobs, (lambda k: progress(k / n)) if progress else None)


def _fmt(v, pattern: str) -> str:
    """A plain number, or 'mean (95% interval lo–hi)' for a summarised one."""
    if isinstance(v, dict):
        return f"{format(v['mean'], pattern)} (95% interval {format(v['lo'], pattern)}–{format(v['hi'], pattern)})"
    return format(v, pattern)


def _print_details(summ: dict, replications: int) -> None:
    t, m = summ["target"], summ["moments"]
    click.echo(
        f"  coverage: {_fmt(t['coverage']['share'], '.0%')} of the families in the stock at the start "
        "received key-worker intervention"
    )
    click.echo(
        f"  prevalence: stock {_fmt(t['prevalence']['stock_start'], ',.0f')} at the start, "
        f"{_fmt(t['prevalence']['stock_end'], ',.0f')} at the deadline"
    )
    click.echo(
        f"  survey moments: {_fmt(m['at_risk'], ',.0f')} at risk, {_fmt(m['persistence_1y'], '.0%')} still at "
        f"risk a year on, {_fmt(m['persistent_4_of_6'], ',.0f')} at risk in 4+ of 6 waves, "
        f"stock {_fmt(m['stock'], ',.0f')}, flow group {_fmt(m['flow_group'], ',.0f')}"
    )
    if summ["scale"] != 1:
        click.echo(f"  (population.scale = {summ['scale']:g}: counts are for the simulated share of England)")


@main.command()
@click.argument("scenario_a", type=click.Path(path_type=Path))
@click.argument("scenario_b", type=click.Path(path_type=Path))
@click.option("--replications", type=click.IntRange(2), default=10, show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=None, help="Worker processes [default: every core].")
@click.option("--seed", type=int, default=1, show_default=True, help="Root seed, shared by both scenarios.")
@_set_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write compare.json [default: outputs/compare_<A>_vs_<B>/].",
)
@click.option("--quiet", is_flag=True, help="Print only the headline; no progress bar.")
@_user_errors
def compare(
    scenario_a: Path,
    scenario_b: Path,
    replications: int,
    jobs: int | None,
    seed: int,
    overrides: tuple[str, ...],
    out: Path | None,
    quiet: bool,
) -> None:
    """Run A and B with common random numbers and report B - A, paired by replication, with 95% intervals."""
    import json

    from flowsim.replications import paired_differences, run_replications, summarise
    from flowsim.scenario import load_scenario

    a, b = load_scenario(scenario_a, list(overrides)), load_scenario(scenario_b, list(overrides))
    runs = []
    for path in (scenario_a, scenario_b):
        with _progress(quiet, desc=f"replications of {path.stem}") as bar:
            runs.append(
                run_replications(
                    path, list(overrides), seed, replications, jobs, (lambda k: bar(k / replications)) if bar else None
                )
            )
    diffs = paired_differences(*runs)
    count = diffs["target.count.turned_around"]
    p = [summarise(r)["target"]["count"]["probability_met"]["mean"] for r in runs]
    click.echo(
        f"{b.name} vs {a.name}: {count['paired']['mean']:+,.0f} families turned around by the deadline "
        f"(paired 95% interval {count['paired']['lo']:+,.0f} to {count['paired']['hi']:+,.0f}, {replications} "
        f"replications with common random numbers); probability the target is met {p[0]:.2f} -> {p[1]:.2f}"
    )
    if not quiet:
        click.echo(f"  {'measure':34} {a.name[:14]:>14} {b.name[:14]:>14} {'B - A (paired 95% interval)':>36}")
        for key, d in diffs.items():
            pr = d["paired"]
            click.echo(
                f"  {key:34} {d['a']:>14,.3f} {d['b']:>14,.3f} "
                f"{pr['mean']:>+12,.3f} [{pr['lo']:+,.3f}, {pr['hi']:+,.3f}]"
            )
    out_dir = out or Path("outputs") / f"compare_{a.name}_vs_{b.name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "a": {"name": a.name, "scenario_sha256": a.sha256},
        "b": {"name": b.name, "scenario_sha256": b.sha256},
        "seed": seed,
        "replications": replications,
        "differences": diffs,
        "summaries": {"a": summarise(runs[0]), "b": summarise(runs[1])},
    }
    (out_dir / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
    from flowsim import __version__
    from flowsim.charts import ChartMeta, save
    from flowsim.charts.figures import compare as compare_chart
    from flowsim.charts.figures import pyplot

    meta = ChartMeta(f"{a.name} vs {b.name}", a.sha256, replications, __version__)
    fig = compare_chart(doc["summaries"]["a"], doc["summaries"]["b"], meta)
    save(fig, out_dir / "compare")
    pyplot().close(fig)
    if not quiet:
        click.echo(f"  results: {out_dir}/compare.json, compare.png, compare.svg")


class _progress:
    """A tqdm bar on stderr after 2 s, only when stderr is a terminal and not --quiet."""

    def __init__(self, quiet: bool, desc: str = "simulating") -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.desc = desc
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
