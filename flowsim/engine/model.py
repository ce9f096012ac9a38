"""The family model: hazards, event handlers and one month's simulation.

Every family has one clock for its memoryless competing hazards (ladder
moves, triggers, identification, referrals) and deterministic timers for
leaving the model, programme ends and hazard changes. A month is simulated
by processing, in rounds, each family's earliest due event, so each
family's events happen in time order; families interact only through
programme queues, whose admissions are computed at exact times.
"""

from __future__ import annotations

import numpy as np

from flowsim.engine.crn import FamilyRandom, family_keys
from flowsim.engine.families import INF, Families
from flowsim.engine.population import EntrantSampler, PopulationModel, subset, weighted_top
from flowsim.engine.programmes import Programme, step_at, step_values
from flowsim.engine.recorder import (
    COMPLETED,
    DECLINED,
    DROPPED_OUT,
    LEFT_MODEL,
    REFERRED,
    STARTED,
    SUCCEEDED,
    WITHDREW,
    Recorder,
)
from flowsim.engine.states import (
    AGED_OUT,
    DEESCALATION,
    ENROLLED,
    ENTRY,
    ESCALATION,
    NONE,
    OTHER_EXIT,
    OUT,
    OUTSIDE,
    RELAPSE,
    RESOLUTION,
    SUSTAINED,
    TRIGGER,
    TURNED_AROUND,
    WAITING,
    G,
    H,
    R,
    S,
    T,
)
from flowsim.scenario.registry import DOMAINS, PROGRAMMES, RISK_FACTORS, TRIGGERS
from flowsim.timeline import end_of_day_years, to_years

