"""The compiled event loop of model v2: each family's problems beginning and ending, a month at a time.

A family carries risk factors (bits), problems (bits) with the time each
began, and programme status. Its events are:

- a memoryless competing clock (``t_haz``) for every absent problem's onset,
  the trigger events (separation, repartnering, birth, eviction, a crisis),
  leaving the model, identification and referrals. Every rate depends on the
  family's current factors and problems, so after any change the clock is
  redrawn, which is exact for a memoryless clock;
- each present problem's resolution time (``end``), drawn when it begins from
  a Weibull distribution whose hazard is multiplied by the family's factors,
  its other problems, its frailty and any programme it attends. When one of
  those multipliers changes, the remaining time is rescaled exactly: the
  integrated hazard still to run is kept and divided by the new multiplier;
- deterministic times: programme ends, the youngest child turning five, an
  after-effect ending, the six-month follow-up of a family turned around.

Classifications (at risk, stock, flow group, ...) are functions of the
problems (``derived_state``), recomputed after every change; a change of
classification is a flow. Shared effects go to buffers that the caller
empties.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from flowsim.engine.cache import cache_dir_of, refresh_cache, sources_digest
from flowsim.engine.codes import (
    BIRTH,
    COMPLETED,
    DECLINED,
    DRAW_ACCEPT,
    DRAW_CLOCK,
    DRAW_DURATION,
    DRAW_EVENT,
    DRAW_LINK,
    DRAW_PROFILE,
    DRAW_ROULETTE,
    DROPPED_OUT,
    ENROLLED,
    FIRST_PROGRAMME,
    JOB_LOSS,
    LEFT_MODEL,
    N_TRIGGERS,
    NONE,
    OUT,
    PER_PROGRAMME,
    REFERRED,
    REPARTNERING,
    SEPARATION,
    SUCCEEDED,
    TARGET_FLOW_GROUP,
    TARGET_MULTIPLY_DISADVANTAGED,
    TARGET_STOCK,
    TARGET_TROUBLED,
    WAITING,
    WITHDREW,
    G,
    H,
    R,
    S,
)

INF = np.inf
# Counters in Buffers.n.
N_FLOW, N_PROG_EVENT, N_RELEASE, N_JOIN, N_TRIGGER, N_EVENTS, N_EXIT, N_SPLIT, N_SUCCESS, N_DROP, N_OUTCOME = range(11)

#: The family columns the kernel reads and writes.
FamilyColumns = namedtuple(
    "FamilyColumns",
    [
        "t_haz",
        "t_prog",
        "t_change",
        "t_resolve",
        "t_last",
        "key",
        "under5_until",
        "z",
        "followup_until",
        "factors",
        "problems",
        "crisis",
        "since",
        "end",
        "draws",
        "prog_end",
        "after_until",
        "effect_on",
        "prog_dropout",
        "released_early",
        "council",
        "start_state",
        "start_target",
        "start_problems",
        "followup_origin",
        "followup_programme",
        "counted",
        "state",
        "prog_status",
        "t_due",
        "weight",
        "attached",
        "in_start_stock",
    ],
)

#: A run's constants.
Constants = namedtuple(
    "Constants",
    [
        "seed",
        "salt",
        # problems
        "onset_log",  # (2**F, NP) log onset hazard from the factors (and the risk index), -inf for none
        "onset_rate",  # exp(onset_log)
        "co_on_mult",  # exp(co_on)
        "trig_rate",  # exp(trig_log)
        "trig_co_mult",  # exp(trig_co)
        "prog_on_mult",  # exp(prog_on)
        "trig_any",  # (NT,) bool: the trigger starts or ends any problem, or can be a crisis
        "res_log",  # (2**F, NP) log resolution multiplier from the factors
        "co_on",  # (NP, NP) log onset multiplier of problem p (column) when q (row) is present
        "co_res",  # (NP, NP) log resolution multiplier likewise
        "link_start",  # (NP, NP) chance that p begins when q begins
        "link_end",  # (NP, NP) chance that p ends when q ends
        "lam",  # (NP,) Weibull scale of an ordinary spell (years)
        "shape",  # (NP,) Weibull shape of an ordinary spell
        "lam_c",  # (NP,) Weibull scale of a spell begun by a crisis
        "shape_c",  # (NP,) its shape
        "frailty_on",  # (NP + 1,) 1.0 where the frailty multiplies the onset hazard (last entry: triggers)
        "frailty_res",  # exponent: resolution hazard x z ** -frailty_res
        # triggers
        "trig_log",  # (2**F, NT) log trigger hazard from the factors
        "trig_co",  # (NP, NT) log trigger multiplier when problem q is present
        "trig_start",  # (NT, NP) chance the trigger starts problem p
        "trig_end",  # (NT, NP) chance the trigger ends problem p
        "trig_crisis",  # (NT,) chance the trigger is a crisis
        "crisis_start",  # (NP,) chance a crisis starts problem p (with crisis durations)
        "lone_bit",  # factor bit of a lone parent
        "under5_bit",  # factor bit of a child under 5
        "under5_years",
        "workless",  # problem index of worklessness (a job loss)
        "exit_rate",  # hazard of leaving the model when no child is under 5 (per year)
        # classification
        "risk_mask",
        "risk_k",
        "child_mask",
        "driver_mask",
        "driver_factors",
        "driver_k",  # drivers of child problems a family at risk needs to be in the flow group
        "setf_mask",
        "troubled_mask",
        "local_mask",
        "target",
        "followup_years",
        "sample_weight",  # families a sampled family stands for (1: every family tracked)
        # identification and programmes
        "key_worker",
        "id_fip",
        "id_new",
        "councils",
        "rollout_t",
        "rollout_share",
        "referred",
        "open_t",
        "group_mask",
        "eligible",  # (P, 6) bool by derived state
        "prog_need",  # (P,) uint16 risk factors a family must all have now to be referred (a birth can add one)
        "needs_mask",
        "needs_any",
        "needs_problems",  # (P,) uint16 problems that must all be present
        "referral_rate",
        "p_accept",
        "effect_years_after",
        "prog_on",  # (P, NP) log onset multiplier while the effect lasts
        "prog_res",  # (P, NP) log resolution multiplier while the effect lasts
        "turns_around",  # (P,) bool: ending it can turn a family around
    ],
)

#: Output buffers, emptied by the caller.
Buffers = namedtuple(
    "Buffers",
    [
        "n",
        "waiting",
        "flow_t",
        "flow_src",
        "flow_dst",
        "flow_cause",
        "flow_w",
        "pe_prog",
        "pe_t",
        "pe_kind",
        "rel_prog",
        "rel_t",
        "join_prog",
        "join_id",
        "join_t",
        "trig_kind",
        "trig_w",
        "exit_id",
        "exit_t",
        "split_id",
        "split_t",
        "drop_id",
        "succ_t",
        "succ_origin",
        "succ_prog",
        "succ_key",
        "out_prog",  # outcomes of interventions that can turn a family around: programme, end time,
        "out_t",  # problems at the start and at the end, and whether it was completed
        "out_start",
        "out_end",
        "out_completed",
        "scratch",
        "scratch_of",  # (2,) float64: the family whose rates ``scratch`` holds, and their sum
    ],
)


def new_buffers(size: int, n_programmes: int, n_rates: int) -> Buffers:
    """Empty buffers: ``size`` flows, triggers, exits, splits and successes; more programme events."""
    pe = size * (n_programmes + 1)
    f8, i8, i16, i32, i64 = np.float64, np.int8, np.int16, np.int32, np.int64
    return Buffers(
        n=np.zeros(12, i64),
        waiting=np.zeros(n_programmes, i64),
        flow_t=np.empty(size, f8),
        flow_src=np.empty(size, i8),
        flow_dst=np.empty(size, i8),
        flow_cause=np.empty(size, i16),
        flow_w=np.empty(size, i32),
        pe_prog=np.empty(pe, i8),
        pe_t=np.empty(pe, f8),
        pe_kind=np.empty(pe, i8),
        rel_prog=np.empty(size, i64),
        rel_t=np.empty(size, f8),
        join_prog=np.empty(size, i64),
        join_id=np.empty(size, i64),
        join_t=np.empty(size, f8),
        trig_kind=np.empty(size, i8),
        trig_w=np.empty(size, i32),
        exit_id=np.empty(size, i64),
        exit_t=np.empty(size, f8),
        split_id=np.empty(size, i64),
        split_t=np.empty(size, f8),
        drop_id=np.empty(size, i64),
        succ_t=np.empty(size, f8),
        succ_origin=np.empty(size, i8),
        succ_prog=np.empty(size, i8),
        succ_key=np.empty(size, np.uint64),
        out_prog=np.empty(size, i8),
        out_t=np.empty(size, f8),
        out_start=np.empty(size, np.uint16),
        out_end=np.empty(size, np.uint16),
        out_completed=np.empty(size, np.bool_),
        scratch=np.empty(n_rates, f8),
        scratch_of=np.full(2, -1.0),
    )


# --- counter-based random numbers (as engine.crn; the same hash) ---------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


@njit(cache=True, inline="always", _nrt=False)
def _mix(x):
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always", _nrt=False)
def _raw(fam, c, i, purpose, counter):
    x = fam.key[i] ^ _mix(counter + c.salt[purpose])
    z = _mix(x ^ c.seed)
    return (np.float64(z >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always", _nrt=False)
def uniform(fam, c, i, purpose):
    """One uniform in (0, 1) for family ``i``, using up its next draw for ``purpose``."""
    k = fam.draws[i, purpose]
    fam.draws[i, purpose] = k + 1
    return _raw(fam, c, i, purpose, np.uint64(k))


@njit(cache=True, inline="always", _nrt=False)
def episode_uniform(fam, c, i, p, what):
    """A uniform for draw ``what`` of family ``i``'s current referral to programme ``p``."""
    return _raw(fam, c, i, FIRST_PROGRAMME + PER_PROGRAMME * p + what, np.uint64(fam.draws[i, FIRST_PROGRAMME + p]))


