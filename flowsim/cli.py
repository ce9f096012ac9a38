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
    _note_compile(quiet)
    if n == 1:
        from flowsim.replications import simulate_record

        with _progress(quiet) as progress:
            return [simulate_record(sc, path, overrides, seed, None, True, progress)]
    from flowsim.replications import run_replications

    with _progress(quiet, desc="replications") as progress:
        return run_replications(path, overrides, seed, n, jobs, (lambda k: progress(k / n)) if progress else None)


def _note_compile(quiet: bool) -> None:
    """Say so when this run must first compile the event kernel (the first run after installing)."""
    from flowsim.engine.kernel import compiled_on_disk

    if not quiet and not compiled_on_disk():
        click.echo("flowsim: compiling the event kernel, once after installing (about 30 s)...", err=True)


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
    if "results" in summ:
        r = summ["results"]
        paid = sum((row["attachment_paid_gbp"] or 0) + (row["results_paid_gbp"] or 0) for row in summ["finance"])
        click.echo(
            f"  payment by results: {_fmt(r['attached'], ',.0f')} families attached, "
            f"{_fmt(r['claimed'], ',.0f')} results claimed by the deadline, of which "
            f"{_fmt(r['additional'], ',.0f')} additional (deadweight {_fmt(r['deadweight_share'], '.0%')}); "
            f"£{paid:,.0f} paid"
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


def _chart_meta(name: str, sha: str, replications: int):
    from flowsim import __version__
    from flowsim.charts import ChartMeta

    return ChartMeta(name, sha, replications, __version__)


@main.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("--jobs", type=click.IntRange(1), default=None, help="Workers [default: every core].")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option(
    "--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 [default: a LocalCluster]."
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>/]")
@click.option("--quiet", is_flag=True)
@_user_errors
def sweep(
    sweep_file: Path, jobs: int | None, executor: str, scheduler: str | None, out: Path | None, quiet: bool
) -> None:
    """Run every run of SWEEP_FILE that has not finished yet (resumable), then chart the result."""
    import time

    from flowsim.sweep import load_sweep, run_sweep, sweep_table
    from flowsim.sweep.analysis import by_point, sweep_chart
    from flowsim.sweep.executors import make_executor

    spec = load_sweep(sweep_file)
    out_dir = out or Path("outputs") / "sweeps" / spec.name
    ex = make_executor(executor, jobs, scheduler)
    started = time.perf_counter()
    try:
        with _counter(quiet, "runs") as bar:
            counts = run_sweep(spec, out_dir, ex, bar)
    finally:
        ex.close()
    table = sweep_table(out_dir)
    params = [p.key for p in spec.parameters]
    pts = by_point(table, params)
    best = pts.sort_values("p_met", ascending=False).iloc[0]
    click.echo(
        f"Sweep {spec.name}: {counts['total']} runs ({counts['run']} run now, {counts['skipped']} already done) "
        f"in {time.perf_counter() - started:.1f} s; the target is met with probability up to "
        f"{best['p_met']:.2f} across {len(pts)} design points"
    )
    sweep_chart(
        table,
        params,
        _chart_meta(spec.name, str(table["scenario_sha256"].iloc[0]), spec.replications),
        out_dir / "sweep",
    )
    if not quiet:
        cols = [*params, "turned_around", "p_met", "p_met_lo", "p_met_hi"]
        click.echo(
            pts[cols].to_string(index=False, float_format=lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")
        )
        click.echo(f"  results: {out_dir}/ (runs/*.parquet, sweep.json, sweep.png)")


@main.command("sweep-results")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None, help="Write the table as CSV here.")
@_user_errors
def sweep_results(out_dir: Path, csv_path: Path | None) -> None:
    """One tidy table of a sweep's runs: run_id, design values, seed and each target measure."""
    from flowsim.errors import FlowsimError
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
    help="Sobol: base samples N (runs = N x (parameters + 2)); Morris: trajectories (runs = r x (parameters + 1)). [default: the sweep file's points]",
)
@click.option("--jobs", type=click.IntRange(1), default=None)
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: outputs/sweeps/<name>_<method>/]")
@click.option("--quiet", is_flag=True)
@_user_errors
def sensitivity(
    sweep_file: Path,
    method: str,
    points: int | None,
    jobs: int | None,
    executor: str,
    scheduler: str | None,
    out: Path | None,
    quiet: bool,
) -> None:
    """Sobol or Morris sensitivity indices of each target measure over SWEEP_FILE's parameter ranges (SALib)."""
    import dataclasses
    import json

    from flowsim.sweep import load_sweep, run_sweep, sweep_table
    from flowsim.sweep.analysis import sensitivity_indices, tornado
    from flowsim.sweep.executors import make_executor

    spec = load_sweep(sweep_file)
    if any(p.low is None for p in spec.parameters):
        from flowsim.errors import FlowsimError

        raise FlowsimError(f"{sweep_file}: sensitivity needs range = [low, high] for every parameter")
    spec = dataclasses.replace(spec, design="saltelli" if method == "sobol" else "morris", points=points or spec.points)
    out_dir = out or Path("outputs") / "sweeps" / f"{spec.name}_{method}"
    ex = make_executor(executor, jobs, scheduler)
    try:
        with _counter(quiet, "runs") as bar:
            counts = run_sweep(spec, out_dir, ex, bar)
    finally:
        ex.close()
    table = sweep_table(out_dir)
    indices = sensitivity_indices(spec, table, method)
    from flowsim.sweep.designs import design_rows

    doc = {
        "method": method,
        "design_rows": len(design_rows(spec)),
        "replications": spec.replications,
        "runs": counts["total"],
        "indices": indices,
    }
    (out_dir / "sensitivity.json").write_text(json.dumps(doc, indent=2) + "\n")
    meta = _chart_meta(spec.name, str(table["scenario_sha256"].iloc[0]), spec.replications)
    tornado(indices, method, meta, out_dir / "tornado")
    key = "ST" if method == "sobol" else "mu_star"
    top = max(indices["turned_around"].items(), key=lambda kv: kv[1][key])
    click.echo(
        f"Sensitivity ({method}, {counts['total']} runs): families turned around depend most on {top[0]} "
        f"({key} {top[1][key]:.3g})"
    )
    if not quiet:
        for outcome, rows in indices.items():
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
@click.option("--jobs", type=click.IntRange(1), default=None)
@_set_option
@click.option("--quiet", is_flag=True)
@_user_errors
def solve(
    scenario: Path,
    target: str,
    probability: float,
    param: str,
    bounds: tuple[float, float],
    replications: int,
    seed: int,
    jobs: int | None,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Find the smallest value of a parameter at which the target is met with the given probability."""
    from flowsim.solve import solve as solve_for

    def show(t):
        if not quiet:
            p = t.probability
            click.echo(
                f"  {param} = {t.value:g}: met in {t.met}/{t.n} replications "
                f"(P {p['mean']:.2f}, 95% interval {p['lo']:.2f}-{p['hi']:.2f}); "
                f"{t.turned_around:,.0f} turned around on average",
                err=True,
            )

    sol = solve_for(
        scenario,
        target,
        probability,
        param,
        bounds[0],
        bounds[1],
        replications,
        seed,
        list(overrides),
        jobs,
        progress=show,
    )
    if not sol.found:
        p = sol.below.probability
        click.echo(
            f"Not reachable in the range: even at {param} = {bounds[1]:g} the {target} target is met with "
            f"probability {p['mean']:.2f} (95% interval {p['lo']:.2f}-{p['hi']:.2f}), below {probability:g}"
        )
        return
    at = sol.at.probability
    below = (
        (
            f"; at {sol.below.value:g} it is {sol.below.probability['mean']:.2f} "
            f"(95% interval {sol.below.probability['lo']:.2f}-{sol.below.probability['hi']:.2f})"
        )
        if sol.below
        else ""
    )
    click.echo(
        f"{param} = {sol.answer:g} is the smallest value at which the {target} target is met with probability "
        f">= {probability:g}: {at['mean']:.2f} (95% interval {at['lo']:.2f}-{at['hi']:.2f}, "
        f"{sol.at.n} replications with common random numbers){below}"
    )


class _bar:
    """A tqdm bar on stderr, only when stderr is a terminal and not --quiet; closed on exit."""

    def __init__(self, quiet: bool, desc: str) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.desc = desc
        self.bar = None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


class _counter(_bar):
    """Counts runs (with ETA); the bar opens at the first update, which says how many runs are already done."""

    def __init__(self, quiet: bool, unit: str) -> None:
        super().__init__(quiet, "sweep")
        self.unit = unit

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, file=sys.stderr, unit=self.unit, desc=self.desc)
        self.bar.update(done - self.bar.n)


class _progress(_bar):
    """Percent of simulated time, shown after 2 s."""

    def __init__(self, quiet: bool, desc: str = "simulating") -> None:
        super().__init__(quiet, desc)

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm

        self.bar = tqdm(
            total=100,
            delay=2,
            file=sys.stderr,
            unit="%",
            desc=self.desc,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )
        return self.update

    def update(self, fraction: float) -> None:
        # tqdm checks its start-up delay only inside update(), so advance by the difference.
        self.bar.update(round(100 * fraction, 1) - self.bar.n)


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
