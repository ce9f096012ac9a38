"""Payment by results inside the engine (seeds 003 and 004): attaching families and claiming results.

A key-worker start inside the programme window, by a family with enough of
the three problems (crime/ASB, education, worklessness), is an attachment.
At each claim window, attached families whose outcomes are evidenced are
claimed for. The money these earn is worked out from the claims after the
run (``flowsim.finance``). Both models call these functions with a family's
problem flags (bits CRIME, EDUCATION, WORKLESS) and when each last changed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowsim.engine.codes import (
    CLAIM_CRIME_EDUCATION,
    CLAIM_EMPLOYMENT,
    CLAIM_PROGRESS,
    CRIME,
    EDUCATION,
    OUT,
    WORKLESS,
)
from flowsim.engine.recorder import Recorder
from flowsim.engine.spec import FinanceSpec

#: An attached family still workless this long after attachment earns the progress-to-work payment.
PROGRESS_AFTER_YEARS = 0.5
_N_DOMAINS = 3

#: Given family rows, their problem flags (uint8 bits CRIME, EDUCATION, WORKLESS) and, (n, 3), when each last changed.
Domains = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def attach(f, fin: FinanceSpec, domains: Domains, ids: np.ndarray, started: np.ndarray) -> None:
    """Key-worker starts inside the programme window, by families with enough problems, are attachments.

    ``f`` is the family store (its ``t_attached``, ``attached_year`` and ``attached_domains`` columns are set).
    """
    dom, _ = domains(ids)
    problems = np.zeros(ids.size, np.int64)
    for j in range(_N_DOMAINS):
        problems += (dom >> j) & 1
    ok = (
        (started >= fin.start_t)
        & (started < fin.end_t)
        & ~np.isfinite(f.t_attached[ids])
        & (problems >= fin.min_problems)
    )
    ids, started, dom = ids[ok], started[ok], dom[ok]
    f.t_attached[ids] = started
    f.attached_year[ids] = np.maximum(np.searchsorted(fin.attach_t, started, side="right") - 1, 0)
    f.attached_domains[ids] = dom


def claim(f, fin: FinanceSpec, domains: Domains, recorder: Recorder, t: float) -> None:
    """A results claim window at ``t``: attached families whose outcomes are evidenced are claimed for.

    Employment (an adult out of worklessness for ``employment_years``) is
    claimed in preference to the crime/ASB and education result (both
    problems gone for ``evidence_years``); each family earns one of them
    once. Progress to work is claimed once for an attached workless family
    still out of work half a year on (assumption: joining the Work
    Programme or similar is that common among them).
    """
    ids = np.flatnonzero(np.isfinite(f.t_attached[: f.n]) & (f.t_attached[: f.n] < t) & (f.state[: f.n] != OUT))
    if not ids.size:
        return
    dom, since = domains(ids)
    had, done = f.attached_domains[ids], f.claimed[ids]
    result_done = (done & (CLAIM_CRIME_EDUCATION | CLAIM_EMPLOYMENT)) != 0
    emp = ((had & WORKLESS) != 0) & ((dom & WORKLESS) == 0) & (since[:, 2] <= t - fin.employment_years)
    ce = (
        ((had & (CRIME | EDUCATION)) != 0)
        & ((dom & (CRIME | EDUCATION)) == 0)
        & (since[:, 0] <= t - fin.evidence_years)
        & (since[:, 1] <= t - fin.evidence_years)
    )
    emp &= ~result_done
    ce &= ~result_done & ~emp
    progress = (
        ((had & WORKLESS) != 0)
        & ((dom & WORKLESS) != 0)
        & ((done & CLAIM_PROGRESS) == 0)
        & (f.t_attached[ids] <= t - PROGRESS_AFTER_YEARS)
        & ~emp
    )
    for mask, route in ((emp, CLAIM_EMPLOYMENT), (ce, CLAIM_CRIME_EDUCATION), (progress, CLAIM_PROGRESS)):
        if mask.any():
            f.claimed[ids[mask]] |= np.uint8(route)
            recorder.claims.append(
                (
                    np.full(int(mask.sum()), t),
                    np.full(int(mask.sum()), route, np.int8),
                    f.attached_year[ids[mask]].copy(),
                    f.key[ids[mask]].copy(),  # the family's key: a row may hold a later family
                )
            )