# --- classifications ---------------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def popcount(bits):
    x = np.int64(bits)
    n = 0
    while x != 0:
        x = x & (x - np.int64(1))
        n += 1
    return n


@njit(cache=True, inline="always", _nrt=False)
def derived_state(c, problems, factors):
    """G (not at risk), R (at risk), H (flow group) or S (stock), from the family's problems and factors."""
    if popcount(problems & c.risk_mask) < c.risk_k:
        return G
    if problems & c.child_mask:
        return S
    if popcount(problems & c.driver_mask) + popcount(factors & c.driver_factors) >= c.driver_k:
        return H
    return R


@njit(cache=True, inline="always", _nrt=False)
def is_troubled(c, problems):
    """The 2012 financial framework: all three of crime/ASB, education and worklessness, or two and a local criterion."""
    n = popcount(problems & c.troubled_mask)
    return n == 3 or (n == 2 and (problems & c.local_mask) != 0)


@njit(cache=True, inline="always", _nrt=False)
def in_target(c, problems, factors):
    """Whether a family with these problems is in the scenario's target population."""
    t = c.target
    if t == TARGET_TROUBLED:
        return is_troubled(c, problems)
    if t == TARGET_MULTIPLY_DISADVANTAGED:
        return popcount(problems & c.setf_mask) >= 5
    st = derived_state(c, problems, factors)
    if t == TARGET_STOCK:
        return st == S
    if t == TARGET_FLOW_GROUP:
        return st == H
    return st != G


