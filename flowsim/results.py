"""From a replication's Results to a run directory: tidy tables, summary and manifest.

Tables are long and tidy (one observation per row) and written as Parquet
with pyarrow, so the run path never imports pandas.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from flowsim import __version__
from flowsim.engine import Results
from flowsim.engine.recorder import PROGRAMME_EVENT_NAMES
from flowsim.engine.states import CAUSE_NAMES, FLOW_STATE_NAMES, STATE_NAMES
from flowsim.measures import headline, survey_moments, target_measures, turned_around_times
from flowsim.timeline import month_start, to_date

TABLES = ("states", "flows", "programmes", "targets", "waits")
#: The annual statistics view's measures, by financial year and programme.
STATISTICS_COLUMNS = (
    "families_starting",
    "families_supported",
    "exits_completed",
    "exits_dropped_out",
    "exits_turned_around",
    "exits_left_the_model",
    "cost_gbp",
)


def _month_index(t: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(t) * 12 + 1e-9).astype(np.int64)


def _dates(index: np.ndarray, start: dt.date) -> list[dt.date]:
    cache: dict[int, dt.date] = {}
    return [cache.setdefault(int(i), month_start(int(i), start)) for i in index]


def table_columns(res: Results) -> dict[str, dict[str, list | np.ndarray]]:
    """Every table as a dict of equal-length columns."""
    return {
        "states": _states(res),
        "flows": _flows(res),
        "programmes": _programmes(res),
        "targets": _targets(res),
        "waits": _waits(res),
    }


def _period(t: np.ndarray) -> list[str]:
    return ["survey" if x < 0 else "policy" for x in t]


def _states(res: Results) -> dict:
    b, k = res.boundary_states.shape
    t = np.repeat(res.boundary_t, k)
    return {
        "date": [to_date(float(x), res.start) for x in t],
        "t_years": t,
        "period": _period(t),
        "state": [STATE_NAMES[j] for j in range(k)] * b,
        "families": res.boundary_states.reshape(-1).astype(np.int64),
    }


def _flows(res: Results) -> dict:
    t, src, dst, cause = res.flows
    month = _month_index(t)
    # One integer key per (month, from, to, cause): np.unique on 1-D is far faster than on rows.
    lo = int(month.min()) if month.size else 0
    key = (((month - lo) * 8 + src.astype(np.int64)) * 8 + dst.astype(np.int64)) * 16 + cause.astype(np.int64)
    uniq, counts = np.unique(key, return_counts=True)
    rows = np.stack([uniq // 1024 + lo, uniq // 128 % 8, uniq // 16 % 8, uniq % 16], axis=1)
    return {
        "month": _dates(rows[:, 0], res.start),
        "period": _period(rows[:, 0] / 12),
        "from_state": [FLOW_STATE_NAMES[i] for i in rows[:, 1]],
        "to_state": [FLOW_STATE_NAMES[i] for i in rows[:, 2]],
        "cause": [CAUSE_NAMES[i] for i in rows[:, 3]],
        "families": counts.astype(np.int64),
    }


def _programmes(res: Results) -> dict:
    cols: dict[str, list] = {"date": [], "programme": [], "measure": [], "value": []}

    def add(dates, prog, measure, values):
        cols["date"] += dates
        cols["programme"] += [prog] * len(values)
        cols["measure"] += [measure] * len(values)
        cols["value"] += [float(v) for v in values]

    bdates = [to_date(float(x), res.start) for x in res.boundary_t]
    months = np.unique(_month_index(res.boundary_t[:-1]))  # a mid-month deadline adds a boundary
    prog_i, t, kind = res.programme_events
    w_prog, w_arr, w_start = res.waits
    month_dates = _dates(months, res.start)
    # Programme events by (programme, kind, month) in one pass; events after the last month are not shown.
    n_prog, n_kind = len(res.programme_names), len(PROGRAMME_EVENT_NAMES)
    lo = int(months.min()) if months.size else 0  # the first month shown
    rel = _month_index(t) - lo
    shown = (rel >= 0) & (rel < months.size)
    cell = (prog_i[shown].astype(np.int64) * n_kind + kind[shown]) * months.size + rel[shown]
    by_month = np.bincount(cell, minlength=n_prog * n_kind * months.size).reshape(n_prog, n_kind, months.size)
    for i, name in enumerate(res.programme_names):
        for j, measure in enumerate(("capacity", "occupied", "waiting")):
            add(bdates, name, measure, res.boundary_programmes[:, i, j])
        for measure, counts in zip(PROGRAMME_EVENT_NAMES, by_month[i], strict=True):
            add(month_dates, name, measure, counts)
        wm = w_prog == i
        wait = w_start[wm] - w_arr[wm]
        wmonth = _month_index(w_start[wm])
        inside = (wmonth >= lo) & (wmonth < lo + months.size)
        total = np.bincount(wmonth[inside] - lo, weights=wait[inside], minlength=months.size)
        count = np.bincount(wmonth[inside] - lo, minlength=months.size)
        with np.errstate(invalid="ignore"):
            add(month_dates, name, "mean_wait_years", total / count)
        order = np.argsort(wmonth, kind="stable")
        sorted_month, sorted_wait = wmonth[order], wait[order]
        cuts = np.searchsorted(sorted_month, np.append(months, months[-1] + 1 if months.size else 0))
        medians = [float(np.median(sorted_wait[a:b])) if b > a else float("nan") for a, b in zip(cuts[:-1], cuts[1:])]
        add(month_dates, name, "median_wait_years", medians)
    return cols


def _targets(res: Results) -> dict:
    policy = res.boundary_t[res.boundary_t >= 0]
    times = turned_around_times(res)
    cumulative = np.searchsorted(times, policy, side="left")
    stock = res.boundary_states[res.boundary_t >= 0][:, 3]
    n = policy.size
    dates = [to_date(float(x), res.start) for x in policy]
    return {
        "date": dates * 3,
        "measure": ["turned_around_cumulative"] * n + ["stock"] * n + ["target"] * n,
        "value": np.concatenate([cumulative, stock, np.full(n, res.target_count)]).astype(float),
    }


def _statistics(res: Results, costs: dict[str, float] | None = None) -> dict:
    """The annual statistics release: by financial year and programme, families starting, supported and leaving.

    Seed 000 slide 2: progress is measured "through data published annually on
    the number of families supported and measures of family outcomes". Families
    supported in a year are those in a place at its start plus those starting
    in it; exits are counted by how the intervention ended.
    """
    from flowsim.engine.recorder import COMPLETED, DROPPED_OUT, LEFT_MODEL, STARTED, SUCCEEDED
    from flowsim.timeline import financial_year, financial_year_starts

    prog, t, kind = res.programme_events
    fy_of = financial_year_starts(t, res.start)
    first = int(np.floor(max(res.t_start, 0.0)))
    model_years = np.arange(first, int(np.ceil(res.t_end)))
    years = zip(model_years, financial_year_starts(model_years, res.start), strict=True)
    years = [(int(y), int(fy_start), financial_year(dt.date(int(fy_start), 4, 1))) for y, fy_start in years]
    cols: dict[str, list] = {k: [] for k in ("financial_year", "programme", *STATISTICS_COLUMNS)}
    # Programme events by (programme, financial year, kind) in one pass.
    fy_lo = int(fy_of.min()) if fy_of.size else 0
    n_fy = int(fy_of.max()) - fy_lo + 1 if fy_of.size else 1
    n_kind, n_prog = len(PROGRAMME_EVENT_NAMES), len(res.programme_names)
    cell = (prog.astype(np.int64) * n_fy + (fy_of - fy_lo)) * n_kind + kind
    counts = np.bincount(cell, minlength=n_prog * n_fy * n_kind).reshape(n_prog, n_fy, n_kind)

    def events(i: int, fy_start: int, code: int) -> int:
        y = fy_start - fy_lo
        return int(counts[i, y, code]) if 0 <= y < n_fy else 0

    for i, name in enumerate(res.programme_names):
        for y, fy_start, fy in years:
            b = int(np.searchsorted(res.boundary_t, float(y)))
            at_start = int(res.boundary_programmes[b, i, 1]) if b < res.boundary_t.size else 0
            starting = events(i, fy_start, STARTED)
            cols["financial_year"].append(fy)
            cols["programme"].append(name)
            cols["families_starting"].append(starting)
            cols["families_supported"].append(at_start + starting)
            cols["exits_completed"].append(events(i, fy_start, COMPLETED))
            cols["exits_dropped_out"].append(events(i, fy_start, DROPPED_OUT))
            cols["exits_turned_around"].append(events(i, fy_start, SUCCEEDED))
            cols["exits_left_the_model"].append(events(i, fy_start, LEFT_MODEL))
            cols["cost_gbp"].append(starting * (costs or {}).get(name, 0.0))
    return cols


def _waits(res: Results) -> dict:
    prog, arrived, started = res.waits
    return {
        "programme": [res.programme_names[i] for i in prog],
        "arrived_years": arrived,
        "started_years": started,
        "wait_years": started - arrived,
    }


def summary(res: Results, scenario) -> dict:
    """The run's answers: headline, target measures, moments and programme totals."""
    targets = target_measures(res)
    prog_i, _, kind = res.programme_events
    programmes = {}
    w_prog, w_arr, w_start = res.waits
    for i, name in enumerate(res.programme_names):
        mine = kind[prog_i == i]
        waits = (w_start - w_arr)[w_prog == i]
        programmes[name] = {
            **{
                PROGRAMME_EVENT_NAMES[k].replace(" ", "_"): int((mine == k).sum())
                for k in range(len(PROGRAMME_EVENT_NAMES))
            },
            "median_wait_years": float(np.median(waits)) if waits.size else None,
        }
    return {
        "headline": headline(res, targets),
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "seed": res.seed,
        "scale": res.scale,
        "target": targets,
        "moments": survey_moments(res),
        "programmes": programmes,
        "families_tracked": res.families_tracked,
        "events": res.events,
    }


