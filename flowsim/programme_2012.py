"""The 2012 programme as councils ran it, read from a replication: the monthly table, the summary and its lines.

Counts are cumulative at each month boundary from the programme's first
month, by council and for England (the sum of the councils). Claimed
results split three ways:

- *recorded but not true*: the council's records met the evidence rule,
  the family's true problems did not;
- *true, would have happened anyway*: true results claimed in the paired
  counterfactual (every programme's effect off, same seed, same councils);
- *true and caused*: true results claimed less those.

"Results" are the crime/ASB and education result and the employment result
(what DCLG counted as turned around); progress to work is a payment, not a
result.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

import numpy as np

from flowsim.engine.codes import CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS
from flowsim.errors import FlowsimError
from flowsim.measures import interval_label
from flowsim.results import Results
from flowsim.scenario.registry_programme_2012 import council_names
from flowsim.timeline import to_date, to_years, uk_date

ENGLAND = "England"
ROUTES = {"crime_education": CLAIM_CRIME_EDUCATION, "employment": CLAIM_EMPLOYMENT, "progress_to_work": CLAIM_PROGRESS}
COUNTS = ("identified", "eligible", "attached", "claimed", "claimed_true", "claimed_not_true")
MONEY = ("attachment_fees_gbp", "attachment_fees_held_gbp", "results_paid_gbp")


def council_key(name: str) -> str:
    """A council's name as a user may type it: lower case, letters and digits only (``barnet``, ``northyorkshire``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def council_of(scenario, name: str) -> str:
    """The council ``--council NAME`` means in this scenario, or a FlowsimError saying why there is none."""
    cfg = scenario.params.programme_2012
    if not cfg.enabled:
        raise FlowsimError(
            f"--council {name}: {scenario.path or scenario.name} does not run the 2012 programme by council "
            "(set programme_2012.enabled = true, as scenarios/tf_programme_2012.toml does)"
        )
    names = council_names() if cfg.council == "all" else [cfg.council]
    try:
        return find_council(name, names)
    except ValueError as exc:
        raise FlowsimError(f"--council: {exc}") from None


def find_council(name: str, names) -> str:
    """The council called ``name`` (any case, spaces or hyphens), or ValueError naming the closest."""
    by_key = {council_key(n): n for n in names}
    if council_key(name) in by_key:
        return by_key[council_key(name)]
    close = difflib.get_close_matches(council_key(name), list(by_key), n=3)
    hint = f"; did you mean {', '.join(by_key[c] for c in close)}?" if close else ""
    raise ValueError(f"no council called {name!r} in this run{hint}")


def _boundaries(res: Results) -> np.ndarray:
    """Month boundaries from the month of the councils' first act to the end."""
    first = min(_first_event(res.programme_2012), res.t_end)
    b = res.boundary_t
    return b[b >= np.floor(first * 12) / 12 - 1e-9]


def _first_event(p: dict) -> float:
    times = [p["identified"][0], p["attached"][0], p["claims"][0]]
    mins = [float(t.min()) for t in times if t.size]
    return min(mins, default=np.inf)


def _cumulative(t: np.ndarray, council: np.ndarray, weight, bounds: np.ndarray, n_councils: int) -> np.ndarray:
    """(B, C): the weight of events at or before each boundary, by council."""
    out = np.zeros((bounds.size, n_councils))
    if t.size:
        b = np.searchsorted(bounds, t - 1e-9, side="left")  # an event at a boundary counts from that boundary
        ok = b < bounds.size
        np.add.at(out, (b[ok], council[ok].astype(np.int64)), np.broadcast_to(weight, t.shape)[ok])
    return np.cumsum(out, axis=0)


def _fees(p: dict, fin) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each attachment's fee (GBP) and when it is paid: at attachment in year one; later, once its council has met
    the assurance rule (never, if it has not)."""
    t, council, year = p["attached"][:3]
    shares = np.array([v for _, v in fin.attachment_share], float)
    fee = shares[np.minimum(year, shares.size - 1)] * fin.max_per_family_gbp * fin.funded_share
    held = t >= p["assurance_t"]
    paid_t = np.where(held, np.maximum(t, p["assured_t"][council]), t)
    return t, fee, paid_t


def _results_paid(p: dict, fin) -> np.ndarray:
    """Each claim's payment (GBP), as ``flowsim.finance`` pays it: the employment result less any progress paid."""
    t, _, route, _, key, year = p["claims"]
    shares = np.array([v for _, v in fin.attachment_share], float)
    money = (1 - shares[np.minimum(year, shares.size - 1)]) * fin.max_per_family_gbp * fin.funded_share
    amount = np.where(
        route == CLAIM_PROGRESS,
        fin.progress_share * money,
        np.where(route == CLAIM_CRIME_EDUCATION, fin.crime_education_share * money, money),
    )
    progress = route == CLAIM_PROGRESS
    if progress.any():  # the employment result pays what progress to work has not already paid that family
        paid = dict(zip(key[progress].tolist(), amount[progress].tolist(), strict=True))
        progress_t = dict(zip(key[progress].tolist(), t[progress].tolist(), strict=True))
        for i in np.flatnonzero(route == CLAIM_EMPLOYMENT):
            k = int(key[i])
            if k in paid and progress_t[k] <= t[i]:
                amount[i] -= paid[k]
    return amount