# --- hazards and durations ----------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def res_log_multiplier(fam, c, i, p):
    """Log of the multiplier on problem ``p``'s resolution hazard now: factors, other problems, programmes, frailty."""
    out = c.res_log[fam.factors[i], p]
    probs = fam.problems[i]
    for q in range(c.co_res.shape[0]):
        if q != p and (probs >> q) & 1:
            out += c.co_res[q, p]
    for k in range(c.prog_res.shape[0]):
        if fam.effect_on[i, k]:
            out += c.prog_res[k, p]
    if c.frailty_res != 0.0:
        out -= c.frailty_res * np.log(fam.z[i])
    return out


@njit(cache=True, inline="always", _nrt=False)
def draw_end(fam, c, i, p, t):
    """Problem ``p`` began at ``t``: draw when it ends (Weibull, scaled by the resolution multiplier)."""
    crisis = (fam.crisis[i] >> p) & 1
    lam = c.lam_c[p] if crisis else c.lam[p]
    shape = c.shape_c[p] if crisis else c.shape[p]
    if not np.isfinite(lam):
        fam.end[i, p] = INF
        return
    e = -np.log(uniform(fam, c, i, DRAW_DURATION)) * np.exp(-res_log_multiplier(fam, c, i, p))
    d = lam * e if shape == 1.0 else lam * e ** (1.0 / shape)
    fam.end[i, p] = t + d


@njit(cache=True, inline="always", _nrt=False)
def rescale(fam, c, i, p, t, delta):
    """Problem ``p``'s resolution multiplier changed by ``exp(delta)`` at ``t``: keep the hazard still to run."""
    if delta == 0.0:
        return
    end = fam.end[i, p]
    if not np.isfinite(end):
        return
    crisis = (fam.crisis[i] >> p) & 1
    lam = c.lam_c[p] if crisis else c.lam[p]
    shape = c.shape_c[p] if crisis else c.shape[p]
    start = fam.since[i, p]
    d0 = max(t - start, 0.0)
    d1 = max(end - start, d0)
    f = np.exp(-delta)
    if shape == 1.0:
        fam.end[i, p] = start + d0 + (d1 - d0) * f
    else:
        h0 = (d0 / lam) ** shape
        h1 = (d1 / lam) ** shape
        fam.end[i, p] = start + lam * (h0 + (h1 - h0) * f) ** (1.0 / shape)


@njit(cache=True, inline="always", _nrt=False)
def rescale_for_problem(fam, c, i, q, t, sign):
    """Problem ``q`` began (sign +1) or ended (-1): rescale the other present problems' resolution times."""
    probs = fam.problems[i]
    for p in range(c.co_res.shape[0]):
        if p != q and (probs >> p) & 1 and c.co_res[q, p] != 0.0:
            rescale(fam, c, i, p, t, sign * c.co_res[q, p])


@njit(cache=True, inline="always", _nrt=False)
def rescale_for_factors(fam, c, i, t, old, new):
    probs = fam.problems[i]
    for p in range(c.res_log.shape[1]):
        if (probs >> p) & 1:
            rescale(fam, c, i, p, t, c.res_log[new, p] - c.res_log[old, p])


@njit(cache=True, inline="always", _nrt=False)
def rescale_for_programme(fam, c, i, k, t, sign):
    probs = fam.problems[i]
    for p in range(c.prog_res.shape[1]):
        if (probs >> p) & 1 and c.prog_res[k, p] != 0.0:
            rescale(fam, c, i, p, t, sign * c.prog_res[k, p])


@njit(cache=True, inline="always", _nrt=False)
def update_resolve(fam, i):
    first = INF
    for p in range(fam.end.shape[1]):
        e = fam.end[i, p]
        if e < first:
            first = e
    fam.t_resolve[i] = first


