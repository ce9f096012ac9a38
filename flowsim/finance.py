"""Payment by results (seeds 003 and 004): attachment fees, results payments and money at risk by financial year.

A family attached in programme year y earns its council ``a_y x max`` on
attachment and up to ``(1 - a_y) x max`` on results: the crime/ASB and
education result ``crime_education_share`` of that, progress to work
``progress_share`` of it, or the employment result all of it (less any
progress payment already made, so no family earns more than the maximum).
Only ``funded_share`` of families are paid for.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from flowsim.engine.codes import CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS
from flowsim.results import Results
from flowsim.timeline import financial_year, financial_year_starts, to_date

COUNTERFACTUAL = "every programme's effect switched off (places, queues and attendance as they were), same seed"


def counterfactual_values(scenario) -> dict[str, float]:
    """Values that keep the programmes' places and queues but switch off everything they achieve.

    Every hazard ratio on problems goes back to 1 (the families are still referred, wait, attend and are followed up).
    """
    out: dict[str, float] = {}
    for name, prog in scenario.params.programmes:
        if not prog.enabled:
            continue
        for kind in ("resolution_hr", "onset_hr"):
            table = getattr(prog, kind, None)
            for problem, _ in table if table is not None else []:
                out[f"programmes.{name}.{kind}.{problem}"] = 1.0
        if getattr(prog, "key_worker_effect_share", 0.0):  # a lead worker's share of the key worker's effects
            out[f"programmes.{name}.key_worker_effect_share"] = 0.0
    return out


def counterfactual(scenario):
    """The scenario with every programme's effect switched off (:func:`counterfactual_values`)."""
    return scenario.with_values(counterfactual_values(scenario), origin="counterfactual")


def _payments(res: Results, fin) -> tuple[list[tuple[float, float, str]], np.ndarray]:
    """Every payment as (time, GBP, kind), and each attachment's results money (GBP)."""
    shares = np.array([v for _, v in fin.attachment_share], float)
    m, funded = fin.max_per_family_gbp, fin.funded_share
    pay: list[tuple[float, float, str]] = []
    a = shares[res.attached_year] if res.attached_year.size else np.zeros(0)
    for t, share in zip(res.attached_t, a, strict=True):
        pay.append((float(t), share * m * funded, "attachment"))
    t, route, year, fam = res.claims
    progress_paid: dict[int, float] = {}
    for ti, r, y, i in sorted(zip(t, route, year, fam, strict=True)):
        results_money = (1 - shares[y]) * m * funded
        if r == CLAIM_PROGRESS:
            amount = fin.progress_share * results_money
            progress_paid[int(i)] = amount
        elif r == CLAIM_CRIME_EDUCATION:
            amount = fin.crime_education_share * results_money
        else:
            amount = results_money - progress_paid.get(int(i), 0.0)
        pay.append((float(ti), amount, "results"))
    return pay, (1 - a) * m * funded


def results_counts(res: Results) -> dict:
    """Families turned around under the DCLG definition (crime/education or employment result) by the deadline."""
    t, route, _, _ = res.claims
    result = (route == CLAIM_CRIME_EDUCATION) | (route == CLAIM_EMPLOYMENT)
    by_deadline = t < res.t_deadline
    return {
        "attached": int(res.attached_t.size),
        "claimed": int((result & by_deadline).sum()),
        "crime_education": int(((route == CLAIM_CRIME_EDUCATION) & by_deadline).sum()),
        "employment": int(((route == CLAIM_EMPLOYMENT) & by_deadline).sum()),
        "progress_to_work": int(((route == CLAIM_PROGRESS) & by_deadline).sum()),
    }


def finance_by_year(res: Results, fin) -> list[dict]:
    """By financial year: attachment fees paid, results paid, money at risk at the year's end, cost per result."""
    pay, results_money = _payments(res, fin)
    t_claims, route, _, _ = res.claims
    results_t = t_claims[(route == CLAIM_CRIME_EDUCATION) | (route == CLAIM_EMPLOYMENT)]
    if not pay:
        return []
    start = to_date(min(p[0] for p in pay), res.start)
    end = to_date(res.t_end, res.start)
    first = start.year if start.month >= 4 else start.year - 1
    last = end.year if end.month >= 4 else end.year - 1
    pay_t = np.array([p[0] for p in pay])
    pay_gbp = np.array([p[1] for p in pay])
    is_results = np.array([p[2] == "results" for p in pay])
    pay_fy = financial_year_starts(pay_t, res.start)
    rows, paid_total, results_total = [], 0.0, 0
    for y in range(first, last + 1):
        fy = financial_year(dt.date(y, 4, 1))
        in_year = pay_fy == y
        attach = float(pay_gbp[in_year & ~is_results].sum())
        results = float(pay_gbp[in_year & is_results].sum())
        paid_total += attach + results
        fy_end = (y + 1 - res.start.year) + (4 - res.start.month) / 12  # 1 April of the next year, in model years
        earned = float(pay_gbp[is_results & (pay_t < fy_end)].sum())
        at_risk = float(results_money[res.attached_t < fy_end].sum()) - earned
        results_total = int((results_t < fy_end).sum())
        rows.append(
            {
                "financial_year": fy,
                "families_attached": int(((res.attached_t >= fy_end - 1) & (res.attached_t < fy_end)).sum()),
                "attachment_paid_gbp": round(attach, 2),
                "results_paid_gbp": round(results, 2),
                "money_at_risk_gbp": round(at_risk, 2),
                "families_turned_around_to_date": results_total,
                "cost_per_family_turned_around_gbp": round(paid_total / results_total, 2) if results_total else None,
            }
        )
    return rows
