"""A replication's Results as tidy tables: one observation per row, ready for Parquet.

States by month, flows by month and cause, programme capacity and queues,
the target measures by month, the annual statistics view and every
admission's wait.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from flowsim.engine.codes import (
    COMPLETED,
    DROPPED_OUT,
    FLOW_STATE_NAMES,
    LEFT_MODEL,
    PROGRAMME_EVENT_NAMES,
    STARTED,
    STATE_NAMES,
    SUCCEEDED,
)
from flowsim.measures import turned_around_times
from flowsim.results import Results
from flowsim.timeline import financial_year, financial_year_starts, month_start, to_date

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
    """Every table as a dict of equal-length columns (model v2 adds problems and classifications)."""
    out = {
        "states": _states(res),
        "flows": _flows(res),
        "programmes": _programmes(res),
        "targets": _targets(res),
        "waits": _waits(res),
    }
    if res.boundary_problems is not None:
        out["problems"] = _by_boundary(res, res.problem_names, res.boundary_problems, "problem")
        out["classifications"] = classifications_table(res)
    return out


def classifications_table(res: Results) -> dict:
    """Families in each classification at every month boundary (model v2), in long form."""
    return _by_boundary(res, res.class_names, res.boundary_classes, "classification")


def _by_boundary(res: Results, names, counts: np.ndarray, column: str) -> dict:
    """Families with each problem (or in each classification) at every month boundary, in long form."""
    b, k = counts.shape
    t = np.repeat(res.boundary_t, k)
    dates = [to_date(float(x), res.start) for x in res.boundary_t]
    return {
        "date": [d for d in dates for _ in range(k)],
        "t_years": t,
        "period": _period(t),
        column: list(names) * b,
        "families": counts.reshape(-1).astype(np.int64),
    }


def with_counterfactual(actual: dict, counterfactual: dict) -> dict:
    """A classifications table with a ``programmes`` column: "on" for the run, "effects off" for its paired
    counterfactual from the start date (before it the two are one history)."""
    keep = np.asarray(counterfactual["t_years"]) >= 0
    out = {}
    for name, col in actual.items():
        other = [v for v, k in zip(counterfactual[name], keep, strict=True) if k]
        out[name] = (
            np.concatenate([np.asarray(col), np.asarray(other)]) if isinstance(col, np.ndarray) else list(col) + other
        )
    out["programmes"] = ["on"] * len(actual["t_years"]) + ["effects off"] * int(keep.sum())
    return out


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
    t, src, dst, cause = res.flows[:4]
    weight = res.flows[4] if len(res.flows) > 4 else None
    names = res.cause_names
    month = _month_index(t)
    # One integer key per (month, from, to, cause): np.unique on 1-D is far faster than on rows.
    lo = int(month.min()) if month.size else 0
    n_causes = 64
    key = (((month - lo) * 8 + src.astype(np.int64)) * 8 + dst.astype(np.int64)) * n_causes + cause.astype(np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse, weights=weight, minlength=uniq.size).astype(np.int64)
    rows = np.stack(
        [uniq // (64 * n_causes) + lo, uniq // (8 * n_causes) % 8, uniq // n_causes % 8, uniq % n_causes], axis=1
    )
    return {
        "month": _dates(rows[:, 0], res.start),
        "period": _period(rows[:, 0] / 12),
        "from_state": [FLOW_STATE_NAMES[i] for i in rows[:, 1]],
        "to_state": [FLOW_STATE_NAMES[i] for i in rows[:, 2]],
        "cause": [names[i] for i in rows[:, 3]],
        "families": counts,
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


def statistics_table(res: Results, costs: dict[str, float] | None = None) -> dict:
    """The annual statistics release: by financial year and programme, families starting, supported and leaving.

    Seed 000 slide 2: progress is measured "through data published annually on
    the number of families supported and measures of family outcomes". Families
    supported in a year are those in a place at its start plus those starting
    in it; exits are counted by how the intervention ended.
    """
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
