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

from flowsim.engine import kernel
from flowsim.engine.crn import FamilyRandom, family_keys, mix
from flowsim.engine.families import INF, Departed, Families
from flowsim.engine.kernel import (
    DRAW_DROPOUT,
    DRAW_DURATION,
    DRAW_EXIT,
    DRAW_SPELL,
)
from flowsim.engine.kernel import (
    FIRST_PROGRAMME as _FIRST_PROGRAMME,
)
from flowsim.engine.kernel import (
    PER_PROGRAMME as _PER_PROGRAMME,
)
from flowsim.engine.population import EntrantSampler, PopulationModel, subset, weighted_top
from flowsim.engine.programmes import Programme, step_at, step_values
from flowsim.engine.recorder import STARTED, Recorder
from flowsim.engine.states import ENROLLED, ENTRY, FORMED, OUT, OUTSIDE, TRIGGER, WAITING, G, H, R, S, T
from flowsim.scenario.registry import DOMAINS, PROGRAMMES, RISK_FACTORS, TRIGGERS
from flowsim.timeline import end_of_day_years, to_years

STREAMS = ("population", "entrants")
CRIME, EDUCATION, WORKLESS = 1, 2, 4  # outcome-domain bits
CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS = 1, 2, 4
_STATE_CODE = {"R": R, "H": H, "S": S}
_BIRTH = [t.name for t in TRIGGERS].index("birth")
_FACTOR_INDEX = {f.name: i for i, f in enumerate(RISK_FACTORS)}
# Kernel buffer size (flows per flush); a month of the full baseline writes about 20,000 flows.
_BUFFER = 1 << 16
_CHUNK = 1 << 18  # families set up at once in universe "all"
_NEW_FAMILY = np.uint64(0x5851F42D4C957F2D)  # a replacement's key is mix(key of the family it replaces ^ this)


