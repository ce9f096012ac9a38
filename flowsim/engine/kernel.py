"""The compiled event loop: each family's events, one after another, to the end of a month.

Within a month families interact only through programme queues, whose
admissions are computed afterwards at exact times (``Model.run_slice``). So
a month's events can be processed family by family: every event of one
family, in time order, then the next family. That is what
:func:`run_families` does, compiled with numba; it is the same model the
vectorised rounds of earlier versions ran, at a few tens of nanoseconds an
event instead of a microsecond.

Shared effects (flows, programme events, places released, queue joins,
triggers) go to preallocated buffers that the caller empties. When a buffer
could overflow the kernel stops before the next event and returns where it
stopped; the caller flushes and calls again from there.

Random numbers are the counter-based per-family draws of
:mod:`flowsim.engine.crn`, written out for one family at a time: a family's
draws are the same whichever way its events are processed.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from flowsim.engine.codes import (
    AGED_OUT,
    COMPLETED,
    DECLINED,
    DEESCALATION,
    DRAW_ACCEPT,
    DRAW_CLOCK,
    DRAW_DOMAIN,
    DRAW_EFFECT,
    DRAW_EVENT,
    DRAW_SPELL,
    DRAW_SUCCESS,
    DRAW_TRIGGER,
    DROPPED_OUT,
    ENROLLED,
    ENTRY,
    ESCALATION,
    FIRST_PROGRAMME,
    LEFT_MODEL,
    NONE,
    OTHER_EXIT,
    OUT,
    PER_PROGRAMME,
    REFERRED,
    RELAPSE,
    RESOLUTION,
    SUCCEEDED,
    SUSTAINED,
    TRIGGER,
    TURNED_AROUND,
    WAITING,
    WITHDREW,
    G,
    H,
    R,
    S,
    T,
)

INF = np.inf
# A family's draws for the family-level purposes each have a counter (columns 0-5 of ``draws``); a
# programme's five purposes share one counter, column FIRST_PROGRAMME + i: it counts the family's
# referrals to programme i, and every draw of one referral (accept, length, drop-out, success,
# effect) uses it, each purpose with its own salt (engine.codes names the purposes).
# Competing hazards: columns of the rate vector; referred programmes follow EV_REFER.
EV_UP, EV_BOOST, EV_DOWN, EV_TRIGGER, EV_IDENTIFY, EV_REFER = range(6)
# Counters in Buffers.n.
N_FLOW, N_PROG_EVENT, N_RELEASE, N_JOIN, N_TRIGGER, N_EVENTS, N_EXIT = range(7)

#: The family columns the kernel reads and writes (views of ``Families``' arrays).
FamilyColumns = namedtuple(
    "FamilyColumns",
    [
        "state",
        "esc_mult",
        "entry_mult",
        "boost_until",
        "drivers",
        "last_trigger",
        "council",
        "domains",
        "domain_since",
        "key",
        "draws",
        "prog_ok",
        "prog_status",
        "prog_end",
        "prog_dropout",
        "after_until",
        "released_early",
        "t_haz",
        "t_exit",
        "t_age_out",
        "t_other_exit",
        "t_prog",
        "t_change",
        "t_resolve",
        "t_last",
        "t_due",
    ],
)

#: A run's constants: rates, lookup tables by state code, and one entry per running programme.
Constants = namedtuple(
    "Constants",
    [
        "seed",  # uint64
        "salt",  # uint64 per draw purpose
        "up",  # (6,) escalation (or entry, relapse) hazard by state
        "down",  # (6,) de-escalation (or sustain) hazard by state
        "boostable",  # (6,) bool: a trigger window raises the up hazard
        "boost",
        "window",
        "id_fip",
        "id_new",
        "councils",
        "rollout_t",
        "rollout_share",
        "spell_shape",
        "spell_scale",
        "child_age_limit",
        "birth",  # trigger index of a birth
        "trigger_table",  # (2**K, K) per-year rate of each trigger, by the family's driver bits
        "trigger_total",  # (2**K,) their sum
        "domain_share",  # (6, 3) chance of each problem by state
        "key_worker",  # programme index, -1 if not running
        "referred",  # programme indices referred at a rate, in rate-vector order
        "open_t",  # (P,) first time with places (inf: never)
        "group_mask",  # (P,) int64 bits: programme p and the others of its exclusive group
        "eligible",  # (P, 6) bool by state
        "needs_mask",  # (P,) int64 bits: programmes p needs the family to attend (any one)
        "needs_any",  # (P,) bool: p needs one of needs_mask (none running: never referred)
        "needs_domains",  # (P,) uint8 problem bits that must all be present
        "referral_rate",
        "p_accept",
        "escalation_effect",
        "deescalation_multiplier",
        "effect_years_after",
        "domain_effect",  # (P, 3)
        "p_success",
    ],
)

#: Output buffers, emptied by the caller.
Buffers = namedtuple(
    "Buffers",
    [
        "n",  # int64 counters (N_FLOW, ...)
        "hazard_removed",  # float64 (1,): entry hazard of families that left the model
        "waiting",  # int64 (P,): families waiting per programme (kept across flushes; admission lowers it)
        "flow_t",
        "flow_src",
        "flow_dst",
        "flow_cause",
        "pe_prog",
        "pe_t",
        "pe_kind",
        "rel_prog",
        "rel_t",
        "join_prog",
        "join_id",
        "join_t",
        "trig_kind",
        "exit_id",  # families that left the model (a universe that replaces them reuses their rows)
        "exit_t",
        "scratch",  # (EV_REFER + referred programmes,) the rate vector
    ],
)


def new_buffers(size: int, n_programmes: int, n_referred: int) -> Buffers:
    """Empty buffers: ``size`` flows and triggers, proportionally more programme events."""
    pe = size * (n_programmes + 1)
    return Buffers(
        np.zeros(8, np.int64),
        np.zeros(1),
        np.zeros(n_programmes, np.int64),
        np.empty(size),
        np.empty(size, np.int8),
        np.empty(size, np.int8),
        np.empty(size, np.int8),
        np.empty(pe, np.int8),
        np.empty(pe),
        np.empty(pe, np.int8),
        np.empty(size, np.int64),
        np.empty(size),
        np.empty(size, np.int64),
        np.empty(size, np.int64),
        np.empty(size),
        np.empty(size, np.int8),
        np.empty(size, np.int64),
        np.empty(size),
        np.empty(EV_REFER + n_referred),
    )


# --- prefetching -------------------------------------------------------------------------------
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
    """Start loading family ``i``'s record (up to four cache lines) and its contiguous columns.

    A month's families are scattered over a store of a million rows or more, so
    without this each family waits on several cache misses in turn; fetched a
    few families ahead, the loads overlap the work on the families before it
    (the event kernel ran 2.2x faster on a captured month of the baseline).
    """
    last = fam.t_haz.strides[0] - 1  # the record's last byte
    _prefetch(fam.t_haz, i, 0)
    _prefetch(fam.t_haz, i, 64)
    _prefetch(fam.t_haz, i, 128)
    _prefetch(fam.t_haz, i, last)
    _prefetch(fam.state, i, 0)
    _prefetch(fam.t_due, i, 0)
    _prefetch(fam.prog_status[i], 0, 0)


# --- counter-based random numbers (engine.crn, one family at a time) -----------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S16 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11), np.uint64(16)
_U1, _U2, _U3, _U4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)


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
    """A uniform for draw ``what`` of family ``i``'s current referral to programme ``p`` (see ``draws``)."""
    return _raw(fam, c, i, _purpose(p, what), np.uint64(fam.draws[i, FIRST_PROGRAMME + p]))


