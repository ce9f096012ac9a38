"""Who is in the model: the initial population, families newly at risk, and replacements for families that leave.

A mixin of :class:`~flowsim.engine.model.Model`: these methods add families
to the store and start their clocks; the model simulates them.
"""

from __future__ import annotations

import numpy as np

from flowsim.engine import kernel
from flowsim.engine.codes import (
    DRAW_EXIT,
    ENTRY,
    FORMED,
    KEYS_ARRIVAL,
    KEYS_INITIAL,
    OUTSIDE,
    STREAM_REPLACEMENTS,
    TRIGGER,
    G,
    H,
    R,
    S,
    month_batch,
)
from flowsim.engine.crn import family_keys, mix
from flowsim.engine.families import INF
from flowsim.engine.population import subset, weighted_top

_CHUNK = 1 << 18  # families set up at once in universe "all"
_NEW_FAMILY = np.uint64(0x5851F42D4C957F2D)  # a replacement's key is mix(key of the family it replaces ^ this)


class Entries:
    """Adding families to the model (mixed into ``Model``, whose attributes these methods use)."""

    def _initial_population(self) -> None:
        """The at-risk families when the survey window opens, drawn from the population tilted by risk."""
        spec = self.spec
        rng = self.rng["population"]
        n_s, n_h = spec.initial_stock, spec.initial_flow_group
        n_r = spec.initial_at_risk - n_h - n_s
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
            ids = self._add(cand, idx, state, self.t_start, family_keys(self.seed64, KEYS_INITIAL, state, n))
            self._mid_spell(ids, rng)

    def _mid_spell(self, ids: np.ndarray, rng: np.random.Generator) -> None:
        """Families at risk when the survey window opens are part-way through a spell.

        The stationary residual of a gamma renewal process is U x (a length-biased draw, Gamma(shape + 1)).
        """
        n = ids.size
        biased = rng.gamma(self.spec.spell_shape + 1, self.spec.spell_scale, n)
        self.families.t_resolve[ids] = self.t_start + rng.random(n) * biased
        kernel.refresh_many(self._columns(), ids)

    def _whole_population(self, rng: np.random.Generator, n_s: int, n_h: int, n_r: int) -> None:
        """Universe "all": every family with children, drawn in chunks into G; then those at risk are picked.

        The families in S, H and R are drawn from the whole population tilted by risk,
        as the default universe draws them from candidates, and start part-way through a spell.
        """
        f = self.families
        keys = family_keys(self.seed64, KEYS_INITIAL, G, self.n_all)
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
        for i, prog in enumerate(self.spec.programmes):
            req = list(prog.requires_factors)
            f.prog_ok[ids, i] = batch.factors[:, req].all(axis=1) if req else True
        t = np.broadcast_to(np.asarray(t, float), ids.shape)
        f.t_age_out[ids] = t + (self.pop.child_age_limit - batch.youngest_age)
        f.t_other_exit[ids] = t + (
            self.rand.exponential(ids, DRAW_EXIT) / self.spec.other_exit_rate if self.spec.other_exit_rate > 0 else INF
        )
        f.t_exit[ids] = np.minimum(f.t_age_out[ids], f.t_other_exit[ids])
        f.t_last[ids] = t
        f.t_prog[ids] = INF
        f.t_change[ids] = INF
        f.t_resolve[ids] = self._spell_end(ids, t) if state in (R, H, S) else INF
        self._set_domains(ids, t)
        self._redraw(ids, t)

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
        batch = month_batch(t0, self.t_start)
        rng = np.random.default_rng([*self._seed_words(), batch, rerun, STREAM_REPLACEMENTS])
        self._start(ids, self.pop.draw(ids.size, rng), G, t)
        self.recorder.flow(t, OUTSIDE, G, FORMED, ids.size)
        self.replaced += ids.size
        return ids

    def _arrivals(self, t0: float, t1: float) -> None:
        """Families newly at risk from the untracked general population arrive in ``[t0, t1)``."""
        # Candidates come from the whole population's intensity and are thinned to the
        # untracked pool's share, all from a stream of this month's own: scenarios
        # sharing a seed see the same candidates, whatever their pools.
        batch = month_batch(t0, self.t_start)
        rng = np.random.default_rng([*self._seed_words(), batch])
        share = max(0.0, 1.0 - self.tracked_hazard / self.entrants.rate_per_year)
        new, cause = self.entrants.draw(t1 - t0, rng)
        n = cause.size
        t = t0 + rng.random(n) * (t1 - t0)
        window_left = self.spec.window * rng.random(n)
        keep = np.flatnonzero(rng.random(n) < share)
        if not keep.size:
            return
        cause, t, window_left = cause[keep], t[keep], window_left[keep]
        ids = self._add(new, keep, R, t, family_keys(self.seed64, KEYS_ARRIVAL, batch, n)[keep])
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
