"""The family model: set-up, arrivals, programme admissions and one month's simulation.

Every family has one clock for its memoryless competing hazards (ladder
moves, triggers, identification, referrals) and deterministic timers for
leaving the model, programme ends and hazard changes. A month is simulated
by processing each family's events in time order, family by family, in the
compiled kernel (:mod:`flowsim.engine.kernel`); families interact only
through programme queues, whose admissions are computed afterwards at exact
times, and admitted families then run on to the end of the month.
"""

from __future__ import annotations

import itertools

import numpy as np

from flowsim.engine import kernel, payment
from flowsim.engine.codes import (
    DRAW_DROPOUT,
    DRAW_DURATION,
    DRAW_SPELL,
    ENROLLED,
    FIRST_PROGRAMME,
    OUT,
    PER_PROGRAMME,
    STARTED,
    WAITING,
    G,
    H,
    R,
    S,
)
from flowsim.engine.crn import FamilyRandom
from flowsim.engine.entries import Entries
from flowsim.engine.families import Departed, Families
from flowsim.engine.population import EntrantSampler
from flowsim.engine.programmes import Programme
from flowsim.engine.recorder import Recorder
from flowsim.engine.spec import ModelSpec
from flowsim.results import Results

STREAMS = ("population", "entrants")
# Kernel buffer size (flows per flush); a month of the full baseline writes about 20,000 flows.
_BUFFER = 1 << 16


