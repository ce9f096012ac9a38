"""Drawing families: attributes, frailty, ages and councils; who enters risk.

Risk factors are independent Bernoulli draws at their prevalences
(assumption: the seeds give no joint distribution). A family's hazard
multipliers are products of hazard ratios, normalised so the population
average is 1, which keeps each base rate a population-average rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowsim.engine.families import NewFamilies


@dataclass(frozen=True)
class PopulationModel:
    """What is needed to draw families and their static hazard multipliers (built by ``engine.spec``)."""

    prevalence: np.ndarray  # (F,)
    log_entry_hr: np.ndarray  # (F,)
    log_esc_hr: np.ndarray  # (F,)
    entry_norm: float
    esc_norm: float
    frailty_variance: float
    child_age_limit: float
    councils: int
    trigger_base: np.ndarray  # (n_triggers,) per year
    trigger_driver: np.ndarray  # (n_triggers,) factor index
    trigger_driver_hr: np.ndarray  # (n_triggers,)
    under5: int  # index of the factor "child under 5", which sets the youngest child's age

    def draw(self, n: int, rng: np.random.Generator) -> NewFamilies:
        """Draw ``n`` families from the general population of families with children."""
        factors = bernoulli_rows(rng, n, self.prevalence)
        v = self.frailty_variance
        frailty = rng.gamma(1.0 / v, v, n) if v > 0 else np.ones(n)
        under5 = factors[:, self.under5]
        youngest = np.where(under5, rng.uniform(0, 5, n), rng.uniform(5, self.child_age_limit, n))
        council = rng.integers(0, self.councils, n).astype(np.int16)
        return NewFamilies(factors, frailty, youngest, council)

    def entry_mult(self, new: NewFamilies) -> np.ndarray:
        """Multiplier on the hazard of entering risk: risk factors x frailty, population mean 1."""
        return np.exp(weighted_sum(new.factors, self.log_entry_hr)) / self.entry_norm * new.frailty

    def esc_mult(self, new: NewFamilies) -> np.ndarray:
        """Multiplier on escalation hazards from risk factors, population mean 1."""
        return np.exp(weighted_sum(new.factors, self.log_esc_hr)) / self.esc_norm

    def trigger_rates(self, new: NewFamilies) -> np.ndarray:
        """Per-family hazards of each trigger event, (n, n_triggers), per year: rows of :meth:`trigger_table`."""
        return self.trigger_table()[self.driver_bits(new)]

    def driver_bits(self, new: NewFamilies) -> np.ndarray:
        """Bit k set when a family has trigger k's driver factor (uint8): indexes :meth:`trigger_table`."""
        has_driver = new.factors[:, self.trigger_driver].astype(np.uint8)
        return (has_driver << np.arange(self.trigger_base.size, dtype=np.uint8)).sum(axis=1, dtype=np.uint8)

    def trigger_table(self) -> np.ndarray:
        """Hazard of each trigger (columns) for every combination of driver bits (rows), per year."""
        k = self.trigger_base.size
        if k > 8:
            raise ValueError("driver bits hold at most 8 triggers")
        bits = (np.arange(1 << k)[:, None] >> np.arange(k)) & 1
        return self.trigger_base * np.where(bits == 1, self.trigger_driver_hr, 1.0)


_ROWS = 1 << 14  # rows of uniforms drawn at a time by bernoulli_rows (a few MB: reused, not newly mapped)


