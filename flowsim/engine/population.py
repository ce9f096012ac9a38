"""The population of a replication: families drawn, copied when a sampled one comes to be at risk, and replaced
when they leave.

Families not at risk are simulated as a sample: each stands for ``sample_weight`` families. When a sampled
family comes to be at risk it is copied into that many families, tracked one by one from then on; each copy
redraws what is still to come from the moment of the copy, so they part ways at once. A family that leaves
is replaced by a new one (one sampled family for every ``sample_weight`` families gone). :class:`Population` is
the part of :class:`~flowsim.engine.model.Model` that does this; it works on the model's store, constants and
streams.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import ndtr

from flowsim.engine import kernel
from flowsim.engine.administration import DEPRIVATION_FACTORS
from flowsim.engine.codes import OUT, OUTSIDE, G, month_batch
from flowsim.engine.crn import family_keys, mix
from flowsim.engine.families import INF, spares_aside
from flowsim.engine.spec import CAUSE_NEW, NP
from flowsim.scenario.registry_problems import FACTOR_NAMES, PROBLEM_NAMES

_COPY = np.uint64(0x2545F4914F6CDD1D)  # a copy's key is mix(key ^ (_COPY * copy number))
_KEYS_POOL, _KEYS_NEW = 2, 3
_STREAM_NEW = 3
_PILOT = 0x9170  # the pilot population's seed: the model's, then this
_DEPRIVATION_BITS = tuple(FACTOR_NAMES.index(n) for n in DEPRIVATION_FACTORS)


class Population:
    """Drawing, copying and replacing families (a part of :class:`~flowsim.engine.model.Model`)."""

    def _draw_factors(self, n: int, rng: np.random.Generator, newborn: bool = False) -> np.ndarray:
        """Risk factors as bits: each a threshold on a latent disadvantage shared by the family and its own noise."""
        spec = self.spec
        prev = np.asarray(spec.factor_prevalence, float)[:, None]
        load = np.asarray(spec.factor_loading, float)[:, None]
        # One draw for all: the latent first, then each factor's noise in turn (the same numbers as one draw each).
        normal = rng.standard_normal((1 + len(prev), n))
        v = load * normal[0] + np.sqrt(1 - load * load) * normal[1:]
        hit = (ndtr(v) > 1.0 - prev).astype(np.uint16)
        bits = (hit << np.arange(len(prev), dtype=np.uint16)[:, None]).sum(axis=0, dtype=np.uint16)
        u5 = np.uint16(1 << self.const.under5_bit)
        return bits | u5 if newborn else bits

    def _new_families(self, ids: np.ndarray, t: np.ndarray, rng: np.random.Generator, weight: int, newborn: bool):
        """Fill blank rows ``ids`` with families drawn from the population at times ``t``."""
        spec, f = self.spec, self.families
        n = ids.size
        f.factors[ids] = self._draw_factors(n, rng, newborn)
        v = spec.frailty_variance
        f.z[ids] = rng.gamma(1.0 / v, v, n) if v > 0 else 1.0
        if spec.council_cum is None:
            f.council[ids] = rng.integers(0, max(spec.councils, 1), n)
        else:  # the 2012 councils: by family type and disadvantage (administration.council_cumulative)
            factors = f.factors[ids]
            lone = (factors >> spec.tables["lone_bit"]) & 1
            k = sum(((factors >> b) & 1).astype(np.int64) for b in _DEPRIVATION_BITS)
            u = rng.random(n)
            cum = spec.council_cum
            council = np.zeros(n, np.int64)
            for a in range(cum.shape[0]):
                for b in range(cum.shape[1]):
                    m = (lone == a) & (k == b)
                    council[m] = np.searchsorted(cum[a, b], u[m], side="right")
            f.council[ids] = np.minimum(council, cum.shape[2] - 1)
        u5 = (f.factors[ids] >> self.const.under5_bit) & 1
        f.under5_until[ids] = np.where(u5 == 1, t + (5.0 if newborn else 5.0 * rng.random(n)), INF)
        share = spec.initial_share.copy()
        if newborn:
            share[:] = 0.0
            share[PROBLEM_NAMES.index("no_qualifications")] = spec.initial_share[
                PROBLEM_NAMES.index("no_qualifications")
            ]
        have = rng.random((n, NP)) < share
        f.problems[ids] = (have.astype(np.uint16) << np.arange(NP, dtype=np.uint16)).sum(axis=1, dtype=np.uint16)
        f.since[ids] = np.where(have, (t[:, None] - spec.initial_elapsed_years * rng.random((n, NP))), -INF).astype(
            np.float32
        )
        f.weight[ids] = weight
        kernel.start_many(
            self._columns(), self.const, ids, np.ascontiguousarray(t), self.buf.scratch, self.buf.scratch_of
        )
        if newborn and have.any():
            # A parent's problem a new family forms with (no qualifications) began before it formed: its end is
            # drawn given that it has lasted until now, as a copy's is, so nothing happens to the family before it
            # formed (drawn from its beginning, it could end in the past, and the family's clock run on from
            # there, after the census of those months was taken).
            old = have.any(axis=1)
            kernel.redraw_copies(
                self._columns(),
                self.const,
                ids[old],
                np.ascontiguousarray(t[old]),
                np.zeros(int(old.sum()), bool),
                self._mult,
                self.buf.scratch,
                self.buf.scratch_of,
            )

    def _initial_population(self) -> None:
        spec, f = self.spec, self.families
        if spec.pilot_years > 0:
            self._from_pilot()
            return
        ids = f.add(self.n_pool)
        f.key[ids] = family_keys(self.seed64, _KEYS_POOL, 0, ids.size)
        self._new_families(ids, np.full(ids.size, spec.t_init), self.rng["population"], self.weight, False)

    def _from_pilot(self) -> None:
        """The burn-in's families drawn from a pilot population simulated ``pilot_years`` before it.

        The pilot is this model at ``pilot_share`` of its families, started from the independent draw and run to
        the burn-in's start, when nothing is yet open. Its families not at risk are drawn in proportion to the
        families they stand for into sampled families, its families at risk into families tracked one by one (so
        the count at risk is the pilot's share, not a multiple of ``sample_weight``). A family drawn keeps its
        pilot family's type, problems and their histories; what is still to come it redraws from the moment of the
        draw, with its own key, as a copy does (:func:`kernel.redraw_copies`), so families drawn from one pilot
        family part ways at once.
        """
        spec, f = self.spec, self.families
        t0 = spec.t_init
        size = min(spec.families, max(round(spec.families * spec.pilot_share), 1000))
        pilot_spec = dataclasses.replace(spec, families=size, t_init=t0 - spec.pilot_years, pilot_years=0.0)
        with spares_aside():
            pilot = type(self)(pilot_spec, np.random.SeedSequence([self.seed64 & 0xFFFFFFFF, self.seed64 >> 32, _PILOT]))  # fmt: skip
            months = np.arange(np.ceil(pilot_spec.t_init * 12), np.floor(t0 * 12) + 1) / 12.0
            points = np.unique(np.concatenate([[pilot_spec.t_init], months, [t0]]))
            for a, b in zip(points[:-1], points[1:]):
                pilot.run_slice(float(a), float(b))
        p = pilot.families
        alive = np.flatnonzero(p.state[: p.n] != OUT)
        w = p.weight[alive].astype(float)
        risk = p.state[alive] != G
        rng = self.rng["population"]
        at_risk = round(spec.families * w[risk].sum() / w.sum())
        sampled = max(round((spec.families - at_risk) / self.weight), 1)
        src = np.concatenate([_systematic(alive[~risk], w[~risk], sampled, rng), _systematic(alive[risk], w[risk], at_risk, rng)])  # fmt: skip
        ids = f.add(src.size)
        f.key[ids] = family_keys(self.seed64, _KEYS_POOL, 0, ids.size)
        for name in ("factors", "z", "council", "under5_until", "crisis", "problems", "since", "state"):
            getattr(f, name)[ids] = getattr(p, name)[src]
        f.weight[ids] = np.where(np.arange(src.size) < sampled, self.weight, 1)
        kernel.redraw_copies(
            self._columns(),
            self.const,
            ids,
            np.full(ids.size, t0),
            np.zeros(ids.size, bool),
            self._mult,
            self.buf.scratch,
            self.buf.scratch_of,
        )

    def _split(self) -> np.ndarray:
        """Copies of the sampled families that came to be at risk this pass; returns originals and copies."""
        if not self._splits or self.weight == 1:
            return np.empty(0, np.int64)
        ids = np.concatenate([i for i, _ in self._splits])
        t = np.concatenate([t for _, t in self._splits])
        return self._copies(ids, t)

    def split_rows(self, ids: np.ndarray, t: float) -> np.ndarray:
        """Sampled families ``ids`` (weight > 1) become as many families tracked one by one, from time ``t``."""
        ids = ids[self.families.weight[ids] == self.weight]
        if not ids.size or self.weight == 1:
            return np.empty(0, np.int64)
        self.families.weight[ids] = 1
        return self._copies(ids, np.full(ids.size, t))

    def _copies(self, ids: np.ndarray, t: np.ndarray) -> np.ndarray:
        f = self.families
        copies = self.weight - 1
        src = np.repeat(ids, copies)
        number = np.tile(np.arange(1, copies + 1, dtype=np.uint64), ids.size)
        new = f.copy_rows(src)
        self._rows_made(new, src)
        # A copy's key: its family's, the moment of the split and its number (a family may split more than once).
        moment = mix(np.repeat(t, copies).view(np.uint64))
        f.key[new] = mix(f.key[src] ^ moment ^ (_COPY * number))
        f.draws[new] = 0
        f.weight[new] = 1
        same = np.ones(new.size, bool)  # copies of one family at one moment share their hazards
        same[::copies] = False
        kernel.redraw_copies(
            self._columns(),
            self.const,
            new,
            np.repeat(t, copies),
            same,
            self._mult,
            self.buf.scratch,
            self.buf.scratch_of,
        )
        return np.concatenate([ids, new])

    def _rows_made(self, rows: np.ndarray, like: np.ndarray | None = None) -> None:
        """Rows that became families since the last month boundary: copies of ``like`` (the sampled families they
        were part of), or new families. The census of entries to the stock (``Model.observe``) counts a new family
        as from outside and a copy as from not at risk (a sampled family stands only for families not at risk),
        unless its family is new since the boundary, whichever row it took."""
        prev = self._prev_state
        if not prev.size:  # outside the survey window: nothing is counted
            return
        n = self.families.n
        if prev.size < n:
            prev = self._prev_state = np.concatenate([prev, np.full(n - prev.size, OUTSIDE, np.int8)])
        prev[rows] = OUTSIDE if like is None else np.where(prev[like] == OUTSIDE, OUTSIDE, G)

    def _replace(self, t0: float, rerun: int) -> np.ndarray:
        """New families in place of those that left: one sampled family (of ``sample_weight`` families) for every
        ``sample_weight`` families gone. A row whose family has nothing to report is reused."""
        if not self._exits:
            return np.empty(0, np.int64)
        f = self.families
        ids = np.concatenate([i for i, _ in self._exits])
        t = np.concatenate([t for _, t in self._exits])
        # A row is still needed for the survey's record before the last wave, the start stock's coverage and the
        # payment-by-results attachments; otherwise a new family may have it.
        nothing = ~f.in_start_stock[ids] & (f.attached[ids] == 0) & ((f.waves[ids] == 0) | (t >= self.spec.wave_t[-1]))
        f.release(ids[nothing])
        self._debt += int(f.weight[ids].sum())
        n_new = self._debt // self.weight
        self._debt -= n_new * self.weight
        if not n_new:
            return np.empty(0, np.int64)
        batch = month_batch(t0, self.spec.t_init)
        rows = f.add(int(n_new))
        self._rows_made(rows)
        f.key[rows] = family_keys(self.seed64, _KEYS_NEW, batch * 64 + rerun, rows.size)
        # New families form as the families they replace leave (the latest exits of this pass).
        times = np.sort(t)[-rows.size :] if rows.size <= t.size else np.full(rows.size, t.max())
        rng = np.random.default_rng([self.seed64 & 0xFFFFFFFF, self.seed64 >> 32, batch, rerun, _STREAM_NEW])
        self._new_families(rows, np.ascontiguousarray(times), rng, self.weight, True)
        if times[-1] >= self.t_start:  # the burn-in is not recorded
            self.flows.append(
                (
                    times,
                    np.full(rows.size, OUTSIDE, np.int8),
                    np.full(rows.size, G, np.int8),
                    np.full(rows.size, CAUSE_NEW, np.int16),
                    np.full(rows.size, self.weight, np.int32),
                )
            )
        return rows


def _systematic(rows: np.ndarray, weight: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``rows`` drawn in proportion to ``weight`` by systematic sampling (each row about ``n`` times its
    share, never further from it than one)."""
    if n <= 0 or not rows.size:
        return np.empty(0, np.int64)
    cum = np.cumsum(weight)
    at = (rng.random() + np.arange(n)) * (cum[-1] / n)
    return rows[np.minimum(np.searchsorted(cum, at, side="right"), rows.size - 1)]