class Model(Entries):
    """One replication's state. Built from a scenario and a seed; no I/O."""

    def __init__(self, spec: ModelSpec, seed: int | np.random.SeedSequence) -> None:
        self.spec = spec
        self.start = spec.start
        self.scale = spec.scale
        self.t_start, self.t_end, self.t_deadline = spec.t_start, spec.t_end, spec.t_deadline
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        children = root.spawn(len(STREAMS))
        self.rng = {name: np.random.default_rng(c) for name, c in zip(STREAMS, children)}
        self.seed64 = int(root.generate_state(1, np.uint64)[0])
        self.pop = spec.population
        self.programmes = [
            Programme(
                p.name,
                i,
                p.capacity_times,
                p.capacity_places,
                p.duration_mean_years,
                p.duration_shape,
                p.p_dropout,
            )
            for i, p in enumerate(spec.programmes)
        ]
        self.key_worker = spec.key_worker
        self.finance = spec.finance.enabled
        self.recorder = Recorder(len(self.programmes), spec.population.trigger_base.size)
        # Universe "all" tracks every family with children and replaces each that leaves by a
        # new one in its row; "at_risk" tracks the families at risk and those arriving from an
        # untracked general population, drawn by the entrant sampler.
        self.replaces = spec.universe == "all"
        self.n_all = round(spec.families_with_children)  # families with children
        if self.replaces:
            self.entrants = None
            capacity = self.n_all + 1000
        else:
            self.entrants = EntrantSampler(
                self.pop,
                spec.up[G],
                spec.boost,
                spec.window,
                spec.families_with_children,
                self.rng["entrants"],
            )
            # Rows for the initial families and every arrival the whole population's entry
            # intensity could bring (arrivals are thinned from it), so the store rarely grows.
            expected = spec.initial_at_risk + self.entrants.rate_per_year * (self.t_end - self.t_start)
            capacity = int(expected + 6 * np.sqrt(expected)) + 1000
        self.families = Families(
            len(self.programmes), capacity=capacity, n_counters=FIRST_PROGRAMME + len(self.programmes)
        )
        self._exits: list[tuple[np.ndarray, np.ndarray]] = []  # families that left, to replace (universe "all")
        self._departed: list[Departed] = []  # what replaced families left for the results
        self.replaced = 0
        self.rand = FamilyRandom(self.families, self.seed64)
        self.const = self._constants()
        self.buf = kernel.new_buffers(_BUFFER, len(self.programmes), len(spec.referred))
        self._cols: kernel.FamilyColumns | None = None
        self._early = [np.empty(0, np.int64) for _ in self.programmes]  # reused places, per programme
        self.tracked_hazard = 0.0  # sum of entry hazards of tracked families still in the model
        self._initial_population()

    # --- set-up -------------------------------------------------------------------
    # --- the compiled kernel's view of the model ------------------------------------------------
    def _constants(self) -> kernel.Constants:
        spec = self.spec
        progs = spec.programmes
        n = len(progs)
        # A programme outside any group excludes only itself (a family is referred once at a time).
        group_mask = np.array([1 << i for i in range(n)], np.int64)
        for members in spec.groups.values():
            group_mask[members] = sum(1 << j for j in members)
        needs_mask = np.array([sum(1 << j for j in p.requires_programmes) for p in progs], np.int64)
        n_purposes = FIRST_PROGRAMME + PER_PROGRAMME * n
        salt = np.array([(k * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF for k in range(n_purposes)], np.uint64)
        trigger_table = self.pop.trigger_table()
        return kernel.Constants(
            seed=np.uint64(self.seed64 & 0xFFFFFFFFFFFFFFFF),
            salt=salt,
            up=spec.up,
            down=spec.down,
            boostable=spec.boostable,
            boost=float(spec.boost),
            window=float(spec.window),
            id_fip=float(spec.id_fip),
            id_new=float(spec.id_new),
            councils=float(spec.councils),
            rollout_t=np.asarray(spec.rollout_t, float),
            rollout_share=np.asarray(spec.rollout_share, float),
            spell_shape=float(spec.spell_shape),
            spell_scale=float(spec.spell_scale),
            child_age_limit=float(self.pop.child_age_limit),
            birth=spec.birth,
            trigger_table=trigger_table,
            trigger_total=trigger_table.sum(axis=1),
            domain_share=spec.domain_share,
            key_worker=self.key_worker,
            referred=np.array(spec.referred, np.int64),
            open_t=np.array([p.open_t for p in progs], float),
            group_mask=group_mask,
            eligible=np.array([p.eligible for p in progs], bool).reshape(n, OUT + 1),
            needs_mask=needs_mask,
            needs_any=np.array([p.needs_any for p in progs], bool),
            needs_domains=np.array([p.requires_domains for p in progs], np.uint8),
            referral_rate=np.array([p.referral_rate_per_year for p in progs], float),
            p_accept=np.array([p.p_accept for p in progs], float),
            escalation_effect=np.array([p.escalation_effect for p in progs], float),
            deescalation_multiplier=np.array([p.deescalation_multiplier for p in progs], float),
            effect_years_after=np.array([p.effect_years_after for p in progs], float),
            domain_effect=np.array([p.domain_effect for p in progs], float).reshape(n, 3),
            p_success=np.array([p.p_success for p in progs], float),
        )

    def _columns(self) -> kernel.FamilyColumns:
        """The family columns, rebuilt when the store grows (its arrays are replaced)."""
        f = self.families
        if self._cols is None or self._cols.state is not f.state:
            self._cols = kernel.FamilyColumns(*(getattr(f, name) for name in kernel.FamilyColumns._fields))
        return self._cols

    def _per_family(self, fn, ids: np.ndarray, t: np.ndarray | float, *extra) -> None:
        """Call kernel function ``fn`` for families ``ids`` at times ``t`` (an array, or one time for all)."""
        if ids.size:
            t = np.ascontiguousarray(np.broadcast_to(np.asarray(t, float), ids.shape))
            fn(self._columns(), self.const, ids.astype(np.int64, copy=False), t, *extra)

    def _redraw(self, ids: np.ndarray, t: np.ndarray | float) -> None:
        """Draw the next competing-hazard event from ``t`` (memoryless, so exact after any change)."""
        self._per_family(kernel.redraw_many, ids, t, self.buf.scratch)

    def _next_change(self, ids: np.ndarray, t: np.ndarray) -> None:
        """When each family's hazards next change by themselves (a trigger window or after-effect ends)."""
        self._per_family(kernel.next_change_many, ids, t)

    def _set_domains(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Draw each family's problem flags from its ladder state; note when a flag changes."""
        self._per_family(kernel.set_domains_many, ids, t)

    def _spell_end(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """When a spell at risk starting at ``t`` resolves: a gamma-distributed length later."""
        return t + self.rand.gamma(ids, DRAW_SPELL, self.spec.spell_shape, self.spec.spell_scale)

    def _seed_words(self) -> tuple[int, int]:
        """The run's 64-bit seed as two 32-bit words, the start of every monthly stream's seed."""
        return self.seed64 & 0xFFFFFFFF, self.seed64 >> 32

    @staticmethod
    def _purpose(programme: int, what: int) -> int:
        return FIRST_PROGRAMME + PER_PROGRAMME * programme + what

    # --- one month ------------------------------------------------------------------------
    def run_slice(self, t0: float, t1: float) -> None:
        """Simulate every event in ``[t0, t1)``."""
        f = self.families
        for i, prog in enumerate(self.programmes):
            prog.open_month(t0)
            f.released_early[self._early[i], i] = False
            self._early[i] = np.empty(0, np.int64)
        if not self.replaces:
            self._arrivals(t0, t1)
        active = kernel.due_before(self._columns(), f.n, t1)
        for rerun in itertools.count():
            self._run(active, t1)
            admitted = [self._admit(prog, t1) for prog in self.programmes]
            admitted.append(self._replace_departed(t0, rerun))
            # A family admitted to two programmes at once must be processed once.
            admitted = np.unique(np.concatenate(admitted))
            active = admitted[self.families.t_due[admitted] < t1] if admitted.size else admitted
            if not active.size:
                break

    def _run(self, ids: np.ndarray, t1: float) -> None:
        """Every event before ``t1`` of families ``ids``, in the kernel; then its buffers are emptied."""
        ids = ids.astype(np.int64, copy=False)
        pos = 0
        while pos < ids.size:
            pos = kernel.run_families(self._columns(), self.const, self.buf, ids, pos, t1)
            self._flush()

    def _flush(self) -> None:
        """Move what the kernel wrote to its buffers into the recorder and the programme queues."""
        b, rec = self.buf, self.recorder
        n = b.n
        k = n[kernel.N_FLOW]
        if k:
            rec.flows.append(
                (b.flow_t[:k].copy(), b.flow_src[:k].copy(), b.flow_dst[:k].copy(), b.flow_cause[:k].copy())
            )
        k = n[kernel.N_PROG_EVENT]
        if k:
            rec.programme_events.append((b.pe_prog[:k].copy(), b.pe_t[:k].copy(), b.pe_kind[:k].copy()))
        k = n[kernel.N_TRIGGER]
        if k:
            rec.triggers += np.bincount(b.trig_kind[:k], minlength=rec.triggers.size)
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
        if k and self.replaces:
            self._exits.append((b.exit_id[:k].copy(), b.exit_t[:k].copy()))
        rec.events += int(n[kernel.N_EVENTS])
        self.tracked_hazard -= float(b.hazard_removed[0])
        b.hazard_removed[0] = 0.0
        n[:] = 0

    def _admit(self, prog: Programme, t1: float) -> np.ndarray:
        f = self.families
        i = prog.index
        adm = prog.admit(lambda ids: f.prog_status[ids, i] == WAITING, t1, lambda ids: self._durations(i, ids))
        if not adm.ids.size:
            return adm.ids
        ids = adm.ids
        f.prog_status[ids, i] = ENROLLED
        self.buf.waiting[i] -= ids.size
        ends = adm.ends.astype(np.float32)  # as the family's record holds it, so the end falls when t_prog says
        f.prog_end[ids, i] = ends
        f.prog_dropout[ids, i] = adm.dropout
        f.t_prog[ids] = np.minimum(f.t_prog[ids], ends.astype(np.float64))
        f.released_early[ids[adm.reused], i] = True
        self._early[i] = np.concatenate([self._early[i], ids[adm.reused]])
        if i == self.key_worker:
            started = (adm.started >= 0) & (adm.started < self.t_deadline)
            f.key_worker_received[ids[started]] = True
            if self.finance:
                payment.attach(f, self.spec.finance, self._domains, ids, adm.started)
        self.recorder.programme_event(i, adm.started, STARTED, ids.size)
        self.recorder.waits.append((np.full(ids.size, i, np.int8), adm.arrived, adm.started))
        # Hazards change from the start (or from the family's last event, if later).
        t = np.maximum(adm.started, f.t_last[ids])
        self._next_change(ids, t)
        self._redraw(ids, t)
        return ids

    def claim(self, t: float) -> None:
        """A results claim window at ``t`` (payment by results)."""
        payment.claim(self.families, self.spec.finance, self._domains, self.recorder, t)

    def _domains(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Problem flags and when each last changed, for payment by results."""
        f = self.families
        return f.domains[ids], f.domain_since[ids]

    def _durations(self, i: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each family's intervention length in programme ``i`` and whether it drops out (years).

        The draws are those of the family's current referral (``kernel.episode_uniform``):
        the same whenever they are asked for, so the queue's head can be looked at
        month after month. A drop-out leaves at a uniform point: the same uniform
        decides both, since given u < p_dropout, u / p_dropout is uniform.
        """
        prog = self.programmes[i]
        mean, shape = prog.duration_mean_years, prog.duration_shape
        col = FIRST_PROGRAMME + i
        length = self.rand.gamma(ids, self._purpose(i, DRAW_DURATION), shape, mean / shape, False, col)
        u = self.rand.uniform(ids, self._purpose(i, DRAW_DROPOUT), False, col)
        dropout = u < prog.p_dropout
        fraction = np.where(dropout, u / max(prog.p_dropout, 1e-300), 1.0)
        return length * fraction, dropout

    # --- observation at slice boundaries ----------------------------------------------------------
    def observe(self, t: float, wave: int | None) -> None:
        """Record state counts and programme queues at boundary ``t``; mark survey wave ``wave``."""
        f = self.families
        counts = np.zeros(OUT + 1, np.int64)
        kernel.census(self._columns(), f.n, counts)
        counts[OUT] += self.replaced  # families that left and whose rows new families took over
        waiting = self.buf.waiting
        self.recorder.boundary_t.append(t)
        self.recorder.boundary_states.append(counts)
        progs = np.zeros((len(self.programmes), 3), np.int64)
        for i, prog in enumerate(self.programmes):
            progs[i] = (prog.capacity(t), prog.occupied, waiting[i])
        self.recorder.boundary_programmes.append(progs)
        st = f.state[: f.n]
        if wave is not None:
            at_risk = (st == R) | (st == H) | (st == S)
            f.waves[: f.n][at_risk] |= np.uint16(1 << wave)
        if t == 0.0:
            f.in_start_stock[: f.n] = st == S
            if self.key_worker >= 0:
                enrolled = f.prog_status[: f.n, self.key_worker] == ENROLLED
                f.key_worker_received[: f.n] = enrolled

    def hazards_change(self, t: float) -> None:
        """At ``t`` hazards change for many families (a roll-out step, a programme opening): redraw their clocks.

        Only families in the states whose hazards change are redrawn (the others' clocks stay exact).
        """
        f = self.families
        ids = np.flatnonzero(self.spec.changed_states(t)[f.state[: f.n]])
        self._redraw(ids, np.maximum(t, f.t_last[ids]))

    def _per_family_result(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Column ``name`` of departed families (universe "all") then of the families still in ``rows``."""
        parts = [getattr(d, name) for d in self._departed]
        return np.concatenate([*parts, getattr(self.families, name)[rows]])

    def results(self, seed: int, replication: int | None = None) -> Results:
        """The replication's :class:`~flowsim.results.Results`. Frees the family store: call it once, at the end."""
        rec, f = self.recorder, self.families
        rows = np.arange(f.n)
        t_attached = self._per_family_result("t_attached", rows)
        attached = np.isfinite(t_attached)
        per_family = {
            name: self._per_family_result(name, rows) for name in ("waves", "in_start_stock", "key_worker_received")
        }
        attached_year = self._per_family_result("attached_year", rows)[attached]
        tracked = f.n + self.replaced
        # The family store is no longer needed: free it before the logs are joined (universe "all" holds 5.8M rows).
        self.families = self._cols = self.rand = None
        del f
        return Results(
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
            flows=rec.concat_flows(),
            programme_events=rec.concat_programme_events(),
            waits=rec.concat_waits(),
            triggers=rec.triggers.copy(),
            waves=per_family["waves"],
            wave_count=self.spec.waves,
            in_start_stock=per_family["in_start_stock"],
            key_worker_received=per_family["key_worker_received"],
            families_tracked=tracked,
            attached_t=t_attached[attached],
            attached_year=attached_year,
            claims=rec.concat_claims(),
            finance=self.finance,
            events=rec.events,
            replication=replication,
        )