@njit(cache=True, inline="always", _nrt=False)
def gamma(fam, c, i, purpose, shape, scale):
    """Gamma(shape, scale) by Marsaglia-Tsang; attempt j of call k uses sub-counters k * 65536 + 4j + {0, 1, 2, 3}."""
    k = np.uint64(fam.draws[i, purpose])
    fam.draws[i, purpose] = fam.draws[i, purpose] + 1
    base = k << _S16
    a = shape + 1.0 if shape < 1 else shape
    d = a - 1.0 / 3.0
    cc = 1.0 / np.sqrt(9.0 * d)
    sub = base
    while True:
        u1 = _raw(fam, c, i, purpose, sub)
        u2 = _raw(fam, c, i, purpose, sub + _U1)
        u3 = _raw(fam, c, i, purpose, sub + _U2)
        x = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        v = (1.0 + cc * x) ** 3.0
        if v > 0 and np.log(u3) < 0.5 * x * x + d - d * v + d * np.log(v):
            out = d * v
            break
        sub += _U4
    if shape < 1:
        out *= _raw(fam, c, i, purpose, base + _U3) ** (1.0 / shape)
    return out * scale


@njit(cache=True, inline="always", _nrt=False)
def _purpose(p, what):
    return FIRST_PROGRAMME + PER_PROGRAMME * p + what