class Model:
    """One replication's state. Built from a scenario and a seed; no I/O."""

    def __init__(self, scenario, seed: int | np.random.SeedSequence) -> None:
        p = scenario.params
        self.params = p
        self.start = p.time.start
        self.scale = p.population.scale
        self.t_start = -(p.survey.waves - 1)
        self.t_end = end_of_day_years(p.time.end, self.start)
        self.t_deadline = end_of_day_years(p.time.deadline, self.start)
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        children = root.spawn(len(STREAMS))
        self.rng = {name: np.random.default_rng(c) for name, c in zip(STREAMS, children)}
        self.seed64 = int(root.generate_state(1, np.uint64)[0])
        self.pop = PopulationModel.from_params(p)
        d = p.dynamics
        self.entry_rate = d.entry_rate_per_year
        self.spell_shape = d.spell_shape
        self.spell_scale = d.spell_mean_years / d.spell_shape
        # Per-state lookup tables (index = state code) keep the hazard matrix free of np.select.
        self.up_lut = np.zeros(OUT + 1)
        self.up_lut[[G, R, H, T]] = [
            d.entry_rate_per_year,
            d.escalation_R_per_year,
            d.escalation_H_per_year,
            d.relapse_per_year,
        ]
        self.down_lut = np.zeros(OUT + 1)
        self.down_lut[[H, S, T]] = [d.deescalation_H_per_year, d.deescalation_S_per_year, d.sustain_per_year]
        self.boostable = np.zeros(OUT + 1, bool)
        self.boostable[[G, R, H, T]] = True
        self.boost = p.triggers.boost_per_year
        self.window = p.triggers.window_years
        self.other_exit = p.population.other_exit_rate_per_year
        idn = p.identification
        self.id_fip, self.id_new = idn.fip_rate_per_year, idn.new_approach_rate_per_year
        self.rollout_t, self.rollout_share = step_values(idn.rollout, self.start)
        self._build_programmes()
        self.domain_share = np.zeros((OUT + 1, len(DOMAINS)))
        for j, domain in enumerate(DOMAINS):
            for name, code in (("G", G), ("R", R), ("H", H), ("S", S), ("T", T)):
                self.domain_share[code, j] = getattr(getattr(p.outcomes, domain), f"share_{name}")
        fin = p.finance
        self.finance = fin.enabled and self.key_worker >= 0
        self.fin_start = to_years(fin.programme_start, self.start)
        self.fin_end = end_of_day_years(fin.programme_end, self.start)
        self.attach_t, _ = step_values(fin.attachment_share, self.start)
        self.recorder = Recorder(len(self.programmes), len(TRIGGERS))
        # Universe "all" tracks every family with children and replaces each that leaves by a
        # new one in its row; "at_risk" tracks the families at risk and those arriving from an
        # untracked general population, drawn by the entrant sampler.
        self.replaces = p.population.universe == "all"
        self.n_all = round(p.population.families_with_children * self.scale)  # families with children
        if self.replaces:
            self.entrants = None
            capacity = self.n_all + 1000
        else:
            self.entrants = EntrantSampler(
                self.pop,
                self.entry_rate,
                self.boost,
                self.window,
                p.population.families_with_children * self.scale,
                self.rng["entrants"],
            )
            # Rows for the initial families and every arrival the whole population's entry
            # intensity could bring (arrivals are thinned from it), so the store rarely grows.
            n0 = p.population.initial_at_risk * self.scale
            expected = n0 + self.entrants.rate_per_year * (self.t_end - self.t_start)
            capacity = int(expected + 6 * np.sqrt(expected)) + 1000
        self.families = Families(
            len(self.programmes), capacity=capacity, n_counters=_FIRST_PROGRAMME + len(self.programmes)
        )
        self._exits: list[tuple[np.ndarray, np.ndarray]] = []  # families that left, to replace (universe "all")
        self._departed: list[Departed] = []  # what replaced families left for the results
        self.replaced = 0
        self.rand = FamilyRandom(self.families, self.seed64)
        self.const = self._constants()
        self.buf = kernel.new_buffers(_BUFFER, len(self.programmes), len(self.referred_programmes))
        self._cols: kernel.FamilyColumns | None = None
        self._early = [np.empty(0, np.int64) for _ in self.programmes]  # reused places, per programme
        self.tracked_hazard = 0.0  # sum of entry hazards of tracked families still in the model
        self._initial_population()

    # --- set-up -------------------------------------------------------------------
    def _build_programmes(self) -> None:
        self.programmes: list[Programme] = []
        self.prog_spec = []
        for spec in PROGRAMMES:
            cfg = getattr(self.params.programmes, spec.name)
            if not cfg.enabled:
                continue
            st, staff = step_values(cfg.staff, self.start, self.scale * cfg.caseload)
            pt, per_year = step_values(cfg.places_per_year, self.start, self.scale * cfg.duration_mean_years)
            times = np.union1d(st, pt)
            places = np.array([step_at(st, staff, t) + step_at(pt, per_year, t) for t in times])
            self.programmes.append(
                Programme(
                    spec.name,
                    len(self.programmes),
                    times,
                    places,
                    cfg.duration_mean_years,
                    cfg.duration_shape,
                    cfg.p_dropout,
                )
            )
            self.prog_spec.append(cfg)
        names = [prog.name for prog in self.programmes]
        self.key_worker = names.index("key_worker") if "key_worker" in names else -1
        self.referred_programmes = [i for i, c in enumerate(self.prog_spec) if c.referral == "rate"]
        self.prog_states = []
        for c in self.prog_spec:
            lut = np.zeros(OUT + 1, bool)
            lut[[_STATE_CODE[s] for s in c.eligible_states]] = True
            self.prog_states.append(lut)
        # A programme takes referrals from the first time it has places; one that never has any changes nothing.
        self.prog_open = []
        for prog in self.programmes:
            has = np.flatnonzero(prog.capacity_places > 0)
            self.prog_open.append(float(prog.capacity_times[has[0]]) if has.size else INF)
        index = {prog.name: i for i, prog in enumerate(self.programmes)}
        self.groups: dict[str, list[int]] = {}
        for i, c in enumerate(self.prog_spec):
            if c.exclusive_group:
                self.groups.setdefault(c.exclusive_group, []).append(i)
        # Programmes a family must be in for each programme (only those running), and problems it must have.
        self.prog_needs = [[index[n] for n in c.requires_programmes if n in index] for c in self.prog_spec]
        self.prog_needs_any = [bool(c.requires_programmes) for c in self.prog_spec]
        self.prog_domains = [np.uint8(sum(1 << DOMAINS.index(d) for d in c.requires_domains)) for c in self.prog_spec]

    def change_times(self) -> list[float]:
        """Times when hazards change for many families at once: roll-out steps, programmes opening."""
        times = set(self.rollout_t.tolist()) | {t for t in self.prog_open if np.isfinite(t)}
        return sorted(t for t in times if self.t_start < t < self.t_end)

    def changed_states(self, t: float) -> np.ndarray:
        """Bool per state code: whose hazards change at calendar time ``t`` (see :meth:`change_times`).

        A roll-out step or the key-worker programme opening changes the identification
        hazard of families in S; a programme opening to referrals changes the referral
        hazard of the states it takes. No other hazard depends on the calendar.
        """
        lut = np.zeros(OUT + 1, bool)
        if self.key_worker >= 0 and (t in self.rollout_t.tolist() or t == self.prog_open[self.key_worker]):
            lut[S] = True
        for i in self.referred_programmes:
            if t == self.prog_open[i]:
                lut |= self.prog_states[i]
        return lut

    def _initial_population(self) -> None:
        """The at-risk families when the survey window opens, drawn from the population tilted by risk."""
        p = self.params.population
        rng = self.rng["population"]
        n_s, n_h = round(p.initial_stock * self.scale), round(p.initial_flow_group * self.scale)
        n_r = round(p.initial_at_risk * self.scale) - n_h - n_s
        if self.replaces:
            self._whole_population(rng, n_s, n_h, n_r)
            return
        # Four candidates for each family at risk.
        cand = self.pop.draw(4 * (n_r + n_h + n_s) + 64, rng)
        entry, esc = self.pop.entry_mult(cand), self.pop.esc_mult(cand)
        free = np.ones(entry.size, bool)
        for state, n, weight in ((S, n_s, entry * esc**2), (H, n_h, entry * esc), (R, n_r, entry)):
            idx = weighted_top(np.where(free, weight, 0.0), n, rng)
            free[idx] = False
            ids = self._add(cand, idx, state, self.t_start, family_keys(self.seed64, 0, state, n))
            self._mid_spell(ids, rng)

    def _mid_spell(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        """Families at risk when the survey window opens are part-way through a spell.

        The stationary residual of a gamma renewal process is U x (a length-biased draw, Gamma(shape + 1)).
        """
        n = ids.size
        biased = rng.gamma(self.spell_shape + 1, self.spell_scale, n)
        self.families.t_resolve[ids] = self.t_start + rng.random(n) * biased
        kernel.refresh_many(self._columns(), ids)

    def _whole_population(self, rng: np.random.Generator, n_s: int, n_h: int, n_r: int) -> None:
        """Universe "all": every family with children, drawn in chunks into G; then those at risk are picked.

        The families in S, H and R are drawn from the whole population tilted by risk,
        as the default universe draws them from candidates, and start part-way through a spell.
        """
        f = self.families
        keys = family_keys(self.seed64, 0, G, self.n_all)
        for lo in range(0, self.n_all, _CHUNK):  # in chunks: the whole population's attributes are large
            batch = self.pop.draw(min(_CHUNK, self.n_all - lo), rng)
            self._start(f.add(batch, keys[lo : lo + batch.frailty.size]), batch, G, self.t_start)
        entry, esc = f.entry_mult[: f.n], f.esc_mult[: f.n]
        free = np.ones(f.n, bool)
        for state, n, power in ((S, n_s, 2), (H, n_h, 1), (R, n_r, 0)):
            idx = weighted_top(np.where(free, entry * esc**power, 0.0), n, rng)
            free[idx] = False
            t = np.full(idx.size, self.t_start)
            f.state[idx] = state
            self._set_domains(idx, t)
            self._redraw(idx, t)
            self._mid_spell(idx, rng)

    def _add(self, new, idx: np.ndarray, state: int, t: float | np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Append families ``new[idx]`` in ``state`` from time(s) ``t``; return their rows."""
        batch = subset(new, idx)
        ids = self.families.add(batch, keys)
        self._start(ids, batch, state, t)
        return ids

    def _start(self, ids: np.ndarray, batch, state: int, t: float | np.ndarray) -> None:
        """Families ``batch`` start in rows ``ids`` (blank rows) in ``state`` at time(s) ``t``: attributes and clocks."""
        f = self.families
        f.council[ids] = batch.council
        f.state[ids] = state
        if self.entrants is not None:
            self.tracked_hazard += float(self.entrants.hazard(batch).sum())
        f.entry_mult[ids] = self.pop.entry_mult(batch)
        f.esc_mult[ids] = self.pop.esc_mult(batch)
        f.drivers[ids] = self.pop.driver_bits(batch)
        for i, cfg in enumerate(self.prog_spec):
            req = [_FACTOR_INDEX[r] for r in cfg.requires]
            f.prog_ok[ids, i] = batch.factors[:, req].all(axis=1) if req else True
        t = np.broadcast_to(np.asarray(t, float), ids.shape)
        f.t_age_out[ids] = t + (self.pop.child_age_limit - batch.youngest_age)
        f.t_other_exit[ids] = t + (
            self.rand.exponential(ids, DRAW_EXIT) / self.other_exit if self.other_exit > 0 else INF
        )
        f.t_exit[ids] = np.minimum(f.t_age_out[ids], f.t_other_exit[ids])
        f.t_last[ids] = t
        f.t_prog[ids] = INF
        f.t_change[ids] = INF
        f.t_resolve[ids] = self._spell_end(ids, t) if state in (R, H, S) else INF
        self._set_domains(ids, t)
        self._redraw(ids, t)

    # --- the compiled kernel's view of the model ------------------------------------------------
    def _constants(self) -> kernel.Constants:
        d, p = self.params.dynamics, self.params
        n = len(self.programmes)
        specs = self.prog_spec
        if n > 62:
            raise ValueError("the kernel's programme bit masks hold at most 62 programmes")
        # A programme outside any group excludes only itself (a family is referred once at a time).
        group_mask = np.array([1 << i for i in range(n)], np.int64)
        for members in self.groups.values():
            bits = sum(1 << j for j in members)
            group_mask[members] = bits
        needs_mask = np.array([sum(1 << j for j in js) for js in self.prog_needs], np.int64)
        n_purposes = _FIRST_PROGRAMME + _PER_PROGRAMME * n
        salt = np.array([(k * 0xD1B54A32D192ED03) & 0xFFFFFFFFFFFFFFFF for k in range(n_purposes)], np.uint64)
        trigger_table = self.pop.trigger_table()
        return kernel.Constants(
            seed=np.uint64(self.seed64 & 0xFFFFFFFFFFFFFFFF),
            salt=salt,
            up=self.up_lut,
            down=self.down_lut,
            boostable=self.boostable,
            boost=float(self.boost),
            window=float(self.window),
            id_fip=float(self.id_fip),
            id_new=float(self.id_new),
            councils=float(p.identification.councils),
            rollout_t=np.asarray(self.rollout_t, float),
            rollout_share=np.asarray(self.rollout_share, float),
            spell_shape=float(d.spell_shape),
            spell_scale=float(self.spell_scale),
            child_age_limit=float(self.pop.child_age_limit),
            birth=_BIRTH,
            trigger_table=trigger_table,
            trigger_total=trigger_table.sum(axis=1),
            domain_share=self.domain_share,
            key_worker=self.key_worker,
            referred=np.array(self.referred_programmes, np.int64),
            open_t=np.array(self.prog_open, float),
            group_mask=group_mask,
            eligible=np.array(self.prog_states, bool).reshape(n, OUT + 1),
            needs_mask=needs_mask,
            needs_any=np.array(self.prog_needs_any, bool),
            needs_domains=np.array(self.prog_domains, np.uint8),
            referral_rate=np.array([s.referral_rate_per_year for s in specs], float),
            p_accept=np.array([s.p_accept for s in specs], float),
            escalation_effect=np.array([s.escalation_effect for s in specs], float),
            deescalation_multiplier=np.array([s.deescalation_multiplier for s in specs], float),
            effect_years_after=np.array([s.effect_years_after for s in specs], float),
            domain_effect=np.array([(s.crime_effect, s.education_effect, s.work_effect) for s in specs], float).reshape(
                n, 3
            ),
            p_success=np.array([s.p_success for s in specs], float),
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
        return t + self.rand.gamma(ids, DRAW_SPELL, self.spell_shape, self.spell_scale)

    @staticmethod
    def _purpose(programme: int, what: int) -> int:
        return _FIRST_PROGRAMME + _PER_PROGRAMME * programme + what

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

    def _replace_departed(self, t0: float, rerun: int) -> np.ndarray:
        """Universe "all": a new family takes over the row of each family that left, from when it left.

        New families are drawn from the population of families with children (the
        stream of this month and pass); each one's key derives from the key of the
        family it replaces, so its own draws do not depend on the order of exits.
        Returns the rows, which then run on to the end of the month.
        """
        if not self._exits:
            return np.empty(0, np.int64)
        ids = np.concatenate([i for i, _ in self._exits])
        t = np.concatenate([t for _, t in self._exits])
        self._exits = []
        f = self.families
        self._departed.append(f.reuse(ids, mix(f.key[ids] ^ _NEW_FAMILY)))
        for prog in self.programmes:
            prog.forget(ids)  # queue entries left by the departed families (their status no longer says so)
        batch = int(round((t0 - self.t_start) * 12_000))
        rng = np.random.default_rng([self.seed64 & 0xFFFFFFFF, self.seed64 >> 32, batch, rerun, 2])
        self._start(ids, self.pop.draw(ids.size, rng), G, t)
        self.recorder.flow(t, OUTSIDE, G, FORMED, ids.size)
        self.replaced += ids.size
        return ids

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
            rec.triggers += np.bincount(b.trig_kind[:k], minlength=len(TRIGGERS))
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

    def _arrivals(self, t0: float, t1: float) -> None:
        """Families newly at risk from the untracked general population arrive in ``[t0, t1)``."""
        # Candidates come from the whole population's intensity and are thinned to the
        # untracked pool's share, all from a stream of this month's own: scenarios
        # sharing a seed see the same candidates, whatever their pools.
        batch = int(round((t0 - self.t_start) * 12_000))
        rng = np.random.default_rng([self.seed64 & 0xFFFFFFFF, self.seed64 >> 32, batch])
        share = max(0.0, 1.0 - self.tracked_hazard / self.entrants.rate_per_year)
        new, cause = self.entrants.draw(t1 - t0, rng)
        n = cause.size
        t = t0 + rng.random(n) * (t1 - t0)
        window_left = self.window * rng.random(n)
        keep = np.flatnonzero(rng.random(n) < share)
        if not keep.size:
            return
        cause, t, window_left = cause[keep], t[keep], window_left[keep]
        ids = self._add(new, keep, R, t, family_keys(self.seed64, 1, batch, n)[keep])
        by_trigger = cause >= 0
        f = self.families
        # A trigger-led entrant is still inside its trigger's window.
        f.boost_until[ids[by_trigger]] = t[by_trigger] + window_left[by_trigger]
        f.last_trigger[ids[by_trigger]] = cause[by_trigger]
        self._next_change(ids, t)
        self._redraw(ids, t)
        self.recorder.flow(t[~by_trigger], OUTSIDE, R, ENTRY, int((~by_trigger).sum()))
        self.recorder.flow(t[by_trigger], OUTSIDE, R, TRIGGER, int(by_trigger.sum()))
        self.recorder.events += cause.size

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
                self._attach(ids, adm.started)
        self.recorder.programme_event(i, adm.started, STARTED, ids.size)
        self.recorder.waits.append((np.full(ids.size, i, np.int8), adm.arrived, adm.started))
        # Hazards change from the start (or from the family's last event, if later).
        t = np.maximum(adm.started, f.t_last[ids])
        self._next_change(ids, t)
        self._redraw(ids, t)
        return ids

    def _attach(self, ids: np.ndarray, started: np.ndarray) -> None:
        """Key-worker starts inside the programme window, by families with enough problems, are attachments."""
        f = self.families
        problems = np.zeros(ids.size, np.int64)
        for j in range(len(DOMAINS)):
            problems += (f.domains[ids] >> j) & 1
        ok = (
            (started >= self.fin_start)
            & (started < self.fin_end)
            & ~np.isfinite(f.t_attached[ids])
            & (problems >= self.params.finance.min_problems)
        )
        ids, started = ids[ok], started[ok]
        f.t_attached[ids] = started
        f.attached_year[ids] = np.maximum(np.searchsorted(self.attach_t, started, side="right") - 1, 0)
        f.attached_domains[ids] = f.domains[ids]

    def claim(self, t: float) -> None:
        """A results claim window at ``t``: attached families whose outcomes are evidenced are claimed for.

        Employment (an adult out of worklessness for ``employment_weeks``) is
        claimed in preference to the crime/ASB and education result (both
        problems gone for ``evidence_years``); each family earns one of them
        once. Progress to work is claimed once for an attached workless family
        still out of work half a year on (assumption: joining the Work
        Programme or similar is that common among them).
        """
        f = self.families
        fin = self.params.finance
        ids = np.flatnonzero(np.isfinite(f.t_attached[: f.n]) & (f.t_attached[: f.n] < t) & (f.state[: f.n] != OUT))
        if not ids.size:
            return
        dom, had, since, done = f.domains[ids], f.attached_domains[ids], f.domain_since[ids], f.claimed[ids]
        result_done = (done & (CLAIM_CRIME_EDUCATION | CLAIM_EMPLOYMENT)) != 0
        emp = ((had & WORKLESS) != 0) & ((dom & WORKLESS) == 0) & (since[:, 2] <= t - fin.employment_weeks / 52.18)
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
            & (f.t_attached[ids] <= t - 0.5)
            & ~emp
        )
        for mask, route in ((emp, CLAIM_EMPLOYMENT), (ce, CLAIM_CRIME_EDUCATION), (progress, CLAIM_PROGRESS)):
            if mask.any():
                f.claimed[ids[mask]] |= np.uint8(route)
                self.recorder.claims.append(
                    (
                        np.full(int(mask.sum()), t),
                        np.full(int(mask.sum()), route, np.int8),
                        f.attached_year[ids[mask]].copy(),
                        f.key[ids[mask]].copy(),  # the family's key: a row may hold a later family
                    )
                )

    def claim_times(self) -> list[float]:
        """Claim windows: from the first claim date every claim interval, while the run lasts."""
        if not self.finance:
            return []
        first = to_years(self.params.finance.first_claim, self.start)
        step = self.params.finance.claim_interval_years
        n = int(np.floor((self.t_end - first) / step)) + 1 if first < self.t_end else 0
        return [first + k * step for k in range(max(n, 0)) if first + k * step > self.t_start]

    def _durations(self, i: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each family's intervention length in programme ``i`` and whether it drops out (years).

        The draws are those of the family's current referral (``kernel.episode_uniform``):
        the same whenever they are asked for, so the queue's head can be looked at
        month after month. A drop-out leaves at a uniform point: the same uniform
        decides both, since given u < p_dropout, u / p_dropout is uniform.
        """
        prog = self.programmes[i]
        mean, shape = prog.duration_mean_years, prog.duration_shape
        col = _FIRST_PROGRAMME + i
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