def manifest(scenario, seed: int, replications: int, started_at: dt.datetime, argv: list[str] | None = None) -> dict:
    """What the run was: the resolved scenario, its hash, versions, seed and start time."""
    import numpy
    import simpy

    return {
        "flowsim_version": __version__,
        "scenario_name": scenario.name,
        "scenario_file": scenario.path,
        "scenario_sha256": scenario.sha256,
        "overrides": list(scenario.overrides),
        "seed": seed,
        "replications": replications,
        "replication_streams": "SeedSequence(seed).spawn(n)[i] for replication i"
        if replications > 1
        else "SeedSequence(seed)",
        "started_at": started_at.isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "simpy": simpy.__version__,
        "command": argv or [],
        "scenario": scenario.resolved(),
    }


def replication_record(res: Results, scenario, keep_waits: bool = True, counterfactual: Results | None = None) -> dict:
    """One replication's summary and tables: what a run directory is written from.

    With payment by results switched on, ``counterfactual`` is the same
    replication with every programme's effect switched off; results claimed
    there would have happened anyway.
    """
    tables = table_columns(res)
    if not keep_waits:
        tables.pop("waits")
    costs = {name: getattr(scenario.params.programmes, name).cost_per_family_gbp for name in res.programme_names}
    tables["statistics"] = _statistics(res, costs)
    summ = summary(res, scenario)
    for name, prog in summ["programmes"].items():
        prog["cost_gbp"] = prog["started"] * costs[name]
    if res.finance:
        from flowsim.finance import COUNTERFACTUAL, finance_by_year, results_counts

        fin = scenario.params.finance
        rows = finance_by_year(res, fin)
        summ["finance"] = rows
        tables["finance"] = {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}
        counts = results_counts(res)
        if counterfactual is not None:
            cf = results_counts(counterfactual)["claimed"]
            counts.update(
                {
                    "counterfactual_claimed": cf,
                    "additional": counts["claimed"] - cf,
                    "deadweight_share": cf / counts["claimed"] if counts["claimed"] else 0.0,
                    "counterfactual": COUNTERFACTUAL,
                }
            )
        summ["results"] = counts
    return {"replication": res.replication, "summary": summ, "tables": tables}


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _arrow_array(values):
    """One table column as an Arrow array, built from its buffers where it can be.

    ``pyarrow.array`` imports pandas (0.2 s, a few percent of a run) to check
    what it was given, so numbers, strings and dates, the kinds the tables
    hold, are laid out here; anything else goes through ``pyarrow.array``.
    """
    import pyarrow as pa

    if isinstance(values, list) and values:
        if all(type(v) is str for v in values):
            data = [v.encode() for v in values]
            offsets = np.zeros(len(data) + 1, np.int64)
            np.cumsum([len(b) for b in data], out=offsets[1:])
            if offsets[-1] < 2**31:
                buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))]
                return pa.Array.from_buffers(pa.string(), len(data), buffers)
        elif all(type(v) is dt.date for v in values):
            days = np.array([v.toordinal() - _EPOCH for v in values], np.int32)
            return pa.Array.from_buffers(pa.date32(), days.size, [None, pa.py_buffer(days)])
        elif all(type(v) is float for v in values):
            values = np.array(values, np.float64)
        elif all(type(v) is int for v in values) and all(-(2**63) <= v < 2**63 for v in values):
            values = np.array(values, np.int64)
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        arr = np.ascontiguousarray(values)
        return pa.Array.from_buffers(pa.from_numpy_dtype(arr.dtype), arr.size, [None, pa.py_buffer(arr)])
    return pa.array(values)