# --- hazards -------------------------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def rates(fam, c, i, t, out):
    """Family ``i``'s competing hazards per year at ``t``, written to ``out``; returns their sum."""
    st = fam.state[i]
    # One pass over the programmes: which the family waits for or attends (bit p), which it
    # attends, and what they do to its escalation and de-escalation hazards.
    involved = 0
    enrolled = 0
    prot = 1.0
    down = c.down[st]
    for p in range(c.open_t.size):
        status = fam.prog_status[i, p]
        if status == NONE:
            if c.escalation_effect[p] != 0 and fam.after_until[i, p] > t:
                prot *= 1 - c.escalation_effect[p]
            continue
        involved |= 1 << p
        if status == ENROLLED:
            enrolled |= 1 << p
            prot *= 1 - c.escalation_effect[p]
            down *= c.deescalation_multiplier[p]
        elif c.escalation_effect[p] != 0 and fam.after_until[i, p] > t:
            prot *= 1 - c.escalation_effect[p]
    mult = fam.entry_mult[i] if st == G else fam.esc_mult[i] * prot
    out[EV_UP] = c.up[st] * mult
    out[EV_BOOST] = c.boost * mult if (fam.boost_until[i] > t and c.boostable[st]) else 0.0
    out[EV_DOWN] = down
    out[EV_TRIGGER] = c.trigger_total[fam.drivers[i]] if st != OUT else 0.0
    out[EV_IDENTIFY] = 0.0
    kw = c.key_worker
    if kw >= 0 and st == S and (involved & c.group_mask[kw]) == 0 and t >= c.open_t[kw]:
        share = 0.0  # the roll-out step in force at t (a handful of steps: a scan beats np.searchsorted)
        for j in range(c.rollout_t.size):
            if c.rollout_t[j] <= t:
                share = c.rollout_share[j]
        covered = 1.0 if fam.council[i] < share * c.councils else 0.0
        out[EV_IDENTIFY] = c.id_fip + c.id_new * covered
    for col in range(c.referred.size):
        p = c.referred[col]
        ok = (
            t >= c.open_t[p]
            and c.eligible[p, st]
            and fam.prog_ok[i, p]
            and (involved & c.group_mask[p]) == 0
            and (not c.needs_any[p] or (enrolled & c.needs_mask[p]) != 0)
        )
        m = c.needs_domains[p]
        if ok and m != 0:
            ok = (fam.domains[i] & m) == m
        out[EV_REFER + col] = c.referral_rate[p] if ok else 0.0
    total = 0.0
    for k in range(out.size):
        total += out[k]
    return total


@njit(cache=True, inline="always", _nrt=False)
def redraw(fam, c, i, t, scratch):
    """Draw family ``i``'s next competing-hazard event from ``t`` (memoryless, so exact after any change)."""
    total = rates(fam, c, i, t, scratch)
    wait = -np.log(uniform(fam, c, i, DRAW_CLOCK))
    fam.t_haz[i] = t + wait / total if total > 0 else INF