@njit(cache=True, inline="always", _nrt=False)
def rates(fam, c, i, t, out):
    """Family ``i``'s competing hazards per year at ``t``, written to ``out``; returns their sum.

    Columns: problem onsets (NP), triggers (NT), leaving the model, identification, referrals.
    Rates start from the factor tables (already exponentiated); each present problem and
    each running programme effect then multiplies in its row (a family has few of either).
    """
    n_p = c.co_on.shape[0]
    n_t = c.trig_co.shape[1]
    probs = fam.problems[i]
    f = fam.factors[i]
    st = fam.state[i]
    for p in range(n_p):
        out[p] = c.onset_rate[f, p]
    for k in range(n_t):
        out[n_p + k] = c.trig_rate[f, k]
    x = np.int64(probs)
    q = 0
    while x != 0:
        if x & 1:
            for p in range(n_p):
                out[p] *= c.co_on_mult[q, p]
            for k in range(n_t):
                out[n_p + k] *= c.trig_co_mult[q, k]
        x >>= 1
        q += 1
    involved = 0
    enrolled = 0
    for k in range(c.open_t.size):
        if fam.effect_on[i, k]:
            for p in range(n_p):
                out[p] *= c.prog_on_mult[k, p]
        status = fam.prog_status[i, k]
        if status != NONE:
            involved |= 1 << k
            if status == ENROLLED:
                enrolled |= 1 << k
    if c.frailty_on[0] != 0.0:
        zf = fam.z[i]
        for p in range(n_p):
            out[p] *= zf
        for k in range(n_t):
            if k != REPARTNERING:
                out[n_p + k] *= zf
    for p in range(n_p):
        if (probs >> p) & 1:
            out[p] = 0.0
    lone = (f >> c.lone_bit) & 1
    out[n_p + JOB_LOSS] = 0.0
    if lone:
        out[n_p + SEPARATION] = 0.0
    else:
        out[n_p + REPARTNERING] = 0.0
    base = n_p + n_t
    out[base] = 0.0 if (f >> c.under5_bit) & 1 else c.exit_rate
    out[base + 1] = 0.0
    kw = c.key_worker
    if kw >= 0 and c.eligible[kw, st] and (involved & c.group_mask[kw]) == 0 and t >= c.open_t[kw]:
        share = 0.0
        for j in range(c.rollout_t.size):
            if c.rollout_t[j] <= t:
                share = c.rollout_share[j]
        covered = 1.0 if fam.council[i] < share * c.councils else 0.0
        out[base + 1] = c.id_fip + c.id_new * covered
    for col in range(c.referred.size):
        k = c.referred[col]
        ok = (
            t >= c.open_t[k]
            and c.eligible[k, st]
            and (f & c.prog_need[k]) == c.prog_need[k]
            and (involved & c.group_mask[k]) == 0
            and (not c.needs_any[k] or (enrolled & c.needs_mask[k]) != 0)
        )
        m = c.needs_problems[k]
        if ok and m != 0:
            ok = (probs & m) == m
        out[base + 2 + col] = c.referral_rate[k] if ok else 0.0
    total = 0.0
    for j in range(out.size):
        total += out[j]
    return total


@njit(cache=True, inline="always", _nrt=False)
def redraw(fam, c, i, t, scratch, scratch_of):
    """Draw family ``i``'s next competing-hazard event from ``t`` (memoryless, so exact after any change).

    The rates stay in ``scratch`` (``scratch_of`` says whose): if this family's clock fires
    next, with nothing changed in between, they need not be worked out again.
    """
    total = rates(fam, c, i, t, scratch)
    scratch_of[0] = i
    scratch_of[1] = total
    wait = -np.log(uniform(fam, c, i, DRAW_CLOCK))
    fam.t_haz[i] = t + wait / total if total > 0 else INF


@njit(cache=True, inline="always", _nrt=False)
def next_change(fam, c, i, t):
    """When family ``i``'s hazards next change by themselves: a child turns five, an after-effect ends, a follow-up."""
    cand = INF
    u5 = fam.under5_until[i]
    if u5 > t and u5 < cand:
        cand = u5
    fu = fam.followup_until[i]
    if fu > t and fu < cand:
        cand = fu
    for k in range(fam.after_until.shape[1]):
        a = fam.after_until[i, k]
        if fam.effect_on[i, k] and a > t and a < cand:
            cand = a
    fam.t_change[i] = cand


@njit(cache=True, inline="always", _nrt=False)
def t_next(fam, i):
    return min(min(fam.t_haz[i], fam.t_prog[i]), min(fam.t_change[i], fam.t_resolve[i]))


# --- events ------------------------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def _programme_event(buf, k, t, kind):
    n = buf.n[N_PROG_EVENT]
    buf.pe_prog[n] = k
    buf.pe_t[n] = t
    buf.pe_kind[n] = kind
    buf.n[N_PROG_EVENT] = n + 1


@njit(cache=True, inline="always", _nrt=False)
def _release(buf, fam, k, i, t):
    if fam.released_early[i, k]:
        return
    n = buf.n[N_RELEASE]
    buf.rel_prog[n] = k
    buf.rel_t[n] = t
    buf.n[N_RELEASE] = n + 1


@njit(cache=True, inline="always", _nrt=False)
def begin(fam, c, i, p, t, crisis):
    """Problem ``p`` begins at ``t`` (``crisis``: begun by a crisis, with crisis durations)."""
    bit = np.uint16(1 << p)
    rescale_for_problem(fam, c, i, p, t, 1.0)  # before p is set: its own multiplier is drawn below
    fam.problems[i] |= bit
    if crisis:
        fam.crisis[i] |= bit
    else:
        fam.crisis[i] &= np.uint16(~bit & 0xFFFF)
    fam.since[i, p] = t
    draw_end(fam, c, i, p, t)


@njit(cache=True, inline="always", _nrt=False)
def finish(fam, c, i, p, t):
    """Problem ``p`` ends at ``t``."""
    bit = np.uint16(1 << p)
    fam.problems[i] &= np.uint16(~bit & 0xFFFF)
    fam.crisis[i] &= np.uint16(~bit & 0xFFFF)
    fam.since[i, p] = t
    fam.end[i, p] = INF
    rescale_for_problem(fam, c, i, p, t, -1.0)