STREAMS = ("population", "entrants")
# Purposes of per-family draws (engine.crn); each programme has _PER_PROGRAMME of its own after _FIRST_PROGRAMME.
DRAW_CLOCK, DRAW_EVENT, DRAW_TRIGGER, DRAW_SPELL, DRAW_EXIT, DRAW_DOMAIN = range(6)
DRAW_ACCEPT, DRAW_DURATION, DRAW_DROPOUT, DRAW_SUCCESS, DRAW_EFFECT = range(5)
_FIRST_PROGRAMME, _PER_PROGRAMME = 6, 5
CRIME, EDUCATION, WORKLESS = 1, 2, 4  # outcome-domain bits
CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS = 1, 2, 4
EV_UP, EV_BOOST, EV_DOWN, EV_TRIGGER, EV_IDENTIFY, EV_REFER = range(6)
_STATE_CODE = {"R": R, "H": H, "S": S}
_BIRTH = [t.name for t in TRIGGERS].index("birth")
_FACTOR_INDEX = {f.name: i for i, f in enumerate(RISK_FACTORS)}


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
        n0 = p.population.initial_at_risk * self.scale
        n_purposes = _FIRST_PROGRAMME + _PER_PROGRAMME * len(self.programmes)
        self.families = Families(
            len(RISK_FACTORS), len(self.programmes), len(TRIGGERS), capacity=int(n0 * 4) + 1000, n_purposes=n_purposes
        )
        self.rand = FamilyRandom(self.families, self.seed64)
        self.recorder = Recorder(len(self.programmes))
        self.entrants = EntrantSampler(
            self.pop,
            self.entry_rate,
            self.boost,
            self.window,
            p.population.families_with_children * self.scale,
            self.rng["entrants"],
        )
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
        self.after_max = np.full(len(self.programmes), -INF)  # latest after-effect end set, per programme
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
        self.down_boosters = [i for i, c in enumerate(self.prog_spec) if c.deescalation_multiplier != 1.0]

    def change_times(self) -> list[float]:
        """Times when hazards change for many families at once: roll-out steps, programmes opening."""
        times = set(self.rollout_t.tolist()) | {t for t in self.prog_open if np.isfinite(t)}
        return sorted(t for t in times if self.t_start < t < self.t_end)

    def _initial_population(self) -> None:
        """The at-risk families when the survey window opens, drawn from the population tilted by risk."""
        p = self.params.population
        rng = self.rng["population"]
        n_s, n_h = round(p.initial_stock * self.scale), round(p.initial_flow_group * self.scale)
        n_r = round(p.initial_at_risk * self.scale) - n_h - n_s
        cand = self.pop.draw(4 * (n_r + n_h + n_s) + 64, rng)
        entry, esc = self.pop.entry_mult(cand), self.pop.esc_mult(cand)
        free = np.ones(entry.size, bool)
        for state, n, weight in ((S, n_s, entry * esc**2), (H, n_h, entry * esc), (R, n_r, entry)):
            idx = weighted_top(np.where(free, weight, 0.0), n, rng)
            free[idx] = False
            ids = self._add(cand, idx, state, self.t_start, family_keys(self.seed64, 0, state, n))
            # Families part-way through a spell: the stationary residual of a gamma
            # renewal process is U x (a length-biased draw, Gamma(shape + 1)).
            biased = rng.gamma(self.spell_shape + 1, self.spell_scale, n)
            self.families.t_resolve[ids] = self.t_start + rng.random(n) * biased

    def _add(self, new, idx: np.ndarray, state: int, t: float | np.ndarray, keys: np.ndarray) -> np.ndarray:
        batch = subset(new, idx)
        f = self.families
        ids = f.add(batch, keys)
        f.state[ids] = state
        f.entry_hazard[ids] = self.entrants.hazard(batch)
        self.tracked_hazard += float(f.entry_hazard[ids].sum())
        f.entry_mult[ids] = self.pop.entry_mult(batch)
        f.esc_mult[ids] = self.pop.esc_mult(batch)
        f.trigger_rates[ids] = self.pop.trigger_rates(batch)
        for i, cfg in enumerate(self.prog_spec):
            req = [_FACTOR_INDEX[r] for r in cfg.requires]
            f.prog_ok[i, ids] = batch.factors[:, req].all(axis=1) if req else True
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
        return ids

    def _set_domains(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Redraw each family's problem flags from its ladder state; note when a flag changes."""
        f = self.families
        share = self.domain_share[f.state[ids]]
        new = np.zeros(ids.size, np.uint8)
        for j in range(len(DOMAINS)):
            new |= (self.rand.uniform(ids, DRAW_DOMAIN) < share[:, j]).astype(np.uint8) << j
        changed = (new ^ f.domains[ids]).astype(np.uint8)
        for j in range(len(DOMAINS)):
            hit = (changed >> j) & 1 == 1
            f.domain_since[ids[hit], j] = t[hit]
        f.domains[ids] = new

    def _spell_end(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """When a spell at risk starting at ``t`` resolves: a gamma-distributed length later."""
        return t + self.rand.gamma(ids, DRAW_SPELL, self.spell_shape, self.spell_scale)

    @staticmethod
    def _purpose(programme: int, what: int) -> int:
        return _FIRST_PROGRAMME + _PER_PROGRAMME * programme + what

    # --- hazards ------------------------------------------------------------------------
    def _protection(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Product of (1 - effect) over programmes the family is in or recently finished."""
        f = self.families
        out = np.ones(ids.size)
        for i, cfg in enumerate(self.prog_spec):
            if cfg.escalation_effect == 0:
                continue
            if self.programmes[i].occupied <= 0 and self.after_max[i] <= t.min():
                continue  # nobody in this programme or still protected by it
            on = (f.prog_status[i, ids] == ENROLLED) | (f.after_until[i, ids] > t)
            out[on] *= 1 - cfg.escalation_effect
        return out

    def rates(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Hazards per year of every competing event, shape (len(ids), EV_REFER + number of referred programmes)."""
        f = self.families
        st = f.state[ids]
        esc = f.esc_mult[ids] * self._protection(ids, t)
        ent = f.entry_mult[ids]
        out = np.zeros((ids.size, EV_REFER + len(self.referred_programmes)))
        mult = np.where(st == G, ent, esc)
        out[:, EV_UP] = self.up_lut[st] * mult
        boosted = (f.boost_until[ids] > t) & self.boostable[st]
        out[:, EV_BOOST] = np.where(boosted, self.boost * mult, 0.0)
        out[:, EV_DOWN] = self.down_lut[st]
        for i in self.down_boosters:
            on = f.prog_status[i, ids] == ENROLLED
            if on.any():
                out[on, EV_DOWN] *= self.prog_spec[i].deescalation_multiplier
        out[:, EV_TRIGGER] = np.where(st != OUT, f.trigger_rates[ids].sum(axis=1), 0.0)
        # A family waits for or attends at most one programme of a group at a time: one earlier
        # intervention "appropriate to their need" (seed 000 slide 2), one lead or key worker.
        busy = {}
        for group, members in self.groups.items():
            b = np.zeros(ids.size, bool)
            for i in members:
                b |= f.prog_status[i, ids] != NONE
            busy[group] = b
        kw = self.key_worker
        if kw >= 0:
            covered = f.council[ids] < self._coverage(t) * self.params.identification.councils
            findable = (st == S) & (f.prog_status[kw, ids] == NONE) & (t >= self.prog_open[kw])
            group = self.prog_spec[kw].exclusive_group
            if group:
                findable &= ~busy[group]
            out[:, EV_IDENTIFY] = np.where(findable, self.id_fip + self.id_new * covered, 0.0)
        for col, i in enumerate(self.referred_programmes, start=EV_REFER):
            if not np.isfinite(self.prog_open[i]):
                continue
            cfg = self.prog_spec[i]
            ok = self.prog_states[i][st] & f.prog_ok[i, ids] & (f.prog_status[i, ids] == NONE)
            if cfg.exclusive_group:
                ok &= ~busy[cfg.exclusive_group]
            if self.prog_needs_any[i]:
                enrolled = np.zeros(ids.size, bool)
                for j in self.prog_needs[i]:
                    enrolled |= f.prog_status[j, ids] == ENROLLED
                ok &= enrolled
            if self.prog_domains[i]:
                ok &= (f.domains[ids] & self.prog_domains[i]) == self.prog_domains[i]
            out[:, col] = np.where(ok & (t >= self.prog_open[i]), cfg.referral_rate_per_year, 0.0)
        return out

    def _coverage(self, t: np.ndarray) -> np.ndarray:
        """Share of councils where the new approach operates at each time in ``t``."""
        if not self.rollout_t.size:
            return np.zeros(np.shape(t))
        i = np.searchsorted(self.rollout_t, t, side="right") - 1
        return np.where(i >= 0, self.rollout_share[np.maximum(i, 0)], 0.0)

    def _redraw(self, ids: np.ndarray, t: np.ndarray | float) -> None:
        """Draw the next competing-hazard event from ``t`` (memoryless, so exact after any change)."""
        if not ids.size:
            return
        t = np.broadcast_to(np.asarray(t, float), ids.shape)
        total = self.rates(ids, t).sum(axis=1)
        wait = self.rand.exponential(ids, DRAW_CLOCK)
        with np.errstate(divide="ignore"):
            self.families.t_haz[ids] = np.where(total > 0, t + wait / total, INF)

    def _next_change(self, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        cand = np.where(f.boost_until[ids] > t, f.boost_until[ids], INF)
        for i in range(len(self.programmes)):
            a = f.after_until[i, ids]
            cand = np.minimum(cand, np.where(a > t, a, INF))
        f.t_change[ids] = cand

    def t_next(self, ids: np.ndarray | slice) -> np.ndarray:
        f = self.families
        return np.minimum(
            np.minimum(np.minimum(f.t_haz[ids], f.t_exit[ids]), np.minimum(f.t_prog[ids], f.t_change[ids])),
            f.t_resolve[ids],
        )

    # --- one month ------------------------------------------------------------------------
    def run_slice(self, t0: float, t1: float) -> None:
        """Simulate every event in ``[t0, t1)``."""
        for prog in self.programmes:
            prog.open_month(t0)
        self._arrivals(t0, t1)
        n = self.families.n
        active = np.flatnonzero(self.t_next(slice(0, n)) < t1)
        while True:
            while active.size:
                active = self._round(active, t1)
            admitted = [self._admit(prog, t1) for prog in self.programmes]
            # A family admitted to two programmes at once must be processed once.
            admitted = np.unique(np.concatenate(admitted)) if admitted else np.empty(0, np.int64)
            active = admitted[self.t_next(admitted) < t1] if admitted.size else admitted
            if not active.size:
                break

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

    def _round(self, ids: np.ndarray, t1: float) -> np.ndarray:
        """Process each family's earliest event; return those with another event before ``t1``."""
        f = self.families
        clocks = np.stack([f.t_haz[ids], f.t_exit[ids], f.t_prog[ids], f.t_change[ids], f.t_resolve[ids]])
        which = clocks.argmin(axis=0)
        t = clocks[which, np.arange(ids.size)]
        self.recorder.events += ids.size
        for kind, handler in enumerate(
            (self._on_hazard, self._on_exit, self._on_programme_end, None, self._on_resolve)
        ):
            sel = which == kind
            if handler is not None and sel.any():
                handler(ids[sel], t[sel])
        live = f.state[ids] != OUT
        ids, t = ids[live], t[live]
        f.t_last[ids] = t
        self._next_change(ids, t)
        self._redraw(ids, t)
        return ids[self.t_next(ids) < t1]

    def _move(self, ids: np.ndarray, t: np.ndarray, to: int, cause: int) -> None:
        f = self.families
        src = f.state[ids]
        self.recorder.flow(t, src, to, cause, ids.size)
        f.state[ids] = to
        if to != OUT:
            self._set_domains(ids, t)
        if to in (R, H, S):
            # A new spell at risk starts from G; a relapse from T resumes the spell still running.
            starts = (src == G) | ~np.isfinite(f.t_resolve[ids])
            if starts.any():
                f.t_resolve[ids[starts]] = self._spell_end(ids[starts], t[starts])
        elif to != T:
            # Being turned around does not stop the family's disadvantages resolving in their own time:
            # the spell's clock runs on in T and ends in G like anyone else's.
            f.t_resolve[ids] = INF
        gone_well = f.state[ids] == G
        if gone_well.any():
            self._withdraw(ids[gone_well], t[gone_well])

    def _withdraw(self, ids: np.ndarray, t: np.ndarray) -> None:
        """Families whose problems resolved leave every queue they wait in."""
        f = self.families
        for i in range(len(self.programmes)):
            waiting = f.prog_status[i, ids] == WAITING
            if waiting.any():
                f.prog_status[i, ids[waiting]] = NONE
                self.recorder.programme_event(i, t[waiting], WITHDREW, int(waiting.sum()))

    def _on_hazard(self, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        rates = self.rates(ids, t)
        cum = np.cumsum(rates, axis=1)
        u = self.rand.uniform(ids, DRAW_EVENT) * cum[:, -1]
        event = np.minimum((cum <= u[:, None]).sum(axis=1), rates.shape[1] - 1)
        st = f.state[ids]
        for ev, cause_of in ((EV_UP, None), (EV_BOOST, TRIGGER)):
            sel = event == ev
            if sel.any():
                s_ids, s_t, s_st = ids[sel], t[sel], st[sel]
                for src, dst, cause in ((G, R, ENTRY), (R, H, ESCALATION), (H, S, ESCALATION), (T, S, RELAPSE)):
                    m = s_st == src
                    if m.any():
                        self._move(s_ids[m], s_t[m], dst, cause_of if cause_of is not None else cause)
        sel = event == EV_DOWN
        if sel.any():
            d_ids, d_t, d_st = ids[sel], t[sel], st[sel]
            for src, dst, cause in ((H, R, DEESCALATION), (S, H, DEESCALATION), (T, G, SUSTAINED)):
                m = d_st == src
                if m.any():
                    self._move(d_ids[m], d_t[m], dst, cause)
        sel = event == EV_TRIGGER
        if sel.any():
            self._on_trigger(ids[sel], t[sel])
        sel = event == EV_IDENTIFY
        if sel.any():
            self._refer(self.key_worker, ids[sel], t[sel])
        for col, i in enumerate(self.referred_programmes, start=EV_REFER):
            sel = event == col
            if sel.any():
                self._refer(i, ids[sel], t[sel])

    def _on_resolve(self, ids: np.ndarray, t: np.ndarray) -> None:
        """The spell at risk ends: the family leaves R, H, S (or T) for the general population."""
        self._move(ids, t, G, RESOLUTION)

    def _on_trigger(self, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        rates = f.trigger_rates[ids]
        cum = np.cumsum(rates, axis=1)
        u = self.rand.uniform(ids, DRAW_TRIGGER) * cum[:, -1]
        kind = np.minimum((cum <= u[:, None]).sum(axis=1), rates.shape[1] - 1).astype(np.int8)
        f.last_trigger[ids] = kind
        f.boost_until[ids] = np.maximum(f.boost_until[ids], t + self.window)
        self.recorder.triggers.append((t.copy(), kind))
        birth = ids[kind == _BIRTH]
        if birth.size:
            f.t_age_out[birth] = t[kind == _BIRTH] + self.pop.child_age_limit
            f.t_exit[birth] = np.minimum(f.t_age_out[birth], f.t_other_exit[birth])

    def _refer(self, i: int, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        accept = self.rand.uniform(ids, self._purpose(i, DRAW_ACCEPT)) < self.prog_spec[i].p_accept
        self.recorder.programme_event(i, t, REFERRED, ids.size)
        self.recorder.programme_event(i, t[~accept], DECLINED, int((~accept).sum()))
        ids, t = ids[accept], t[accept]
        f.prog_status[i, ids] = WAITING
        self.programmes[i].join(ids, t)

    def _admit(self, prog: Programme, t1: float) -> np.ndarray:
        f = self.families
        i = prog.index
        adm = prog.admit(f.prog_status[i] == WAITING, t1, lambda ids: self._durations(i, ids, advance=False))
        if not adm.ids.size:
            return adm.ids
        ids = adm.ids
        self._durations(i, ids, advance=True)  # use up the draws the admitted families' durations came from
        f.prog_status[i, ids] = ENROLLED
        f.prog_end[i, ids] = adm.ends
        f.prog_dropout[i, ids] = adm.dropout
        f.t_prog[ids] = np.minimum(f.t_prog[ids], adm.ends)
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
                        ids[mask].copy(),
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

    def _durations(self, i: int, ids: np.ndarray, advance: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each family's next intervention length in programme ``i`` and whether it drops out (years).

        A drop-out leaves at a uniform point: the same uniform decides both,
        since given u < p_dropout, u / p_dropout is uniform.
        """
        prog = self.programmes[i]
        mean, shape = prog.duration_mean_years, prog.duration_shape
        length = self.rand.gamma(ids, self._purpose(i, DRAW_DURATION), shape, mean / shape, advance=advance)
        u = self.rand.uniform(ids, self._purpose(i, DRAW_DROPOUT), advance=advance)
        dropout = u < prog.p_dropout
        fraction = np.where(dropout, u / max(prog.p_dropout, 1e-300), 1.0)
        return length * fraction, dropout

    def _domain_effects(self, i: int, cfg, ids: np.ndarray, t: np.ndarray) -> None:
        """A completed intervention may end a crime/ASB, education or worklessness problem (its *_effect chances)."""
        effects = (cfg.crime_effect, cfg.education_effect, cfg.work_effect)
        if not ids.size or not any(effects):
            return
        f = self.families
        u = self.rand.uniform(ids, self._purpose(i, DRAW_EFFECT))
        for j, chance in enumerate(effects):
            if chance <= 0:
                continue
            ends = ((f.domains[ids] >> j) & 1 == 1) & (u < chance)
            f.domains[ids[ends]] &= np.uint8(~(1 << j) & 0xFF)
            f.domain_since[ids[ends], j] = t[ends]

    def _on_exit(self, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        self.tracked_hazard -= float(f.entry_hazard[ids].sum())
        aged = f.t_exit[ids] == f.t_age_out[ids]
        self._move(ids[aged], t[aged], OUT, AGED_OUT)
        self._move(ids[~aged], t[~aged], OUT, OTHER_EXIT)
        for i, prog in enumerate(self.programmes):
            status = f.prog_status[i, ids]
            enrolled = status == ENROLLED
            if enrolled.any():
                e_ids = ids[enrolled]
                early = np.array([int(x) in prog.released_early for x in e_ids], bool)
                prog.release(t[enrolled][~early])
                self.recorder.programme_event(i, t[enrolled], LEFT_MODEL, e_ids.size)
            f.prog_status[i, ids] = NONE
            f.prog_end[i, ids] = INF
        for col in (f.t_haz, f.t_exit, f.t_prog, f.t_change, f.t_resolve):
            col[ids] = INF

    def _on_programme_end(self, ids: np.ndarray, t: np.ndarray) -> None:
        f = self.families
        for i, prog in enumerate(self.programmes):
            ending = f.prog_end[i, ids] <= t
            if not ending.any():
                continue
            e_ids, e_t = ids[ending], t[ending]
            early = np.array([int(x) in prog.released_early for x in e_ids], bool)
            prog.release(e_t[~early])
            f.prog_status[i, e_ids] = NONE
            f.prog_end[i, e_ids] = INF
            completed = ~f.prog_dropout[i, e_ids]
            self.recorder.programme_event(i, e_t[completed], COMPLETED, int(completed.sum()))
            self.recorder.programme_event(i, e_t[~completed], DROPPED_OUT, int((~completed).sum()))
            cfg = self.prog_spec[i]
            if cfg.effect_years_after > 0 and completed.any():
                f.after_until[i, e_ids[completed]] = e_t[completed] + cfg.effect_years_after
                self.after_max[i] = max(self.after_max[i], float(e_t[completed].max()) + cfg.effect_years_after)
            self._domain_effects(i, cfg, e_ids[completed], e_t[completed])
            success = completed & (self.rand.uniform(e_ids, self._purpose(i, DRAW_SUCCESS)) < cfg.p_success)
            success &= f.state[e_ids] != T
            if success.any():
                self.recorder.programme_event(i, e_t[success], SUCCEEDED, int(success.sum()))
                self._move(e_ids[success], e_t[success], T, TURNED_AROUND)
        f.t_prog[ids] = f.prog_end[:, ids].min(axis=0) if self.programmes else INF

    # --- observation at slice boundaries ----------------------------------------------------------
    def observe(self, t: float, wave: int | None) -> None:
        """Record state counts and programme queues at boundary ``t``; mark survey wave ``wave``."""
        f = self.families
        st = f.state[: f.n]
        counts = np.bincount(st, minlength=6)[:6]
        self.recorder.boundary_t.append(t)
        self.recorder.boundary_states.append(counts)
        progs = np.zeros((len(self.programmes), 3), np.int64)
        for i, prog in enumerate(self.programmes):
            progs[i] = (prog.capacity(t), prog.occupied, int((f.prog_status[i, : f.n] == WAITING).sum()))
        self.recorder.boundary_programmes.append(progs)
        if wave is not None:
            at_risk = (st == R) | (st == H) | (st == S)
            f.waves[: f.n][at_risk] |= np.uint16(1 << wave)
        if t == 0.0:
            f.in_start_stock[: f.n] = st == S
            if self.key_worker >= 0:
                enrolled = f.prog_status[self.key_worker, : f.n] == ENROLLED
                f.key_worker_received[: f.n] = enrolled