@njit(cache=True, inline="always", _nrt=False)
def next_change(fam, c, i, t):
    """When family ``i``'s hazards next change by themselves: a trigger window or an after-effect ends."""
    b = fam.boost_until[i]
    cand = b if b > t else INF
    for p in range(fam.after_until.shape[1]):
        a = fam.after_until[i, p]
        if a > t and a < cand:
            cand = a
    fam.t_change[i] = cand


@njit(cache=True, inline="always", _nrt=False)
def t_next(fam, i):
    return min(
        min(min(fam.t_haz[i], fam.t_exit[i]), min(fam.t_prog[i], fam.t_change[i])),
        fam.t_resolve[i],
    )


# --- events --------------------------------------------------------------------------------------
@njit(cache=True, inline="always", _nrt=False)
def set_domains(fam, c, i, t):
    """Redraw family ``i``'s problem flags from its ladder state; note when a flag changes."""
    st = fam.state[i]
    new = np.uint8(0)
    for j in range(3):
        if uniform(fam, c, i, DRAW_DOMAIN) < c.domain_share[st, j]:
            new |= np.uint8(1 << j)
    changed = new ^ fam.domains[i]
    for j in range(3):
        if (changed >> j) & 1:
            fam.domain_since[i, j] = t
    fam.domains[i] = new


@njit(cache=True, inline="always", _nrt=False)
def _programme_event(buf, p, t, kind):
    k = buf.n[N_PROG_EVENT]
    buf.pe_prog[k] = p
    buf.pe_t[k] = t
    buf.pe_kind[k] = kind
    buf.n[N_PROG_EVENT] = k + 1


@njit(cache=True, inline="always", _nrt=False)
def _release(buf, fam, p, i, t):
    """A place in programme ``p`` frees at ``t`` unless admission already reused it within the month."""
    if fam.released_early[i, p]:
        return
    k = buf.n[N_RELEASE]
    buf.rel_prog[k] = p
    buf.rel_t[k] = t
    buf.n[N_RELEASE] = k + 1


@njit(cache=True, inline="always", _nrt=False)
def move(fam, c, buf, i, t, to, cause):
    """Family ``i`` moves to state ``to`` at ``t``."""
    src = fam.state[i]
    k = buf.n[N_FLOW]
    buf.flow_t[k] = t
    buf.flow_src[k] = src
    buf.flow_dst[k] = to
    buf.flow_cause[k] = cause
    buf.n[N_FLOW] = k + 1
    fam.state[i] = to
    if to != OUT:
        set_domains(fam, c, i, t)
    if to == R or to == H or to == S:
        # A new spell at risk starts from G; a relapse from T resumes the spell still running.
        if src == G or not np.isfinite(fam.t_resolve[i]):
            fam.t_resolve[i] = t + gamma(fam, c, i, DRAW_SPELL, c.spell_shape, c.spell_scale)
    elif to != T:
        # Being turned around does not stop the spell's clock: it runs on in T.
        fam.t_resolve[i] = INF
    if to == G:
        # Families whose problems resolved leave every queue they wait in.
        for p in range(fam.prog_status.shape[1]):
            if fam.prog_status[i, p] == WAITING:
                fam.prog_status[i, p] = NONE
                buf.waiting[p] -= 1
                _programme_event(buf, p, t, WITHDREW)


@njit(cache=True, inline="always", _nrt=False)
def _pick(weights, total, u):
    """Index of the event a uniform ``u`` picks from ``weights`` (cumulative comparison)."""
    target = u * total
    cum = 0.0
    count = 0
    for k in range(weights.size):
        cum += weights[k]
        if cum <= target:
            count += 1
    return min(count, weights.size - 1)


