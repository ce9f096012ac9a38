"""Does the burn-in forget its start? The survey moments by how the population starts and how long the burn-in is:
the table in calibration/README.md ("The burn-in forgets its start").

    python -m flowsim.calibrate.burn_in scenarios/baseline.toml --years 8 16 24 --seeds 6 --pilot-years 0
    python -m flowsim.calibrate.burn_in scenarios/baseline.toml --years 2 4 --seeds 6 --reference 0 24

Each start runs as the calibration evaluates (to March 2011, every family tracked, at ``--scale``) on seeds
1..``--seeds``, the same seeds for every start, after a pilot of ``--pilot-years`` (the scenario's own if not
given; ``population.pilot_years``: the start is then the pilot's):

- ``shares``: the scenario's own start (each problem under way with its initial share);
- ``none``: no problem under way;
- ``double``: twice each initial share (at most 0.9).

No qualifications keeps its share in every start: a parent's lifelong attribute, drawn at that share whenever a
family is created, so a start without it is not a start the model could reach. Each cell is the moment's mean and
its difference from the reference, in standard errors of a difference (the spread of the two columns' runs): the
scenario's own start at the longest burn-in, or ``--reference PILOT BURN_IN`` (years), the first column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from flowsim import engine
from flowsim.calibrate.point_fit import survey_values
from flowsim.measures import survey_moments
from flowsim.scenario import load_scenario
from flowsim.scenario.registry_problems import PROBLEM_NAMES

MOMENTS = ("at_risk", "persistence_1y", "persistent_4_of_6", "stock", "stock_persistence_1y", "flow_group")
STARTS = ("shares", "none", "double")


def start_values(scenario, start: str) -> dict[str, float]:
    """The initial shares of ``start`` (see the module)."""
    names = [n for n in PROBLEM_NAMES if n != "no_qualifications"]
    if start == "shares":
        return {}
    if start == "none":
        return {f"problems.{n}.initial_share": 0.0 for n in names}
    return {f"problems.{n}.initial_share": min(0.9, 2 * float(scenario.value(f"problems.{n}.initial_share"))) for n in names}  # fmt: skip


def moments(
    scenario, start: str, years: float, scale: float, seeds, pilot: float | None = None
) -> dict[str, np.ndarray]:
    """Each moment over ``seeds`` for one start and burn-in (after a pilot of ``pilot`` years, if given)."""
    values = {**survey_values(scenario, scale), **start_values(scenario, start), "population.burn_in_years": years}
    if pilot is not None:
        values["population.pilot_years"] = pilot
    trial = scenario.with_values(values, origin=f"burn-in: {start}, {years:g} years")
    runs = [survey_moments(engine.simulate(trial, seed=s)) for s in seeds]
    return {k: np.array([r[k] for r in runs], float) for k in MOMENTS}


def table(scenario, years: list[float], scale: float, seeds, say=print, pilot=None, reference=None) -> list[str]:
    """The markdown table: a row per moment, a column per start and burn-in (the reference's first, if given)."""
    cells, cols = {}, []
    if reference is not None:
        ref_pilot, ref_years = reference
        cells["ref"] = ref = moments(scenario, "shares", ref_years, scale, seeds, ref_pilot)
        cols.append("ref")
        say(f"  reference, pilot {ref_pilot:g} + {ref_years:g} years: done")
    for y in years:
        for start in STARTS:
            cells[start, y] = moments(scenario, start, y, scale, seeds, pilot)
            cols.append((start, y))
            say(f"  {start}, {y:g} years: done")
    if reference is None:
        ref = cells["shares", max(years)]
    label = {c: (f"reference (pilot {ref_pilot:g} y + {ref_years:g} y)" if c == "ref" else f"{c[0]}, {c[1]:g} y") for c in cols}  # fmt: skip
    lines = [
        "| moment | " + " | ".join(label[c] for c in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for k in MOMENTS:
        row = []
        for c in cols:
            x, r = cells[c][k], ref[k]
            se = np.sqrt(x.var(ddof=1) / x.size + r.var(ddof=1) / r.size)
            z = (x.mean() - r.mean()) / se if se > 0 else 0.0
            row.append(f"{x.mean():.4g} ({z:+.1f})")
        lines.append(f"| {k} | " + " | ".join(row) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--years", type=float, nargs="+", default=[8.0, 16.0, 24.0], help="burn-in lengths")
    ap.add_argument("--seeds", type=int, default=6, help="seeds 1..N for every start")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--pilot-years", type=float, default=None, help="the pilot's years (default: the scenario's)")
    ap.add_argument("--reference", type=float, nargs=2, default=None, metavar=("PILOT", "BURN_IN"))
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    seeds = range(1, args.seeds + 1)
    print("\n".join(table(scenario, sorted(args.years), args.scale, seeds, pilot=args.pilot_years, reference=args.reference)))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