@njit(cache=True, inline="always", _nrt=False)
def begin_linked(fam, c, i, p, t):
    """Problem ``p`` began: each problem linked to it begins too, with its chance (one level, no chains)."""
    for q in range(c.link_start.shape[1]):
        if c.link_start[p, q] > 0.0 and not (fam.problems[i] >> q) & 1:
            if uniform(fam, c, i, DRAW_LINK) < c.link_start[p, q]:
                begin(fam, c, i, q, t, False)


@njit(cache=True, inline="always", _nrt=False)
def finish_linked(fam, c, i, p, t):
    for q in range(c.link_end.shape[1]):
        if c.link_end[p, q] > 0.0 and (fam.problems[i] >> q) & 1:
            if uniform(fam, c, i, DRAW_LINK) < c.link_end[p, q]:
                finish(fam, c, i, q, t)


@njit(cache=True, inline="always", _nrt=False)
def apply_profile(fam, c, i, k, t):
    """Trigger ``k``'s effect on problems: it may be a crisis (problems begin with crisis durations); it starts
    and ends problems with their chances."""
    if not c.trig_any[k]:
        return
    is_crisis = uniform(fam, c, i, DRAW_PROFILE) < c.trig_crisis[k]
    for p in range(c.trig_start.shape[1]):
        u = uniform(fam, c, i, DRAW_PROFILE)
        if (fam.problems[i] >> p) & 1:
            if u < c.trig_end[k, p]:
                finish(fam, c, i, p, t)
        elif is_crisis and u < c.crisis_start[p]:
            begin(fam, c, i, p, t, True)
        elif u < c.trig_start[k, p]:
            begin(fam, c, i, p, t, False)


@njit(cache=True, inline="always", _nrt=False)
def set_factors(fam, c, i, t, new):
    old = fam.factors[i]
    if new != old:
        rescale_for_factors(fam, c, i, t, old, new)
        fam.factors[i] = new


@njit(cache=True, inline="always", _nrt=False)
def refer(fam, c, buf, k, i, t):
    fam.draws[i, FIRST_PROGRAMME + k] += 1  # a new referral: its draws use the next counter
    accept = episode_uniform(fam, c, i, k, DRAW_ACCEPT) < c.p_accept[k]
    _programme_event(buf, k, t, REFERRED)
    if not accept:
        _programme_event(buf, k, t, DECLINED)
        return
    fam.prog_status[i, k] = WAITING
    buf.waiting[k] += 1
    n = buf.n[N_JOIN]
    buf.join_prog[n] = k
    buf.join_id[n] = i
    buf.join_t[n] = t
    buf.n[N_JOIN] = n + 1


@njit(cache=True, inline="always", _nrt=False)
def _pick(weights, total, u):
    target = u * total
    cum = 0.0
    count = 0
    for k in range(weights.size):
        cum += weights[k]
        if cum <= target:
            count += 1
    return min(count, weights.size - 1)


@njit(cache=True, inline="always", _nrt=False)
def on_hazard(fam, c, buf, i, t, scratch):
    """The competing clock fired: an onset, a trigger, leaving, identification or a referral. Returns -1, or the
    cause code of what happened (problem onset p: p; trigger k: 2 NP + k; leaving: -2)."""
    n_p = c.co_on.shape[0]
    n_t = c.trig_co.shape[1]
    total = buf.scratch_of[1] if buf.scratch_of[0] == i else rates(fam, c, i, t, scratch)
    buf.scratch_of[0] = -1.0
    event = _pick(scratch, total, uniform(fam, c, i, DRAW_EVENT))
    if event < n_p:
        begin(fam, c, i, event, t, False)
        begin_linked(fam, c, i, event, t)
        if event == c.workless:
            n = buf.n[N_TRIGGER]
            buf.trig_kind[n] = JOB_LOSS
            buf.trig_w[n] = fam.weight[i]
            buf.n[N_TRIGGER] = n + 1
            apply_profile(fam, c, i, JOB_LOSS, t)
        return event
    if event < n_p + n_t:
        k = event - n_p
        n = buf.n[N_TRIGGER]
        buf.trig_kind[n] = k
        buf.trig_w[n] = fam.weight[i]
        buf.n[N_TRIGGER] = n + 1
        f = fam.factors[i]
        if k == SEPARATION:
            set_factors(fam, c, i, t, f | np.uint16(1 << c.lone_bit))
        elif k == REPARTNERING:
            set_factors(fam, c, i, t, f & np.uint16(~(1 << c.lone_bit) & 0xFFFF))
        elif k == BIRTH:
            set_factors(fam, c, i, t, f | np.uint16(1 << c.under5_bit))
            fam.under5_until[i] = t + c.under5_years
        apply_profile(fam, c, i, k, t)
        return 2 * n_p + k
    if event == n_p + n_t:
        return -2
    if event == n_p + n_t + 1:
        if c.key_worker >= 0:
            refer(fam, c, buf, c.key_worker, i, t)
        return -1
    refer(fam, c, buf, c.referred[event - n_p - n_t - 2], i, t)
    return -1


@njit(cache=True, inline="always", _nrt=False)
def on_exit(fam, c, buf, i, t):
    """Family ``i`` leaves the model (its youngest child grows up): places freed, queues left, clocks stopped."""
    n = buf.n[N_EXIT]
    buf.exit_id[n] = i
    buf.exit_t[n] = t
    buf.n[N_EXIT] = n + 1
    for k in range(fam.prog_status.shape[1]):
        if fam.prog_status[i, k] == ENROLLED:
            _release(buf, fam, k, i, t)
            _programme_event(buf, k, t, LEFT_MODEL)
        elif fam.prog_status[i, k] == WAITING:
            buf.waiting[k] -= 1
        fam.prog_status[i, k] = NONE
        fam.prog_end[i, k] = INF
        fam.effect_on[i, k] = False
    fam.t_haz[i] = INF
    fam.t_prog[i] = INF
    fam.t_change[i] = INF
    fam.t_resolve[i] = INF
    fam.followup_until[i] = INF