@njit(cache=True, inline="always", _nrt=False)
def refer(fam, c, buf, p, i, t):
    fam.draws[i, FIRST_PROGRAMME + p] += 1  # a new referral: its draws use the next counter
    accept = episode_uniform(fam, c, i, p, DRAW_ACCEPT) < c.p_accept[p]
    _programme_event(buf, p, t, REFERRED)
    if not accept:
        _programme_event(buf, p, t, DECLINED)
        return
    fam.prog_status[i, p] = WAITING
    buf.waiting[p] += 1
    k = buf.n[N_JOIN]
    buf.join_prog[k] = p
    buf.join_id[k] = i
    buf.join_t[k] = t
    buf.n[N_JOIN] = k + 1


@njit(cache=True, inline="always", _nrt=False)
def on_trigger(fam, c, buf, i, t):
    bits = fam.drivers[i]
    kind = _pick(c.trigger_table[bits], c.trigger_total[bits], uniform(fam, c, i, DRAW_TRIGGER))
    fam.last_trigger[i] = kind
    fam.boost_until[i] = max(fam.boost_until[i], t + c.window)
    k = buf.n[N_TRIGGER]
    buf.trig_kind[k] = kind
    buf.n[N_TRIGGER] = k + 1
    if kind == c.birth:
        fam.t_age_out[i] = t + c.child_age_limit
        fam.t_exit[i] = min(fam.t_age_out[i], fam.t_other_exit[i])


@njit(cache=True, inline="always", _nrt=False)
def on_hazard(fam, c, buf, i, t, scratch):
    total = rates(fam, c, i, t, scratch)
    event = _pick(scratch, total, uniform(fam, c, i, DRAW_EVENT))
    st = fam.state[i]
    if event == EV_TRIGGER:
        on_trigger(fam, c, buf, i, t)
        return
    if event >= EV_IDENTIFY:
        p = c.key_worker if event == EV_IDENTIFY else c.referred[event - EV_REFER]
        if p >= 0:
            refer(fam, c, buf, p, i, t)
        return
    # A ladder move (one call site, so the inlined move is compiled once).
    to, cause = -1, -1
    if event == EV_UP or event == EV_BOOST:
        if st == G:
            to, cause = R, ENTRY
        elif st == R or st == H:
            to, cause = st + 1, ESCALATION
        elif st == T:
            to, cause = S, RELAPSE
        if event == EV_BOOST:
            cause = TRIGGER
    elif st == H or st == S:
        to, cause = st - 1, DEESCALATION
    elif st == T:
        to, cause = G, SUSTAINED
    if to >= 0:
        move(fam, c, buf, i, t, to, cause)


@njit(cache=True, inline="always", _nrt=False)
def entry_hazard(fam, c, i):
    """Family ``i``'s hazard of entering risk from G, by drift and through triggers (EntrantSampler.hazard)."""
    m = fam.entry_mult[i]
    return c.up[G] * m + c.trigger_total[fam.drivers[i]] * -np.expm1(-c.boost * m * c.window)


@njit(cache=True, inline="always", _nrt=False)
def on_exit(fam, c, buf, i, t):
    buf.hazard_removed[0] += entry_hazard(fam, c, i)
    k = buf.n[N_EXIT]
    buf.exit_id[k] = i
    buf.exit_t[k] = t
    buf.n[N_EXIT] = k + 1
    move(fam, c, buf, i, t, OUT, AGED_OUT if fam.t_exit[i] == fam.t_age_out[i] else OTHER_EXIT)
    for p in range(fam.prog_status.shape[1]):
        if fam.prog_status[i, p] == ENROLLED:
            _release(buf, fam, p, i, t)
            _programme_event(buf, p, t, LEFT_MODEL)
        elif fam.prog_status[i, p] == WAITING:
            buf.waiting[p] -= 1
        fam.prog_status[i, p] = NONE
        fam.prog_end[i, p] = INF
    fam.t_haz[i] = INF
    fam.t_exit[i] = INF
    fam.t_prog[i] = INF
    fam.t_change[i] = INF
    fam.t_resolve[i] = INF


