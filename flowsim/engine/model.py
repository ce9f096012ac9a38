"""One replication of the model: set-up, a month's simulation, programme admissions, forks and observation.

The simulation starts ``burn_in_years`` before the first survey wave, from
families drawn from a pilot population (or, without one, with problems drawn
independently), and observes nothing until that wave. The
population (the sample of families not at risk, copies, replacements) is
:mod:`flowsim.engine.population`'s.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from flowsim.engine import codes, kernel, payment
from flowsim.engine.administration import Administration
from flowsim.engine.codes import (
    CRIME,
    EDUCATION,
    ENROLLED,
    OUT,
    REFERRED,
    STARTED,
    WAITING,
    WORKLESS,
    H,
    R,
    S,
)
from flowsim.engine.crn import FamilyRandom
from flowsim.engine.families import Families
from flowsim.engine.population import Population
from flowsim.engine.programmes import Programme
from flowsim.engine.recorder import Recorder
from flowsim.engine.spec import CAUSE_NAMES, NP, ModelSpec
from flowsim.results import Results
from flowsim.scenario.registry_problems import CHILD, PROBLEM_NAMES

STREAMS = ("population",)
CLASS_NAMES = ("at_risk", "stock", "flow_group", "multiply_disadvantaged", "troubled")
_BUFFER = 1 << 16
_YOUTH, _EDUCATION, _WORKLESS = (PROBLEM_NAMES.index(n) for n in ("youth_crime_asb", "education", "workless"))
_CHILD = tuple(PROBLEM_NAMES.index(n) for n in CHILD)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` for a 1-D integer array, by sorting: 30x faster for the ids of a pass (numpy 2's unique
    hashes first, 0.5 s of a replication)."""
    if a.size < 2:
        return a
    a = np.sort(a)
    keep = np.empty(a.size, bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


class Model(Population):
    """One replication of model v2. Built from a :class:`ModelSpec` and a seed; no I/O."""

    def __init__(self, spec: ModelSpec, seed: int | np.random.SeedSequence) -> None:
        self.spec = spec
        self.start, self.scale = spec.start, spec.scale
        self.t_start, self.t_end, self.t_deadline = spec.t_start, spec.t_end, spec.t_deadline
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self.rng = {name: np.random.default_rng(c) for name, c in zip(STREAMS, root.spawn(len(STREAMS)))}
        self.seed64 = int(root.generate_state(1, np.uint64)[0])
        self.programmes = [
            Programme(
                p.name, i, p.capacity_times, p.capacity_places, p.duration_mean_years, p.duration_shape, p.p_dropout
            )
            for i, p in enumerate(spec.programmes)
        ]
        self.key_worker = spec.key_worker
        self.finance = spec.finance.enabled
        self.admin = Administration(spec.programme_2012, self.seed64) if spec.programme_2012 is not None else None
        self.recorder = Recorder(len(self.programmes), codes.N_TRIGGERS)
        self.weight = max(int(spec.sample_weight), 1)
        self.n_pool = max(round(spec.families / self.weight), 1)
        # Rows: the sample and, when it is a sample, the copies of its families that come to be at risk (the baseline
        # peaks at n_pool + 0.09 x families); with every family tracked there are no copies (it peaks at 1.02 x
        # n_pool, 295,361 rows for 290,000 families), so the copies' tenth of the families is not held for nothing.
        copies = spec.families * 0.1 if self.weight > 1 else 0.0
        capacity = int(self.n_pool * (1.1 if self.weight > 1 else 1.05) + copies) + 1000
        n_counters = codes.FIRST_PROGRAMME + codes.PER_PROGRAMME * max(len(self.programmes), 1)
        self.families = Families(NP, len(self.programmes), n_counters, capacity)
        self.rand = FamilyRandom(self.families, self.seed64)
        self.const = self._constants()
        n_rates = NP + codes.N_TRIGGERS + 2 + len(spec.referred)
        self.buf = kernel.new_buffers(_BUFFER, len(self.programmes), n_rates)
        self._cols: kernel.FamilyColumns | None = None
        self._combos = np.zeros(1 << NP, np.int64)  # census scratch: weight by combination of problems
        self._mult = np.empty(2 * NP)  # redraw_copies scratch: each problem's resolution multiplier and hazard run
        self._early = [np.empty(0, np.int64) for _ in self.programmes]
        self._debt = 0  # families that left and have not been replaced yet
        self.flows: list[tuple[np.ndarray, ...]] = []  # t, from, to, cause, weight
        self.successes: list[tuple[np.ndarray, ...]] = []
        self.outcomes: list[tuple[np.ndarray, ...]] = []
        # At risk at each wave, weights, present at each wave, in the stock at each wave: as at the last wave.
        self.survey = (np.empty(0, np.uint16), np.empty(0, np.int64), np.empty(0, np.uint16), np.empty(0, np.uint16))
        self.survey_onsets = np.zeros(len(_CHILD), np.int64)  # child problems' spells begun in the survey window
        self.census_entries = np.zeros(codes.OUTSIDE + 1, np.int64)  # entries to the stock by state a month before
        self._prev_state = np.empty(0, np.int8)  # each row's state at the last boundary of the survey window
        self._last_t = -np.inf
        self.boundary_problems: list[np.ndarray] = []
        self.boundary_classes: list[np.ndarray] = []
        self._initial_population()

    # --- set-up -------------------------------------------------------------------------------
    def _constants(self) -> kernel.Constants:
        spec = self.spec
        progs = spec.programmes
        n = len(progs)
        group_mask = np.array([1 << i for i in range(n)], np.int64)
        for members in spec.groups.values():
            group_mask[members] = sum(1 << j for j in members)
        n_purposes = codes.FIRST_PROGRAMME + codes.PER_PROGRAMME * max(n, 1)
        salt = np.array([(k * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF for k in range(n_purposes)], np.uint64)
        t = spec.tables
        derived = {
            "onset_rate": np.exp(t["onset_log"]),
            "co_on_mult": np.exp(t["co_on"]),
            "trig_rate": np.exp(t["trig_log"]),
            "trig_co_mult": np.exp(t["trig_co"]),
            "prog_on_mult": np.exp(t["prog_on"]),
            "trig_any": (t["trig_crisis"] > 0) | (t["trig_start"] > 0).any(axis=1) | (t["trig_end"] > 0).any(axis=1),
        }
        return kernel.Constants(
            **derived,
            seed=np.uint64(self.seed64 & 0xFFFFFFFFFFFFFFFF),
            salt=salt,
            **{k: t[k] for k in kernel.Constants._fields if k in t},
            key_worker=self.key_worker,
            id_fip=float(spec.id_fip),
            id_new=float(spec.id_new),
            councils=float(spec.councils),
            rollout_t=np.asarray(spec.rollout_t, float),
            rollout_share=np.asarray(spec.rollout_share, float),
            referred=np.array(spec.referred, np.int64),
            open_t=np.array([p.open_t for p in progs], float),
            group_mask=group_mask,
            eligible=np.array([p.eligible for p in progs], bool).reshape(n, 6),
            prog_need=np.asarray(spec.prog_factor_bits, np.uint16),
            needs_mask=np.array([sum(1 << j for j in p.requires_programmes) for p in progs], np.int64),
            needs_any=np.array([p.needs_any for p in progs], bool),
            needs_problems=np.asarray(spec.prog_problem_mask, np.uint16),
            sample_weight=int(self.weight),
            referral_rate=np.array([p.referral_rate_per_year for p in progs], float),
            p_accept=np.array([p.p_accept for p in progs], float),
            effect_years_after=np.array([p.effect_years_after for p in progs], float),
        )

    def _columns(self) -> kernel.FamilyColumns:
        f = self.families
        if self._cols is None or self._cols.state is not f.state:
            self._cols = kernel.FamilyColumns(*(getattr(f, name) for name in kernel.FamilyColumns._fields))
        return self._cols

    # --- one month ---------------------------------------------------------------------------
    def run_slice(self, t0: float, t1: float) -> None:
        """Simulate every event in ``[t0, t1)``."""
        f = self.families
        for i, prog in enumerate(self.programmes):
            prog.open_month(t0)
            f.released_early[self._early[i], i] = False
            self._early[i] = np.empty(0, np.int64)
        active = kernel.due_before(self._columns(), f.n, t1)
        for rerun in itertools.count():
            self._run(active, t1)
            more = [self._admit(prog, t1) for prog in self.programmes]
            more += [self._split(), self._replace(t0, rerun)]
            more = _sorted_unique(np.concatenate(more))
            active = more[f.t_due[more] < t1] if more.size else more
            if not active.size:
                break

    def _run(self, ids: np.ndarray, t1: float) -> None:
        ids = ids.astype(np.int64, copy=False)
        pos = 0
        self._splits, self._exits = [], []
        while pos < ids.size:
            pos = kernel.run_families(self._columns(), self.const, self.buf, ids, pos, t1)
            self._flush()

    def _flush(self) -> None:
        b, rec = self.buf, self.recorder
        n = b.n
        # Nothing before the first survey wave is recorded: the burn-in only makes the past.
        k = n[kernel.N_FLOW]
        if k:
            keep = b.flow_t[:k] >= self.t_start
            if keep.any():
                cols = (b.flow_t, b.flow_src, b.flow_dst, b.flow_cause, b.flow_w)
                self.flows.append(tuple(col[:k][keep] for col in cols))
        k = n[kernel.N_PROG_EVENT]
        if k:
            keep = b.pe_t[:k] >= self.t_start
            if keep.any():
                rec.programme_events.append((b.pe_prog[:k][keep], b.pe_t[:k][keep], b.pe_kind[:k][keep]))
        k = n[kernel.N_TRIGGER]
        if k:
            rec.triggers += np.bincount(b.trig_kind[:k], weights=b.trig_w[:k], minlength=rec.triggers.size).astype(
                np.int64
            )
        k = n[kernel.N_RELEASE]
        if k:
            progs, times = b.rel_prog[:k], b.rel_t[:k]
            for i in np.unique(progs):
                self.programmes[i].release(times[progs == i])
        k = n[kernel.N_JOIN]
        if k:
            progs, ids, times = b.join_prog[:k], b.join_id[:k], b.join_t[:k]
            for i in np.unique(progs):
                sel = progs == i
                self.programmes[i].join(ids[sel].copy(), times[sel].copy())
        k = n[kernel.N_EXIT]
        if k:
            self._exits.append((b.exit_id[:k].copy(), b.exit_t[:k].copy()))
        k = n[kernel.N_SPLIT]
        if k:
            self._splits.append((b.split_id[:k].copy(), b.split_t[:k].copy()))
        k = n[kernel.N_OUTCOME]
        if k:
            cols = (b.out_prog, b.out_t, b.out_start, b.out_end, b.out_completed)
            self.outcomes.append(tuple(col[:k].copy() for col in cols))
        k = n[kernel.N_DROP]
        if k:
            self.families.release(b.drop_id[:k].copy())
        k = n[kernel.N_SUCCESS]
        if k:
            self.successes.append(
                (b.succ_t[:k].copy(), b.succ_origin[:k].copy(), b.succ_prog[:k].copy(), b.succ_key[:k].copy())
            )
        rec.events += int(n[kernel.N_EVENTS])
        n[:] = 0

    def _admit(self, prog: Programme, t1: float) -> np.ndarray:
        f = self.families
        i = prog.index
        adm = prog.admit(
            lambda ids: f.prog_status[ids, i] == WAITING,
            t1,
            lambda ids: self._durations(i, ids),
            int(self.buf.waiting[i]),  # counted exactly by the kernel and here
        )
        if not adm.ids.size:
            return adm.ids
        ids = adm.ids
        f.prog_status[ids, i] = ENROLLED
        self.buf.waiting[i] -= ids.size
        ends = adm.ends.astype(np.float32)
        f.prog_end[ids, i] = ends
        f.prog_dropout[ids, i] = adm.dropout
        f.t_prog[ids] = np.minimum(f.t_prog[ids], ends.astype(np.float64))
        f.released_early[ids[adm.reused], i] = True
        self._early[i] = np.concatenate([self._early[i], ids[adm.reused]])
        if i == self.key_worker:
            started = (adm.started >= 0) & (adm.started < self.t_deadline)
            f.key_worker_received[ids[started]] = True
            if self.admin is not None:
                self.admin.attach(f, ids, adm.started)
            elif self.spec.finance.claim_t:
                payment.attach(f, self.spec.finance, self._domains, ids, adm.started)
                f.attached[ids] = np.isfinite(f.t_attached[ids])
        self.recorder.programme_event(i, adm.started, STARTED, ids.size)
        self.recorder.waits.append((np.full(ids.size, i, np.int8), adm.arrived, adm.started))
        t = np.ascontiguousarray(np.maximum(adm.started, f.t_last[ids]))
        kernel.admitted_many(
            self._columns(), self.const, ids.astype(np.int64), t, i, self.buf.scratch, self.buf.scratch_of
        )
        return ids

    def _durations(self, i: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prog = self.programmes[i]
        mean, shape = prog.duration_mean_years, prog.duration_shape
        col = codes.FIRST_PROGRAMME + i
        base = codes.FIRST_PROGRAMME + codes.PER_PROGRAMME * i
        length = self.rand.gamma(ids, base + codes.DRAW_LENGTH, shape, mean / shape, False, col)
        u = self.rand.uniform(ids, base + codes.DRAW_DROPOUT, False, col)
        dropout = u < prog.p_dropout
        fraction = np.where(dropout, u / max(prog.p_dropout, 1e-300), 1.0)
        return length * fraction, dropout

    def _domains(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 2012 framework's three problems as flags (crime/ASB, education, worklessness) and when each changed."""
        probs = self.families.problems[ids]
        dom = (
            (((probs >> _YOUTH) & 1) * CRIME)
            | (((probs >> _EDUCATION) & 1) * EDUCATION)
            | (((probs >> _WORKLESS) & 1) * WORKLESS)
        ).astype(np.uint8)
        since = self.families.since[ids][:, [_YOUTH, _EDUCATION, _WORKLESS]].astype(np.float64)
        return dom, since

    def claim(self, t: float) -> None:
        if self.admin is not None:
            self.admin.claim(self, t)
        else:
            payment.claim(self.families, self.spec.finance, self._domains, self.recorder, t)

    @property
    def worker_programmes(self) -> list[int]:
        """Programmes whose worker the councils count as working with a family (key, lead, enhanced lead)."""
        return [
            i for i, p in enumerate(self.programmes) if p.name in ("key_worker", "lead_worker", "enhanced_lead_worker")
        ]

    def refer(self, ids: np.ndarray, t: float) -> None:
        """A council refers families ``ids`` to its key workers at ``t``: they join the queue."""
        if not ids.size:
            return
        f, kw = self.families, self.key_worker
        f.draws[ids, codes.FIRST_PROGRAMME + kw] += 1  # a new referral: its draws use the next counter
        f.prog_status[ids, kw] = WAITING
        self.buf.waiting[kw] += ids.size
        self.programmes[kw].join(ids.astype(np.int64), np.full(ids.size, t))
        self.recorder.programme_event(kw, t, REFERRED, ids.size)
        # Waiting, a family is no longer referred by the services: its clocks change.
        times = np.ascontiguousarray(np.maximum(t, f.t_last[ids]))
        kernel.redraw_many(
            self._columns(), self.const, ids.astype(np.int64), times, self.buf.scratch, self.buf.scratch_of
        )

    def hazards_change(self, t: float) -> None:
        f = self.families
        ids = np.flatnonzero(self.spec.changed_states(t)[f.state[: f.n]])
        if ids.size:
            kernel.redraw_many(
                self._columns(), self.const, ids, np.maximum(t, f.t_last[ids]), self.buf.scratch, self.buf.scratch_of
            )

    def fork(self, spec: ModelSpec) -> Model:
        """An independent copy of this replication that carries on under ``spec`` (same population, same random
        numbers): the counterfactual, or another scenario, shares everything simulated before the two can differ
        (``flowsim.engine.divergence``). Programmes keep their queues and families; their places and durations
        are ``spec``'s from now on."""
        families = self.families
        # What is logged is never changed once appended: the copy shares it rather than copying it.
        logs = (self.flows, self.successes, self.outcomes, self.boundary_problems, self.boundary_classes)
        rec = self.recorder
        logs += (rec.flows, rec.boundary_states, rec.boundary_programmes, rec.programme_events, rec.waits, rec.claims)
        memo = {id(entry): entry for log in logs for entry in log}
        rand = self.rand
        self.families, self._cols, self.rand = None, None, None  # the copy gets its own, below
        try:
            other = copy.deepcopy(self, memo)
        finally:
            self.families, self.rand = families, rand
        other.families = families.copy()
        other.rand = FamilyRandom(other.families, other.seed64)
        other.spec = spec
        other.key_worker, other.finance = spec.key_worker, spec.finance.enabled
        other.const = other._constants()
        if other.admin is not None:  # the councils keep their lists and logs; their rules are ``spec``'s from now on
            other.admin.spec = spec.programme_2012
        for prog, p in zip(other.programmes, spec.programmes, strict=True):  # queues and places taken stay
            prog.capacity_times, prog.capacity_places = p.capacity_times, p.capacity_places
            prog.duration_mean_years, prog.duration_shape, prog.p_dropout = (
                p.duration_mean_years,
                p.duration_shape,
                p.p_dropout,
            )
        return other

    # --- observation ----------------------------------------------------------------------------
    def observe(self, t: float, wave: int | None) -> None:
        f = self.families
        states = np.zeros(6, np.int64)
        problems = np.zeros(NP, np.int64)
        classes = np.zeros(len(CLASS_NAMES), np.int64)
        kernel.census(self._columns(), self.const, f.n, states, problems, classes, self._combos)
        rec = self.recorder
        rec.boundary_t.append(t)
        rec.boundary_states.append(states)
        self.boundary_problems.append(problems)
        self.boundary_classes.append(classes)
        progs = np.zeros((len(self.programmes), 3), np.int64)
        for i, prog in enumerate(self.programmes):
            progs[i] = (prog.capacity(t), prog.occupied, self.buf.waiting[i])
        rec.boundary_programmes.append(progs)
        st = f.state[: f.n]
        if self.t_start < t <= self.spec.wave_t[-1]:
            # Spells of the child problems begun in the month and running at its end, as a census of
            # episodes counts starts (a spell begun and ended within one month is missed).
            begun = f.since[: f.n, list(_CHILD)] > self._last_t
            present = (f.problems[: f.n, None] >> np.array(_CHILD, np.uint16)) & 1
            self.survey_onsets += ((begun & (present == 1)) * f.weight[: f.n, None]).sum(axis=0)
        self._last_t = t
        first, last = self.spec.wave_t[0], self.spec.wave_t[-1]
        if first < t <= last:
            # Entries to the stock as a monthly census counts them: in it now, not at the last boundary, by where
            # each family was then (rows made since are marked by ``Population._rows_made``).
            prev = np.full(f.n, codes.OUTSIDE, np.int8)
            k = min(self._prev_state.size, f.n)
            prev[:k] = self._prev_state[:k]
            new = (st == S) & (prev != S)
            self.census_entries += np.bincount(prev[new], f.weight[: f.n][new], codes.OUTSIDE + 1).astype(np.int64)
        if first <= t < last:
            self._prev_state = st.copy()
        elif self._prev_state.size:
            self._prev_state = np.empty(0, np.int8)
        if wave is not None:
            # What the survey sees at a wave: who is at risk, who is in the stock, and who is there at all (a panel
            # re-interviews only families still present).
            bit = np.uint16(1 << wave)
            at_risk = (st == R) | (st == H) | (st == S)
            f.waves[: f.n][at_risk] |= bit
            f.stock_waves[: f.n][st == S] |= bit
            f.present_waves[: f.n][st != OUT] |= bit
            if wave == self.spec.waves - 1:
                # The survey's record is complete at the last wave: keep it as it stands, with each row's weight now
                # (later splits and roulette change weights, and rows are reused, in ways that differ between
                # scenarios). Families never at risk at a wave count in no survey statistic.
                rows = np.flatnonzero((f.waves[: f.n] != 0) & (f.weight[: f.n] > 0))
                self.survey = (
                    f.waves[rows].copy(),
                    f.weight[rows].astype(np.int64),
                    f.present_waves[rows].copy(),
                    f.stock_waves[rows].copy(),
                )
        if t == 0.0:
            f.in_start_stock[: f.n] = st == S
            if self.key_worker >= 0:
                f.key_worker_received[: f.n] |= f.prog_status[: f.n, self.key_worker] == ENROLLED
        if self.admin is not None:
            self.admin.month(self, t)

    def results(self, seed: int, replication: int | None = None) -> Results:
        """The replication's Results (families that were ever tracked one by one; sampled families never were at risk)."""
        rec, f = self.recorder, self.families
        n = f.n
        # Families in the stock at the start are tracked one by one to the end (never returned to the sample).
        start = f.in_start_stock[:n]
        attached = np.isfinite(f.t_attached[:n])
        dtypes = (np.float64, np.int8, np.int8, np.uint64)
        if self.successes:
            succ = tuple(np.concatenate(col) for col in zip(*self.successes, strict=True))
        else:
            succ = tuple(np.empty(0, d) for d in dtypes)
        out_dtypes = (np.int8, np.float64, np.uint16, np.uint16, np.bool_)
        if self.outcomes:
            outcomes = tuple(np.concatenate(col) for col in zip(*self.outcomes, strict=True))
        else:
            outcomes = tuple(np.empty(0, d) for d in out_dtypes)
        flow_dtypes = (np.float64, np.int8, np.int8, np.int16, np.int32)
        if self.flows:
            flows = tuple(
                np.concatenate(col).astype(d) for col, d in zip(zip(*self.flows, strict=True), flow_dtypes, strict=True)
            )
        else:
            flows = tuple(np.empty(0, d) for d in flow_dtypes)
        out = Results(
            seed=seed,
            start=self.start,
            t_start=self.t_start,
            t_end=self.t_end,
            t_deadline=self.t_deadline,
            deadline=self.spec.deadline,
            scale=self.scale,
            target_count=self.spec.target_count,
            programme_names=[p.name for p in self.programmes],
            boundary_t=np.array(rec.boundary_t),
            boundary_states=np.array(rec.boundary_states),
            boundary_programmes=np.array(rec.boundary_programmes).reshape(len(rec.boundary_t), len(self.programmes), 3),
            flows=flows,
            programme_events=rec.concat_programme_events(),
            waits=rec.concat_waits(),
            triggers=rec.triggers.copy(),
            waves=self.survey[0],
            wave_count=self.spec.waves,
            wave_t=np.asarray(self.spec.wave_t),
            present_waves=self.survey[2],
            stock_waves=self.survey[3],
            survey_onsets=self.survey_onsets.copy(),
            census_entries=self.census_entries.copy(),
            attrition=self.spec.attrition,
            in_start_stock=start[start].copy(),
            key_worker_received=f.key_worker_received[:n][start].copy(),
            family_weight=self.survey[1],
            families_tracked=int(f.n - f.free.size),
            events=rec.events,
            attached_t=f.t_attached[:n][attached].copy(),
            attached_year=f.attached_year[:n][attached].copy(),
            claims=rec.concat_claims(),
            finance=self.finance,
            replication=replication,
            cause_names=CAUSE_NAMES,
            problem_names=PROBLEM_NAMES,
            boundary_problems=np.array(self.boundary_problems),
            class_names=CLASS_NAMES,
            boundary_classes=np.array(self.boundary_classes),
            target_population=self.spec.target,
            successes=succ,
            outcomes=outcomes,
            programme_2012=self.admin.results() if self.admin is not None else None,
        )
        f.recycle()  # every array above is a copy: the next replication in this process may have the store's memory
        self.families = self._cols = self.rand = None
        return out