@njit(cache=True, inline="always", _nrt=False)
def on_programme_end(fam, c, buf, i, t):
    n_prog = fam.prog_status.shape[1]
    for k in range(n_prog):
        if not fam.prog_end[i, k] <= t:
            continue
        _release(buf, fam, k, i, t)
        fam.prog_status[i, k] = NONE
        fam.prog_end[i, k] = INF
        completed = not fam.prog_dropout[i, k]
        _programme_event(buf, k, t, COMPLETED if completed else DROPPED_OUT)
        if fam.effect_on[i, k]:
            if completed and c.effect_years_after[k] > 0:
                fam.after_until[i, k] = t + c.effect_years_after[k]
            else:
                fam.effect_on[i, k] = False
                rescale_for_programme(fam, c, i, k, t, -1.0)
        if c.turns_around[k] and fam.start_state[i] >= 0:
            n = buf.n[N_OUTCOME]
            buf.out_prog[n] = k
            buf.out_t[n] = t
            buf.out_start[n] = fam.start_problems[i]
            buf.out_end[n] = fam.problems[i]
            buf.out_completed[n] = completed
            buf.n[N_OUTCOME] = n + 1
            # In the target population at the start and out of it at the end: followed up for six months.
            if fam.start_target[i] and not fam.counted[i] and not in_target(c, fam.problems[i], fam.factors[i]):
                fam.followup_until[i] = t + c.followup_years
                fam.followup_origin[i] = fam.start_state[i]
                fam.followup_programme[i] = k
            fam.start_state[i] = -1
    first = INF
    for k in range(n_prog):
        first = min(first, fam.prog_end[i, k])
    fam.t_prog[i] = first


@njit(cache=True, inline="always", _nrt=False)
def on_change(fam, c, buf, i, t):
    """A deterministic change: a child turns five, an after-effect ends, or a follow-up is complete."""
    if fam.under5_until[i] <= t:
        fam.under5_until[i] = INF
        set_factors(fam, c, i, t, fam.factors[i] & np.uint16(~(1 << c.under5_bit) & 0xFFFF))
    for k in range(fam.after_until.shape[1]):
        if fam.effect_on[i, k] and fam.after_until[i, k] <= t and fam.prog_status[i, k] != ENROLLED:
            fam.effect_on[i, k] = False
            fam.after_until[i, k] = -INF
            rescale_for_programme(fam, c, i, k, t, -1.0)
    if fam.followup_until[i] <= t:
        fam.followup_until[i] = INF
        fam.counted[i] = True
        n = buf.n[N_SUCCESS]
        buf.succ_t[n] = t
        buf.succ_origin[n] = fam.followup_origin[i]
        buf.succ_prog[n] = fam.followup_programme[i]
        buf.succ_key[n] = fam.key[i]
        buf.n[N_SUCCESS] = n + 1
        _programme_event(buf, fam.followup_programme[i], t, SUCCEEDED)


@njit(cache=True, inline="always", _nrt=False)
def _flow(buf, t, src, dst, cause, w):
    n = buf.n[N_FLOW]
    buf.flow_t[n] = t
    buf.flow_src[n] = src
    buf.flow_dst[n] = dst
    buf.flow_cause[n] = cause
    buf.flow_w[n] = w
    buf.n[N_FLOW] = n + 1


@njit(cache=True, inline="always", _nrt=False)
def _quiet(fam, i):
    """Nothing is pending for the family: no programme, no follow-up, no payment-by-results attachment."""
    for k in range(fam.prog_status.shape[1]):
        if fam.prog_status[i, k] != NONE or fam.effect_on[i, k]:
            return False
    return fam.followup_until[i] == INF and fam.start_state[i] < 0


@njit(cache=True, inline="always", _nrt=False)
def after_problems_change(fam, c, buf, i, t, cause):
    """Bring the family's classification up to date after its problems or factors changed; record a flow.

    A sampled family (weight > 1) that comes to be at risk is split: the caller
    adds its copies. A tracked family that leaves risk with nothing pending goes
    back into the sample by Russian roulette: it survives with chance 1 / weight,
    standing for that many families, or is dropped (weight 0). Both are exact in
    expectation for every count.
    """
    src = fam.state[i]
    dst = derived_state(c, fam.problems[i], fam.factors[i])
    if fam.followup_until[i] < INF and in_target(c, fam.problems[i], fam.factors[i]):
        fam.followup_until[i] = INF  # back in the target population within six months: not turned around
    if dst == src:
        return
    w = fam.weight[i]
    _flow(buf, t, src, dst, cause, w)
    fam.state[i] = dst
    if w > 1 and dst != G:
        n = buf.n[N_SPLIT]
        buf.split_id[n] = i
        buf.split_t[n] = t
        buf.n[N_SPLIT] = n + 1
        fam.weight[i] = 1
    if dst == G:
        for k in range(fam.prog_status.shape[1]):
            if fam.prog_status[i, k] == WAITING:
                fam.prog_status[i, k] = NONE
                buf.waiting[k] -= 1
                _programme_event(buf, k, t, WITHDREW)
        if w == 1 and c.sample_weight > 1 and fam.attached[i] == 0 and not fam.in_start_stock[i] and _quiet(fam, i):
            if uniform(fam, c, i, DRAW_ROULETTE) * c.sample_weight < 1.0:
                fam.weight[i] = c.sample_weight
            else:
                fam.weight[i] = 0  # dropped: its row is free for another family
                n = buf.n[N_DROP]
                buf.drop_id[n] = i
                buf.n[N_DROP] = n + 1
                fam.state[i] = OUT
                fam.t_haz[i] = INF
                fam.t_prog[i] = INF
                fam.t_change[i] = INF
                fam.t_resolve[i] = INF