def write_run(
    out_dir: Path,
    records: list[dict],
    scenario,
    seed: int,
    started_at: dt.datetime,
    argv: list[str] | None = None,
    csv: bool = False,
) -> dict:
    """Write tables (with a ``replication`` column), ``summary.json`` and ``manifest.json``; return the summary.

    With several replications the summary gives each measure as {mean, lo, hi}
    and each target's probability of being met; ``waits`` holds replication 0 only.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*TABLES, "statistics", "finance"):
        parts = [(i, r["tables"][name]) for i, r in enumerate(records) if r["tables"].get(name)]
        if not parts:
            continue
        tables = [
            pa.Table.from_arrays(
                [_arrow_array(np.full(len(next(iter(c.values()))), i, np.int32))]
                + [_arrow_array(v) for v in c.values()],
                names=["replication", *c],
            )
            for i, c in parts
        ]
        table = pa.concat_tables(tables)
        tmp = out_dir / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, out_dir / f"{name}.parquet")
        if csv:
            tmp = out_dir / f".{name}.csv.tmp"
            pacsv.write_csv(table, tmp)
            os.replace(tmp, out_dir / f"{name}.csv")
    if len(records) == 1:
        summ = records[0]["summary"]
    else:
        from flowsim.replications import summarise

        summ = summarise(records)
    _atomic_write(out_dir / "summary.json", (json.dumps(summ, indent=2) + "\n").encode())
    man = manifest(scenario, seed, len(records), started_at, argv)
    _atomic_write(out_dir / "manifest.json", (json.dumps(man, indent=2) + "\n").encode())
    from flowsim.scenario.assumptions import assumption_log

    _atomic_write(out_dir / "assumptions.json", (json.dumps(assumption_log(scenario), indent=1) + "\n").encode())
    return summ