@njit(cache=True, inline="always", _nrt=False)
def on_programme_end(fam, c, buf, i, t):
    n_prog = fam.prog_status.shape[1]
    for p in range(n_prog):
        if not fam.prog_end[i, p] <= t:
            continue
        _release(buf, fam, p, i, t)
        fam.prog_status[i, p] = NONE
        fam.prog_end[i, p] = INF
        completed = not fam.prog_dropout[i, p]
        _programme_event(buf, p, t, COMPLETED if completed else DROPPED_OUT)
        if completed and c.effect_years_after[p] > 0:
            fam.after_until[i, p] = t + c.effect_years_after[p]
        effects = c.domain_effect[p]
        if completed and (effects[0] != 0 or effects[1] != 0 or effects[2] != 0):
            # A completed intervention may end a crime/ASB, education or worklessness problem.
            u = episode_uniform(fam, c, i, p, DRAW_EFFECT)
            for j in range(3):
                if effects[j] > 0 and (fam.domains[i] >> j) & 1 and u < effects[j]:
                    fam.domains[i] &= np.uint8(~(1 << j) & 0xFF)
                    fam.domain_since[i, j] = t
        success = episode_uniform(fam, c, i, p, DRAW_SUCCESS) < c.p_success[p]
        if completed and success and fam.state[i] != T:
            _programme_event(buf, p, t, SUCCEEDED)
            move(fam, c, buf, i, t, T, TURNED_AROUND)
    first = INF
    for p in range(n_prog):
        first = min(first, fam.prog_end[i, p])
    fam.t_prog[i] = first


@njit(cache=True, inline="always", _nrt=False)
def step(fam, c, buf, i, scratch):
    """Process family ``i``'s earliest event (ties: hazard, exit, programme end, change, resolution)."""
    t = fam.t_haz[i]
    which = 0
    for kind, clock in enumerate((fam.t_exit[i], fam.t_prog[i], fam.t_change[i], fam.t_resolve[i])):
        if clock < t:
            t = clock
            which = kind + 1
    buf.n[N_EVENTS] += 1
    if which == 0:
        on_hazard(fam, c, buf, i, t, scratch)
    elif which == 1:
        on_exit(fam, c, buf, i, t)
    elif which == 2:
        on_programme_end(fam, c, buf, i, t)
    elif which == 4:
        move(fam, c, buf, i, t, G, RESOLUTION)
    if fam.state[i] != OUT:
        fam.t_last[i] = t
        next_change(fam, c, i, t)
        redraw(fam, c, i, t, scratch)


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
                or n[N_TRIGGER] > room_one
                or n[N_EXIT] > room_one
            ):
                return j
            step(fam, c, buf, i, scratch)
    return ids.size


@njit(cache=True, _nrt=False)
def redraw_many(fam, c, ids, t, scratch):
    """Redraw the hazard clocks of families ``ids`` from times ``t``."""
    for j in range(ids.size):
        redraw(fam, c, ids[j], t[j], scratch)
        fam.t_due[ids[j]] = t_next(fam, ids[j])


@njit(cache=True, _nrt=False)
def next_change_many(fam, c, ids, t):
    for j in range(ids.size):
        next_change(fam, c, ids[j], t[j])
        fam.t_due[ids[j]] = t_next(fam, ids[j])


@njit(cache=True, _nrt=False)
def set_domains_many(fam, c, ids, t):
    for j in range(ids.size):
        set_domains(fam, c, ids[j], t[j])


@njit(cache=True, _nrt=False)
def refresh_many(fam, ids):
    """Bring ``t_due`` up to date after clocks were set outside the kernel."""
    for j in range(ids.size):
        fam.t_due[ids[j]] = t_next(fam, ids[j])


@njit(cache=True)
def due_before(fam, n, t1):
    """Rows below ``n`` with an event before ``t1``, by ``t_due``: every clock change updates it."""
    out = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        if fam.t_due[i] < t1:
            out[k] = i
            k += 1
    return out[:k]


@njit(cache=True, _nrt=False)
def census(fam, n, states):
    """Families by state (``states``, indexed by state code), rows below ``n``.

    Families waiting per programme need no scan: ``Buffers.waiting`` counts them.
    """
    states[:] = 0
    for i in range(n):
        states[fam.state[i]] += 1
