"""The command line's conventions, shared by every command in :mod:`flowsim.cli`.

- A user error (a :class:`~flowsim.errors.FlowsimError`, or a usage error
  click finds) is one line on stderr, ``error: ...``, and exit code 2; never
  a traceback.
- Ctrl-C, or SIGTERM, stops a command cleanly (workers killed, finished sweep
  runs kept, no run directory half-written) and exits 128 + the signal.
- A plan is shown before it starts, and an absurd one is refused without ``--yes``.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from flowsim.engine.compile import ensure_compiled
from flowsim.errors import FlowsimError, Interrupted
from flowsim.files import safe_name
from flowsim.scenario import load_scenario

#: The signal that stopped the command (SIGTERM arrives as KeyboardInterrupt too): the exit code is 128 + it.
_stopped_by = [signal.SIGINT]


def _terminate(signum, frame) -> None:
    """SIGTERM stops a command the way Ctrl-C does, so the same clean-up runs (the default would just die)."""
    _stopped_by[0] = signum
    raise KeyboardInterrupt


def user_errors(fn):
    """Print a FlowsimError as one line on stderr and exit 2, with no traceback.

    Ctrl-C, or SIGTERM, stops the command the same way (workers killed,
    finished sweep runs kept, nothing half-written) and exits 128 + the signal.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _stopped_by[0] = signal.SIGINT
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread: leave signals alone
            previous = None
        try:
            return fn(*args, **kwargs)
        except (KeyboardInterrupt, Interrupted) as exc:
            click.echo(f"flowsim: {exc if isinstance(exc, Interrupted) else 'interrupted'}", err=True)
            sys.exit(128 + _stopped_by[0])
        except FlowsimError as exc:
            click.echo("error: " + " ".join(str(exc).splitlines()), err=True)  # one line, whatever the input held
            sys.exit(2)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


class FlowsimGroup(click.Group):
    """Usage errors are one line too (click would print the usage, a hint and the error)."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if isinstance(exc, click.UsageError) and ctx else ""
            click.echo("error: " + " ".join(exc.format_message().splitlines()) + hint, err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("flowsim: interrupted", err=True)
            sys.exit(128 + _stopped_by[0])
        sys.exit(code if isinstance(code, int) else 0)


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a parameter, e.g. --set programmes.key_worker.caseload=7 (VALUE is a TOML literal).",
)
quiet_option = click.option("--quiet", is_flag=True, help="Print only the headline; no progress bar.")
jobs_option = click.option(
    "--jobs", type=click.IntRange(1), default=None, help="Worker processes [default: every core]."
)
seed_option = click.option(
    "--seed", type=click.IntRange(0, 2**63 - 1), default=1, show_default=True, help="Root random seed."
)
yes_option = click.option(
    "--yes",
    is_flag=True,
    help="Run a plan of more than 10,000 runs or 24 hours anyway; replace a run directory holding files no run wrote.",
)


def warn(line: str) -> None:
    """A warning on stderr, always (even with --quiet): something is about to be lost or is not what it seems."""
    click.echo(f"flowsim: warning: {line}", err=True)


def load(path: Path, overrides: tuple[str, ...]):
    return load_scenario(path, list(overrides))


def announce(plan, quiet: bool, yes: bool) -> None:
    """Refuse an absurd plan (unless --yes); then say its size and time on stderr (unless --quiet, or it is one quick run)."""
    plan.check(yes)
    if not quiet and (plan.runs > 1 or plan.wall_seconds > 10):
        click.echo(plan.describe(), err=True)


def cores() -> int:
    return os.cpu_count() or 1


def outputs(*parts: str) -> Path:
    """outputs/<parts>, each part a safe directory name however the scenario or sweep is named."""
    return Path("outputs", *(safe_name(p) for p in parts))


def executor_options(fn):
    """--jobs, --executor and --scheduler, for the commands that run sweeps."""
    fn = click.option("--scheduler", default=None, help="Dask scheduler address [default: a LocalCluster].")(fn)
    fn = click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)(fn)
    return click.option("--jobs", type=click.IntRange(1), default=None, help="Workers [default: every core].")(fn)


def ensemble_options(fn):
    """--ensemble N and --ensemble-file, for the commands that can answer over the calibrated ensemble."""
    fn = click.option(
        "--ensemble-file",
        type=click.Path(path_type=Path),
        default=None,
        help="The ensemble to draw from, alone [default: the ensemble beside the fitted file the scenario extends "
        "(calibration/ensemble.parquet for the baseline); with run, compare and solve, every shipped structure's].",
    )(fn)
    return click.option(
        "--ensemble",
        "ensemble_sets",
        type=click.IntRange(2),
        default=None,
        metavar="N",
        help="Answer over N parameter sets drawn from the calibrated ensemble (parameter uncertainty and chance "
        "together), each run --replications times [default with --ensemble: 2].",
    )(fn)


def say_plan(quiet: bool):
    """What a sweep calls with its plan before it starts: say it on stderr (unless ``quiet``)."""
    return None if quiet else (lambda plan: click.echo(plan.describe(), err=True))


def compile_first(quiet: bool) -> None:
    """Compile the event kernel here, once, before any worker starts, saying so on stderr unless ``quiet``."""
    ensure_compiled(None if quiet else (lambda line: click.echo(line, err=True)))


def refuse_unused_options(ctx: click.Context, read_by: dict[str, set[str]], choice: str) -> None:
    """Refuse any option given on the command line that ``choice`` (a key of ``read_by``) does not read.

    ``read_by`` maps each choice to the names of the options it reads; options no choice lists are read by all.
    """
    given = {
        name
        for name in set().union(*read_by.values()) - read_by[choice]
        if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    }
    if given:
        flags = {p.name: p.opts[0] for p in ctx.command.params}
        name = min(given, key=lambda n: flags[n])
        readers = sorted(c for c, names in read_by.items() if name in names)
        raise FlowsimError(
            f"{flags[name]} is read only by --method {' or '.join(readers)}, not by --method {choice}: leave it "
            "out (it would be ignored)"
        )


def calibrate_options(fn):
    """The options of ``flowsim calibrate``: targets, the fitted file, the method and its settings."""
    for option in reversed(_CALIBRATE_OPTIONS):
        fn = option(fn)
    return fn


_CALIBRATE_OPTIONS = [
    click.option(
        "--targets",
        "targets_path",
        type=click.Path(path_type=Path),
        default=Path("calibration/targets.toml"),
        show_default=True,
        help="Targets file.",
    ),
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=Path("calibration/fitted.toml"),
        show_default=True,
        help="Scenario file to write the fitted values to (the baseline extends it).",
    ),
    click.option("--max-evaluations", type=click.IntRange(1), default=None, help="Stop after this many passes."),
    click.option(
        "--report-seeds", type=click.IntRange(2), default=5, show_default=True, help="Replications for the report."
    ),
    click.option(
        "--method",
        type=click.Choice(["point", "history-matching", "posterior"]),
        default="point",
        show_default=True,
        help="point: one best fit (written to --out); history-matching: the ensemble of every parameter set the "
        "targets cannot rule out (calibration/ensemble_runs.parquet), its diagnostics in the report; posterior: "
        "what history matching left, weighted by sourced priors and a joint likelihood (the weighted "
        "calibration/ensemble.parquet that --ensemble draws from).",
    ),
    click.option(
        "--design",
        "design_path",
        type=click.Path(path_type=Path),
        default=Path("calibration/ensemble.toml"),
        show_default=True,
        help="History matching and the posterior: their settings and every parameter's range and prior.",
    ),
]