def bernoulli_rows(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """``rng.random((n, p.size)) < p``, the same values, drawn a block of rows at a time.

    A million families' uniforms in one array are 150 MB that the operating system
    must map page by page (0.45 s here); blocks of a few MB reuse one buffer (0.05 s).
    """
    out = np.empty((n, p.size), bool)
    block = np.empty((min(n, _ROWS), p.size))
    for lo in range(0, n, _ROWS):
        u = block[: min(_ROWS, n - lo)]
        rng.random(out=u)
        np.less(u, p, out=out[lo : lo + u.shape[0]])
    return out


def weighted_sum(factors: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each row's sum of ``w`` over its true factors, the same bits on any machine.

    ``factors @ w`` does not promise that (a BLAS sums in an order of its own,
    which can change with the number of rows) and first builds a (families x
    factors) float array. Here each byte of eight factors looks its partial sum
    up in a table of 256, and the bytes' sums are added in order.
    """
    packed = np.packbits(factors, axis=1, bitorder="little")
    codes = np.arange(256)
    out = np.zeros(factors.shape[0])
    for k in range(packed.shape[1]):
        table = np.zeros(256)
        for j, wj in enumerate(w[8 * k : 8 * k + 8]):
            table += ((codes >> j) & 1) * wj
        out += table[packed[:, k]]
    return out


def subset(new: NewFamilies, idx: np.ndarray) -> NewFamilies:
    """Rows ``idx`` of a batch of new families."""
    return NewFamilies(new.factors[idx], new.frailty[idx], new.youngest_age[idx], new.council[idx])


def concat(batches: list[NewFamilies], n_factors: int) -> NewFamilies:
    """One batch of new families from several."""
    if not batches:
        return NewFamilies(np.zeros((0, n_factors), bool), np.zeros(0), np.zeros(0), np.zeros(0, np.int16))
    return NewFamilies(
        np.concatenate([b.factors for b in batches]),
        np.concatenate([b.frailty for b in batches]),
        np.concatenate([b.youngest_age for b in batches]),
        np.concatenate([b.council for b in batches]),
    )


class EntrantSampler:
    """Families entering risk from the untracked general population (default universe).

    An untracked family enters risk by drift, at hazard ``entry_rate x m`` with
    ``m`` its entry multiplier (risk factors x frailty, mean 1), or through a
    trigger event whose window leads to entry, at hazard
    ``rate_k(x) x (1 - exp(-boost x m x window))``. Entrants are drawn exactly
    from the population tilted by those hazards: drift entrants by tilting
    each factor's prevalence and the gamma frailty (the hazard is a product),
    trigger entrants by also tilting the trigger's driver factor and then
    rejection-sampling on the ratio of the window probability to ``m``.

    The pool is the whole population less the families already tracked: its
    intensity is ``N x E[h] - sum of h over tracked families still in the
    model`` (the model thins :meth:`draw`'s candidates to that share), so
    tracked families who leave risk and may come back are not counted twice.
    """

    def __init__(
        self,
        pop: PopulationModel,
        entry_rate: float,
        boost: float,
        window: float,
        pool_size: float,
        rng: np.random.Generator,
        mc_size: int = 200_000,
    ) -> None:
        self.pop = pop
        self.boost = boost
        self.window = window
        hr = np.exp(pop.log_entry_hr)
        self.tilted_prevalence = pop.prevalence * hr / (1 - pop.prevalence + pop.prevalence * hr)
        self.entry_rate = entry_rate
        self.drift_rate = pool_size * entry_rate
        # Expected trigger-led entry hazard: no closed form, so a Monte Carlo
        # average over a fixed-size sample (its own stream, so it is reproducible).
        sample = pop.draw(mc_size, rng)
        p_entry = 1 - np.exp(-boost * pop.entry_mult(sample) * window)
        self.trigger_rates = pool_size * (pop.trigger_rates(sample) * p_entry[:, None]).mean(axis=0)
        # How often a trigger candidate (drawn tilted by m) is accepted: sizes the rejection sampler's batches.
        x = boost * window * pop.entry_mult(sample)
        self.accept_rate = max(float(-np.expm1(-x).sum() / x.sum()), 1e-3) if x.sum() > 0 else 1.0

    @property
    def rate_per_year(self) -> float:
        """Intensity of entry into risk of the whole population, per year."""
        return float(self.drift_rate + self.trigger_rates.sum())

    def hazard(self, new: NewFamilies) -> np.ndarray:
        """Each family's hazard of entering risk from G, drift and trigger-led (per year)."""
        m = self.pop.entry_mult(new)
        p_entry = -np.expm1(-self.boost * m * self.window)
        return self.entry_rate * m + (self.pop.trigger_rates(new) * p_entry[:, None]).sum(axis=1)

    def draw(self, years: float, rng: np.random.Generator) -> tuple[NewFamilies, np.ndarray]:
        """Entrants over ``years`` at the whole population's intensity: attributes and trigger index (-1 for drift).

        The caller thins them to the untracked pool's share.
        """
        n_drift = rng.poisson(self.drift_rate * years)
        batches = [self._drift(n_drift, rng)]
        causes = [np.full(n_drift, -1, np.int8)]
        for k, rate in enumerate(self.trigger_rates):
            n = rng.poisson(rate * years)
            batches.append(self._trigger(k, n, rng))
            causes.append(np.full(n, k, np.int8))
        new = concat(batches, self.pop.prevalence.size)
        return new, np.concatenate(causes)

    def _tilted(self, n: int, rng: np.random.Generator) -> NewFamilies:
        """``n`` families drawn with probability proportional to their entry multiplier ``m``.

        ``m`` is a product of per-factor hazard ratios and the frailty, so tilting by it
        tilts each factor's prevalence and size-biases the gamma frailty (shape + 1).
        """
        factors = bernoulli_rows(rng, n, self.tilted_prevalence)
        v = self.pop.frailty_variance
        frailty = rng.gamma(1.0 / v + 1.0, v, n) if v > 0 else np.ones(n)
        council = rng.integers(0, self.pop.councils, n).astype(np.int16)
        new = NewFamilies(factors, frailty, np.empty(n), council)
        self._fix_ages(new, rng)
        return new

    def _drift(self, n: int, rng: np.random.Generator) -> NewFamilies:
        return self._tilted(n, rng)

    def _trigger(self, k: int, n: int, rng: np.random.Generator) -> NewFamilies:
        """Entrants through trigger ``k``: density proportional to ``rate_k(x) x (1 - exp(-c m))``, c = boost x window.

        Exact rejection sampling: propose from the population tilted by ``rate_k(x) x m``
        (the driver factor tilted by its hazard ratio on top of the entry tilt) and accept
        with probability ``(1 - exp(-c m)) / (c m)``, which is at most 1 and close to it
        when the window's chance of entry is small, so few proposals are wasted.
        """
        c = self.boost * self.window
        if n == 0 or c <= 0:
            return concat([], self.pop.prevalence.size)
        out: list[NewFamilies] = []
        got = 0
        d, hr = self.pop.trigger_driver[k], self.pop.trigger_driver_hr[k]
        p = self.tilted_prevalence[d]
        p_driver = p * hr / (1 - p + p * hr)
        while got < n:
            m = int(1.2 * (n - got) / self.accept_rate) + 16
            cand = self._tilted(m, rng)
            cand.factors[:, d] = rng.random(m) < p_driver
            x = c * self.pop.entry_mult(cand)
            keep = np.flatnonzero(rng.random(m) * x < -np.expm1(-x))[: n - got]
            out.append(subset(cand, keep))
            got += keep.size
        new = concat(out, self.pop.prevalence.size)
        self._fix_ages(new, rng)  # the driver may be the youngest child's age group
        return new

    def _fix_ages(self, new: NewFamilies, rng: np.random.Generator) -> None:
        under5 = new.factors[:, self.pop.under5]
        n = under5.size
        new.youngest_age[:] = np.where(under5, rng.uniform(0, 5, n), rng.uniform(5, self.pop.child_age_limit, n))


def weighted_top(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct indices drawn without replacement with probability proportional to ``weights``.

    Efraimidis-Spirakis: the n largest keys ``log(U) / w``. Zero weights are never drawn.
    """
    if n <= 0:
        return np.empty(0, np.int64)
    with np.errstate(divide="ignore"):
        keys = np.log(rng.random(weights.size)) / weights
    keys[weights <= 0] = -np.inf
    if n >= weights.size:
        return np.argsort(-keys)[:n]
    return np.argpartition(-keys, n - 1)[:n]