def _claim_split(p: dict | None, bounds: np.ndarray, c: int, route_mask) -> tuple[np.ndarray, np.ndarray]:
    """(B, C) cumulative claims on ``route_mask`` and the true ones among them."""
    if p is None:
        z = np.zeros((bounds.size, c))
        return z, z
    t, council, route, true = p["claims"][:4]
    on = np.isin(route, route_mask)
    claimed = _cumulative(t[on], council[on], 1.0, bounds, c)
    return claimed, _cumulative(t[on & true], council[on & true], 1.0, bounds, c)


def _blocks(res: Results, counterfactual: Results | None, fin, bounds: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """Every (quantity, route) as (B, C): cumulative at each of ``bounds``, by council."""
    p = res.programme_2012
    c = len(p["councils"])
    cf = counterfactual.programme_2012 if counterfactual is not None else None
    t, council, weight, eligible = p["identified"]
    later = p["eligible_later"]
    blocks: dict[tuple[str, str], np.ndarray] = {
        ("allocation", "all"): np.broadcast_to(p["allocation"].astype(float), (bounds.size, c)),
        ("identified", "all"): _cumulative(t, council, weight, bounds, c),
        ("eligible", "all"): _cumulative(t[eligible], council[eligible], weight[eligible], bounds, c)
        + _cumulative(later[0], later[1], later[2], bounds, c),
        ("attached", "all"): _cumulative(p["attached"][0], p["attached"][1], 1.0, bounds, c),
    }
    routes = {**{k: [v] for k, v in ROUTES.items()}, "results": [CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT]}
    for name, mask in routes.items():
        claimed, true = _claim_split(p, bounds, c, mask)
        blocks[("claimed", name)] = claimed
        blocks[("claimed_true", name)] = true
        blocks[("claimed_not_true", name)] = claimed - true
        if cf is not None:
            cf_claimed, anyway = _claim_split(cf, bounds, c, mask)
            blocks[("claimed_anyway", name)] = anyway
            blocks[("claimed_caused", name)] = true - anyway
            blocks[("additional", name)] = claimed - cf_claimed
    at, fee, paid_t = _fees(p, fin)
    attached_council = p["attached"][1]
    ok = np.isfinite(paid_t)
    owed = _cumulative(at, attached_council, fee, bounds, c)
    paid = _cumulative(paid_t[ok], attached_council[ok], fee[ok], bounds, c)
    blocks[("attachment_fees_gbp", "all")] = paid
    blocks[("attachment_fees_held_gbp", "all")] = owed - paid
    blocks[("results_paid_gbp", "all")] = _cumulative(p["claims"][0], p["claims"][1], _results_paid(p, fin), bounds, c)
    return blocks


def table(res: Results, counterfactual: Results | None, fin) -> dict:
    """``programme_2012.parquet``: month, council (and England), route, quantity and value, cumulative counts."""
    bounds = _boundaries(res)
    dates = [to_date(float(x), res.start) for x in bounds]
    cols: dict[str, list] = {"date": [], "t_years": [], "council": [], "route": [], "quantity": [], "value": []}
    everyone = [*res.programme_2012["councils"], ENGLAND]
    for (quantity, route), block in _blocks(res, counterfactual, fin, bounds).items():
        full = np.column_stack([block, block.sum(axis=1)])  # England is the sum of its councils
        b, k = full.shape
        cols["date"] += [d for d in dates for _ in range(k)]
        cols["t_years"] += np.repeat(bounds, k).tolist()
        cols["council"] += everyone * b
        cols["route"] += [route] * (b * k)
        cols["quantity"] += [quantity] * (b * k)
        cols["value"] += full.reshape(-1).tolist()
    return cols


def summary(res: Results, counterfactual: Results | None, fin) -> dict:
    """At the deadline, for England and each council: allocation, identified, eligible, attached, results claimed
    (true, not true, anyway, caused), additional results, by-route claims and money."""
    p = res.programme_2012
    values = {}
    for (quantity, route), block in _blocks(res, counterfactual, fin, np.array([res.t_deadline])).items():
        if route in ("all", "results"):
            values[quantity] = block[0]
        elif quantity == "claimed":
            values[f"claimed_{route}"] = block[0]
    values["assurance_met"] = np.isfinite(p["assured_t"]).astype(float)
    england = {k: float(v.sum()) for k, v in values.items() if k != "assurance_met"}
    england["assurance_met_councils"] = float(values["assurance_met"].sum())
    councils = {name: {k: float(v[i]) for k, v in values.items()} for i, name in enumerate(p["councils"])}
    return {"deadline": uk_date(res.deadline), **england, "path": _path(res, counterfactual, fin), "councils": councils}


#: The national path's columns: (label, quantity, route).
PATH = (
    ("identified", "identified", "all"),
    ("attached", "attached", "all"),
    ("crime/ASB & education", "claimed", "crime_education"),
    ("employment", "claimed", "employment"),
    ("progress to work", "claimed", "progress_to_work"),
    ("additional", "additional", "results"),
    ("caused", "claimed_caused", "results"),
    ("anyway", "claimed_anyway", "results"),
    ("not true", "claimed_not_true", "results"),
)


def _path(res: Results, counterfactual: Results | None, fin) -> dict:
    """England's cumulative counts at each half-year of the programme (ends of September and March) and at the
    deadline, keyed by month ('Sep 2012'): identified, attached, results claimed by route, and the claims' split."""
    first = to_years(fin.programme_start, res.start)
    bounds = [float(t) for t in np.arange(first + 0.5, res.t_deadline + 1e-9, 0.5)]
    if not bounds or bounds[-1] < res.t_deadline - 1e-9:
        bounds.append(res.t_deadline)
    blocks = _blocks(res, counterfactual, fin, np.array(bounds))
    out = {}
    for i, t in enumerate(bounds):
        label = f"{to_date(float(t), res.start) - dt.timedelta(days=1):%b %Y}"
        out[label] = {
            key: float(blocks[(q, r)][i].sum()) for _, q, r in PATH if (q, r) in blocks for key in [q + "|" + r]
        }
    return out


def lines(summ: dict, council: str | None = None) -> list[str]:
    """The 2012 programme's block: identified, attached and claimed at the deadline, with additional results."""
    block = summ["programme_2012"]
    where = ENGLAND if len(block["councils"]) > 1 else next(iter(block["councils"]))
    if council is not None:
        where = find_council(council, block["councils"])
        block = block["councils"][where]

    def v(key):
        x = block.get(key)
        return x["mean"] if isinstance(x, dict) else x

    def n(key):
        x = v(key)
        return "–" if x is None else f"{x:,.0f}"

    def interval(key):
        x = block.get(key)
        return f" ({interval_label(x)} {x['lo']:,.0f}–{x['hi']:,.0f})" if isinstance(x, dict) else ""

    def _share(key):
        x, alloc = v(key), v("allocation")
        return "–" if x is None or not alloc else f"{x / alloc:.0%}"

    deadline = summ["programme_2012"]["deadline"]
    out = [
        f"2012 programme, {where}, by {deadline}: {n('identified')} families identified ({n('eligible')} eligible for "
        f"payment by results), {n('attached')} attached of {n('allocation')} allocated",
        f"  results claimed (definition b: the framework's results as councils' records show them, against the "
        f"allocation): {n('claimed')}{interval('claimed')} of {n('allocation')} allocated ({_share('claimed')}): "
        f"{n('claimed_crime_education')} crime/ASB and education, {n('claimed_employment')} employment; "
        f"{n('claimed_progress_to_work')} progress-to-work payments (not results)",
    ]
    if block.get("additional") is not None:
        out.append(
            f"  additional results: {n('additional')}{interval('additional')} — of the claims, {n('claimed_caused')} "
            f"true and caused, {n('claimed_anyway')} true but would have happened anyway, {n('claimed_not_true')} "
            "recorded but not true"
        )
    else:
        out.append(f"  of the claims, {n('claimed_not_true')} recorded but not true")
    path = summ["programme_2012"].get("path") if council is None else None  # the councils run, summed
    if path:
        cols = [c for c in PATH if f"{c[1]}|{c[2]}" in next(iter(path.values()))]
        widths = [max(len(label), 9) for label, _, _ in cols]
        whose = "the national path" if where == ENGLAND else f"{where}'s path"
        out.append(f"  {whose} (cumulative; results claimed by route, and their split):")
        out.append(
            "    " + f"{'':9s}" + "".join(f"  {label:>{w}s}" for (label, _, _), w in zip(cols, widths, strict=True))
        )
        for month, row in path.items():
            cells = []
            for (_, q, r), w in zip(cols, widths, strict=True):
                x = row[f"{q}|{r}"]
                x = x["mean"] if isinstance(x, dict) else x
                cells.append(f"  {x:>{w},.0f}")
            out.append(f"    {month:9s}" + "".join(cells))
    return out
