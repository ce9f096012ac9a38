"""Target measures and survey-style moments, computed from a replication's Results.

The target, three ways (DESIGN.md "The target, measured three ways"):
count (families turned around by the deadline against the start stock),
coverage (share of the start stock that received key-worker intervention)
and prevalence (the stock at the deadline against the stock at the start).
Moments are measured as the Families and Children Study measured them:
the population observed at yearly waves before the start, with no new policy.
"""

from __future__ import annotations

import numpy as np

from flowsim.engine import Results
from flowsim.engine.states import TURNED_AROUND, H, S
from flowsim.timeline import to_date


def _state_at(res: Results, t: float) -> np.ndarray:
    i = int(np.searchsorted(res.boundary_t, t, side="right")) - 1
    return res.boundary_states[max(i, 0)]


def turned_around_times(res: Results) -> np.ndarray:
    """Sorted times of every key-worker success from the start (t >= 0)."""
    t, _, _, cause = res.flows
    times = t[(cause == TURNED_AROUND) & (t >= 0)]
    return np.sort(times)


def target_measures(res: Results) -> dict:
    """The three target measures at the deadline."""
    times = turned_around_times(res)
    by_deadline = int(np.searchsorted(times, res.t_deadline, side="left"))
    goal = res.target_count
    need = int(np.ceil(goal))
    date_met = to_date(float(times[need - 1]), res.start).isoformat() if need <= times.size and need > 0 else None
    if date_met is not None and times[need - 1] >= res.t_deadline:
        date_met = None
    stock_start = int(_state_at(res, 0.0)[S])
    stock_end = int(_state_at(res, res.t_deadline)[S])
    start_stock = int(res.in_start_stock.sum())
    covered = int((res.in_start_stock & res.key_worker_received).sum())
    return {
        "count": {
            "turned_around": by_deadline,
            "target": goal,
            "met": bool(by_deadline >= goal),
            "date_met": date_met,
            "shortfall": max(goal - by_deadline, 0),
        },
        "coverage": {
            "share": covered / start_stock if start_stock else 0.0,
            "families_reached": covered,
            "start_stock": start_stock,
            # Seed 000 slide 6: "every one of the stock ... could receive" an intervention.
            "met": bool(start_stock > 0 and covered == start_stock),
        },
        "prevalence": {
            "stock_start": stock_start,
            "stock_end": stock_end,
            "change": stock_end - stock_start,
            "met": bool(stock_end == 0),
        },
    }


def survey_moments(res: Results) -> dict:
    """Moments at the yearly survey waves (the last wave is the start)."""
    waves = res.wave_count
    bits = res.waves
    at_risk_per_wave = np.array([int(((bits >> w) & 1).sum()) for w in range(waves)])
    both = np.array([int((((bits >> w) & 1) & ((bits >> (w + 1)) & 1)).sum()) for w in range(waves - 1)])
    ones = np.zeros(bits.shape, np.int64)
    for w in range(waves):
        ones += (bits >> w) & 1
    wave_t = res.t_start + np.arange(waves)
    idx = np.searchsorted(res.boundary_t, wave_t)
    states = res.boundary_states[idx]
    return {
        "at_risk": float(at_risk_per_wave.mean()),
        "persistence_1y": float(both.sum() / at_risk_per_wave[:-1].sum()) if at_risk_per_wave[:-1].sum() else 0.0,
        "persistent_4_of_6": int((ones >= 4).sum()),
        "stock": float(states[:, S].mean()),
        "flow_group": float(states[:, H].mean()),
        "ever_at_risk": int((ones >= 1).sum()),
    }


def headline(res: Results, targets: dict | None = None) -> str:
    """One line answering the question, e.g. 'Target (46,000 turned around by 2015-05-31): not met — 31,250 by the deadline'."""
    m = (targets or target_measures(res))["count"]
    deadline_text = res.deadline.isoformat()
    goal = f"{m['target']:,.0f}"
    if m["met"]:
        return f"Target ({goal} turned around by {deadline_text}): met on {m['date_met']} — {m['turned_around']:,} by the deadline"
    return (
        f"Target ({goal} turned around by {deadline_text}): not met — {m['turned_around']:,} by the deadline, "
        f"{m['shortfall']:,.0f} short"
    )


def calibration_measures(res: Results) -> dict[str, float]:
    """What ``calibration/targets.toml`` compares against, in England's families (counts divided by the scale).

    The survey moments, the change in the number at risk between the first
    and last wave (``at_risk_drift``), and the key-worker programme's record
    before the start: families who started an intervention, and families
    turned around (seed 000 slide 5; OSR21/2010).
    """
    m = survey_moments(res)
    per = 1.0 / res.scale
    bits = res.waves
    first = int((bits & 1).sum())
    last = int(((bits >> (res.wave_count - 1)) & 1).sum())
    t, _, _, cause = res.flows
    out = {
        "at_risk": m["at_risk"] * per,
        "persistence_1y": m["persistence_1y"],
        "persistent_4_of_6": m["persistent_4_of_6"] * per,
        "stock": m["stock"] * per,
        "flow_group": m["flow_group"] * per,
        "at_risk_drift": (last - first) / first if first else 0.0,
        "turned_around_by_2010": float(((cause == TURNED_AROUND) & (t < 0)).sum()) * per,
    }
    prog, _, started = res.waits
    if "key_worker" in res.programme_names:
        kw = prog == res.programme_names.index("key_worker")
        out["key_worker_started_by_2010"] = float((started[kw] < 0).sum()) * per
    return out