@njit(cache=True, inline="always", _nrt=False)
def step(fam, c, buf, i, scratch):
    """Process family ``i``'s earliest event (ties: hazard, programme end, change, resolution)."""
    n_p = c.co_on.shape[0]
    t = fam.t_haz[i]
    which = 0
    for kind, clock in enumerate((fam.t_prog[i], fam.t_change[i], fam.t_resolve[i])):
        if clock < t:
            t = clock
            which = kind + 1
    buf.n[N_EVENTS] += 1
    cause = -1
    if which == 0:
        cause = on_hazard(fam, c, buf, i, t, scratch)
        if cause == -2:
            on_exit(fam, c, buf, i, t)
            _flow(buf, t, fam.state[i], OUT, 2 * n_p + N_TRIGGERS, fam.weight[i])
            fam.state[i] = OUT
            return
    elif which == 1:
        on_programme_end(fam, c, buf, i, t)
    elif which == 2:
        on_change(fam, c, buf, i, t)
        cause = 2 * n_p + BIRTH  # a child turning five: the birth's factor ends
    else:
        p = 0
        for q in range(fam.end.shape[1]):
            if fam.end[i, q] <= t:
                p = q
                break
        finish(fam, c, i, p, t)
        finish_linked(fam, c, i, p, t)
        cause = n_p + p
    if cause >= 0:
        after_problems_change(fam, c, buf, i, t, cause)
    update_resolve(fam, i)
    fam.t_last[i] = t
    next_change(fam, c, i, t)
    redraw(fam, c, i, t, scratch, buf.scratch_of)


#: How many families ahead of the one being processed ``run_families`` asks the CPU to fetch.
PREFETCH_AHEAD = 8


