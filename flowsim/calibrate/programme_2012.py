"""The 2012 programme by half-year, beside DCLG's published counts: calibration/programme_2012.md's tables.

    python -m flowsim.calibrate.programme_2012 [--scale 0.25] [--seed 31]

Runs ``scenarios/tf_programme_2012.toml`` with its paired counterfactual (every programme's effect off) and prints,
at the end of each half-year from September 2012 to May 2015: families identified, attached, results claimed by the framework's
routes, additional results and the three-way split of claims. Then the same with every programme effect off, then
with each council behaviour switched off alone (claims at the deadline), and last the national path beside the
published counts (``calibration/sources/national_progress_2012_2015.csv``).

The process parameters (identification's search rate, the councils' geography) were set from identification counts
and pools; nothing was set from claims, so the claims path is the model's prediction.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

from flowsim.engine.simulation import simulate_with_counterfactual
from flowsim.finance import counterfactual, counterfactual_values
from flowsim.programme_2012 import ENGLAND, PATH, table
from flowsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "tf_programme_2012.toml"
PUBLISHED = ROOT / "calibration" / "sources" / "national_progress_2012_2015.csv"
HALF_YEARS = ("2012-10-01", "2013-04-01", "2013-10-01", "2014-04-01", "2014-10-01", "2015-04-01", "2015-06-01")
#: Each council behaviour's switch, and the value that switches it off.
BEHAVIOURS = {
    "widen": ("programme_2012.councils.widen", False),
    "front_load": ("programme_2012.councils.front_load", False),
    "choose_improving": ("programme_2012.councils.choose_improving", False),
    "retrospective": ("programme_2012.councils.retrospective", False),
    "geography by need": ("programme_2012.councils.deprivation_power", 0.0),
    "(rule) windows may precede attachment": ("programme_2012.rules.windows_after_attachment", False),
}
_COLUMNS = PATH  # the run's own national path: (label, quantity, route)


def england(scenario, seed: int) -> dict[tuple[str, str, str], float]:
    """(date, quantity, route) -> England's cumulative count, in England's families (divided by the scale)."""
    res, cf = simulate_with_counterfactual(scenario, counterfactual(scenario), seed=seed)
    cols = table(res, cf, scenario.params.finance)
    scale = scenario.params.population.scale
    out = {}
    for d, q, r, c, v in zip(
        cols["date"], cols["quantity"], cols["route"], cols["council"], cols["value"], strict=True
    ):
        if c == ENGLAND:
            out[(str(d), q, r)] = v / scale
    return out


def half_year_table(counts: dict) -> str:
    lines = ["| date | " + " | ".join(c[0] for c in _COLUMNS) + " |", "|---|" + "---:|" * len(_COLUMNS)]
    for d in HALF_YEARS:
        cells = [f"{counts.get((d, q, r), float('nan')):,.0f}" for _, q, r in _COLUMNS]
        lines.append(f"| {_month_before(d)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _month_before(day: str) -> str:
    """'2013-04-01' -> 'Mar 2013': a count at a month's first boundary is the month before's end."""
    d = dt.date.fromisoformat(day) - dt.timedelta(days=1)
    return f"{d:%b %Y}"


def published() -> list[dict]:
    with PUBLISHED.open() as fh:
        return list(csv.DictReader(fh))


#: Published measure -> the model's (quantity, route).
_PUBLISHED_AS = {
    "identified": ("identified", "all"),
    "worked_with": ("attached", "all"),
    "turned_around": ("claimed", "results"),
    "result_crime_asb_education": ("claimed", "crime_education"),
    "result_continuous_employment": ("claimed", "employment"),
    "outcome_progress_to_work": ("claimed", "progress_to_work"),
}


def beside_published(counts: dict) -> str:
    """Each published count beside the model's at the first month boundary after its date."""
    lines = ["| as at | measure | published | model | model / published |", "|---|---|---:|---:|---:|"]
    for row in published():
        if row["measure"] not in _PUBLISHED_AS:
            continue
        q, r = _PUBLISHED_AS[row["measure"]]
        at = dt.date.fromisoformat(row["as_at"]) + dt.timedelta(days=1)
        model = counts.get((at.isoformat(), q, r))
        if model is None:
            continue
        value = float(row["value"])
        lines.append(f"| {row['as_at']} | {row['measure']} | {value:,.0f} | {model:,.0f} | {model / value:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=31)
    args = ap.parse_args(argv)
    base = load_scenario(SCENARIO).with_values({"population.scale": args.scale})
    print(f"# The 2012 programme by half-year (seed {args.seed}, {args.scale:g} of England, counts for England)\n")
    counts = england(base, args.seed)
    print(half_year_table(counts), "\n", flush=True)
    print("## Every programme effect off\n")
    print(half_year_table(england(base.with_values(counterfactual_values(base)), args.seed)), "\n", flush=True)
    print("## Each council behaviour switched off alone (at the end of May 2015)\n")
    last = HALF_YEARS[-1]
    lines = [
        "| switched off | attached | results claimed | additional | caused | anyway | not true |",
        "|---|" + "---:|" * 6,
    ]
    for name, (key, off) in {"(none)": (None, None), **BEHAVIOURS}.items():
        c = counts if key is None else england(base.with_values({key: off}), args.seed)
        cells = [c[(last, "attached", "all")]] + [
            c[(last, q, "results")]
            for q in ("claimed", "additional", "claimed_caused", "claimed_anyway", "claimed_not_true")
        ]
        lines.append(f"| {name} | " + " | ".join(f"{x:,.0f}" for x in cells) + " |")
        print(lines[-1] if len(lines) > 3 else "\n".join(lines), flush=True)
    print("\n## Beside the published counts (claims untuned)\n")
    print(beside_published(counts))


if __name__ == "__main__":
    main()