@intrinsic
def _prefetch(typingctx, arr, idx, offset):
    """Ask the CPU to start loading the cache line ``offset`` bytes past ``arr[idx]`` (``llvm.prefetch``).

    A hint only: it changes no value, and an address past the array is never dereferenced.
    """
    sig = types.void(arr, idx, offset)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        address = builder.gep(builder.bitcast(ptr, i8p), [args[2]])
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # write access (the kernel updates the row), high temporal locality, data cache
        builder.call(fn, [address, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always", _nrt=False)
def prefetch_family(fam, i):
    """Start loading family ``i``'s record and its monthly columns (a month's families are scattered)."""
    size = fam.t_haz.strides[0]
    for offset in range(0, size, 64):
        _prefetch(fam.t_haz, i, offset)
    _prefetch(fam.state, i, 0)
    _prefetch(fam.problems, i, 0)
    _prefetch(fam.t_due, i, 0)
    _prefetch(fam.weight, i, 0)
    _prefetch(fam.prog_status[i], 0, 0)


@njit(cache=True, _nrt=False)
def run_families(fam, c, buf, ids, start, t1):
    """Process every event before ``t1`` of families ``ids[start:]``, family by family.

    Returns the position in ``ids`` to resume from once the buffers are
    emptied, or ``ids.size`` when every family is done.
    """
    n_prog = fam.prog_status.shape[1]
    room_flow = buf.flow_t.size - 2
    room_pe = buf.pe_t.size - (3 * n_prog + 2)
    room_rel = buf.rel_t.size - n_prog
    room_one = buf.join_t.size - 1
    room_trig = buf.trig_kind.size - 2
    scratch = buf.scratch
    for j in range(start, ids.size):
        i = ids[j]
        if j + PREFETCH_AHEAD < ids.size:
            prefetch_family(fam, ids[j + PREFETCH_AHEAD])
        while True:
            due = t_next(fam, i)
            fam.t_due[i] = due
            if due >= t1:
                break
            n = buf.n
            if (
                n[N_FLOW] > room_flow
                or n[N_PROG_EVENT] > room_pe
                or n[N_RELEASE] > room_rel
                or n[N_JOIN] > room_one
                or n[N_TRIGGER] > room_trig
                or n[N_EXIT] > room_one
                or n[N_SPLIT] > room_one
                or n[N_SUCCESS] > room_one
                or n[N_DROP] > room_one
                or n[N_OUTCOME] > room_one
            ):
                return j
            splits = n[N_SPLIT]
            step(fam, c, buf, i, scratch)
            if fam.state[i] == OUT:
                fam.t_due[i] = INF
                break
            if n[N_SPLIT] > splits:
                # Split: stop here, so its copies start from this moment; the caller runs them all on.
                fam.t_due[i] = t_next(fam, i)
                break
    return ids.size


# --- set-up and bookkeeping, many families at once -------------------------------------------
@njit(cache=True, _nrt=False)
def start_many(fam, c, ids, t, scratch, scratch_of):
    """Families ``ids`` start at ``t``: draw each present problem's end, classify, draw the clock."""
    for j in range(ids.size):
        i = ids[j]
        for p in range(fam.end.shape[1]):
            if (fam.problems[i] >> p) & 1:
                draw_end(fam, c, i, p, fam.since[i, p])
            else:
                fam.end[i, p] = INF
        fam.state[i] = derived_state(c, fam.problems[i], fam.factors[i])
        update_resolve(fam, i)
        fam.t_last[i] = t[j]
        next_change(fam, c, i, t[j])
        redraw(fam, c, i, t[j], scratch, scratch_of)
        fam.t_due[i] = t_next(fam, i)


@njit(cache=True, _nrt=False)
def redraw_copies(fam, c, ids, t, same, mult, scratch, scratch_of):
    """Copies of a family split at ``t``: each redraws what is still to come, given what has happened.

    A present problem that has lasted ``d`` ends after the remaining integrated
    hazard of a fresh exponential draw (the conditional residual of its Weibull
    spell), so copies part ways from the moment of the split. ``same[j]``: copy
    ``j`` is a copy of the same family at the same moment as copy ``j - 1``, so
    its hazards are the ones already worked out (only its draws are its own);
    ``mult`` (two per problem) is scratch for their resolution multipliers and the hazard each spell has run.
    """
    n_p = fam.end.shape[1]
    total = 0.0
    for j in range(ids.size):
        i = ids[j]
        tj = t[j]
        for p in range(n_p):
            if not (fam.problems[i] >> p) & 1:
                continue
            crisis = (fam.crisis[i] >> p) & 1
            lam = c.lam_c[p] if crisis else c.lam[p]
            shape = c.shape_c[p] if crisis else c.shape[p]
            if not np.isfinite(lam):
                continue
            if not same[j]:
                mult[p] = np.exp(-res_log_multiplier(fam, c, i, p))
                if shape != 1.0:  # the integrated hazard so far, the same for every copy
                    mult[n_p + p] = (max(tj - fam.since[i, p], 0.0) / lam) ** shape
            e = -np.log(uniform(fam, c, i, DRAW_DURATION)) * mult[p]
            if shape == 1.0:
                fam.end[i, p] = tj + lam * e
            else:
                fam.end[i, p] = fam.since[i, p] + lam * (mult[n_p + p] + e) ** (1.0 / shape)
        update_resolve(fam, i)
        fam.t_last[i] = tj
        next_change(fam, c, i, tj)
        if not same[j]:
            total = rates(fam, c, i, tj, scratch)
        scratch_of[0] = i
        scratch_of[1] = total
        wait = -np.log(uniform(fam, c, i, DRAW_CLOCK))
        fam.t_haz[i] = tj + wait / total if total > 0 else INF
        fam.t_due[i] = t_next(fam, i)


@njit(cache=True, _nrt=False)
def redraw_many(fam, c, ids, t, scratch, scratch_of):
    """Redraw the competing clocks of families ``ids`` from times ``t`` (hazards changed on the calendar)."""
    for j in range(ids.size):
        redraw(fam, c, ids[j], t[j], scratch, scratch_of)
        fam.t_due[ids[j]] = t_next(fam, ids[j])


@njit(cache=True, _nrt=False)
def admitted_many(fam, c, ids, t, k, scratch, scratch_of):
    """Families ``ids`` start programme ``k`` at ``t``: its effect begins, and their origin is noted."""
    for j in range(ids.size):
        i = ids[j]
        if not fam.effect_on[i, k]:
            fam.effect_on[i, k] = True
            rescale_for_programme(fam, c, i, k, t[j], 1.0)
        if c.turns_around[k] and fam.start_state[i] < 0:
            fam.start_state[i] = fam.state[i]
            fam.start_problems[i] = fam.problems[i]
            fam.start_target[i] = in_target(c, fam.problems[i], fam.factors[i])
        update_resolve(fam, i)
        next_change(fam, c, i, t[j])
        redraw(fam, c, i, t[j], scratch, scratch_of)
        fam.t_due[i] = t_next(fam, i)


@njit(cache=True)
def due_before(fam, n, t1):
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if fam.t_due[i] < t1:
            out[k] = i
            k += 1
    return out[:k]


@njit(cache=True, _nrt=False)
def census(fam, c, n, states, problems, classes, combos):
    """Weighted counts at a boundary: families by derived state, with each problem, in each classification.

    ``classes``: at risk, stock, flow group, multiply disadvantaged (5+ of the seven), troubled (2012).
    ``combos`` (2**n_problems, scratch) gathers the weight of each combination of problems in one pass over the
    families; the counts by problem and the classifications that depend on problems alone are read from it.
    """
    states[:] = 0
    problems[:] = 0
    classes[:] = 0
    combos[:] = 0
    n_p = problems.size
    for i in range(n):
        st = fam.state[i]
        w = fam.weight[i]
        states[st] += w
        if st == OUT:
            continue
        combos[fam.problems[i]] += w
        if st != G:
            classes[0] += w
        if st == S:
            classes[1] += w
        if st == H:
            classes[2] += w
    for probs in range(combos.size):
        w = combos[probs]
        if w == 0:
            continue
        for p in range(n_p):
            if (probs >> p) & 1:
                problems[p] += w
        if popcount(probs & c.setf_mask) >= 5:
            classes[3] += w
        if is_troubled(c, probs):
            classes[4] += w


# A kernel compiled with other constants (an edit to engine/codes.py, which numba does not watch) is never loaded.
refresh_cache(cache_dir_of(run_families), sources_digest())
