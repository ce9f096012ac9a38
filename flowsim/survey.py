"""How a panel survey (FACS, the Families and Children Study) observes families at risk.

The source statistic (DfE, June 2011, from FACS): "c. 290,000 or 5% of
families are at greatest risk of social exclusion; c. 146,000 or 51% of these
remain in this category at the end of each year; c. 20,000 or 7% of these are
very persistently at risk, remaining at risk for 4 years out of the 6 year
period examined." No source says how "persistently at risk" or "of these"
were counted, so this module computes every reading:

- rule: at risk in at least 4 of the waves observed (``at_least_4``), or in 4
  consecutive observed waves (``consecutive_4``);
- panel: every family, observed in every wave it is present (``unbalanced``);
  only families present in every wave (``balanced``); or every family, lost
  to the panel as a real panel loses them (``attrition``, see :func:`observe`);
- denominator: the mean number at risk per wave among the families the panel
  observes (``cross_section``, as 20,000 / 290,000 = 7%), or the families
  observed at risk in at least one wave (``ever_at_risk``).

Every value is an exact expectation over the panel's drop-outs: no random
draws. Families are given as bit masks, bit ``w`` for wave ``w``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

#: Waves at risk that make a family "very persistently at risk".
PERSISTENT = 4
#: Most waves a uint16 bit mask holds.
MAX_WAVES = 16

RULES = ("at_least_4", "consecutive_4")
PANELS = ("unbalanced", "balanced", "attrition")
DENOMINATORS = ("cross_section", "ever_at_risk")
#: Every reading, ``"rule.panel.denominator"``: rule x panel x denominator.
READINGS = tuple(".".join(r) for r in itertools.product(RULES, PANELS, DENOMINATORS))


@dataclass(frozen=True)
class Panel:
    """What a panel survey observes, as expected values.

    Counts are weighted families. A share is a count over its denominator, both within the panel.

    Attributes:
        waves: survey waves.
        attrition: chance a family not at risk at a wave is lost before the next.
        attrition_at_risk: chance a family at risk at a wave is lost before the next.
        meeting: per reading, expected families the panel observes meeting the rule (families).
        denominator: per reading, expected families in its denominator (families).
        at_risk_per_wave: families at risk at each wave, every family observed (families, one per wave).
        persistence: share of families at risk at a wave, and present at the next, who are at risk
            at the next; every family observed (share).
        persistence_all: share of families at risk at a wave who are at risk at the next; a family that
            left the population counts as not at risk (share; the old measure).
        persistence_attrition: as ``persistence``, among the families the attrition panel
            observes at both waves (share).
    """

    waves: int
    attrition: float
    attrition_at_risk: float
    meeting: dict[str, float] = field(repr=False)
    denominator: dict[str, float] = field(repr=False)
    at_risk_per_wave: np.ndarray = field(repr=False)
    persistence: float
    persistence_all: float
    persistence_attrition: float

    def share(self, reading: str) -> float:
        """Families meeting the reading's rule over its denominator, within its panel (share; nan if none)."""
        den = self.denominator[_check(reading)]
        return self.meeting[reading] / den if den > 0 else float("nan")

    def count(self, reading: str) -> float:
        """Families meeting the reading's rule in the population (families).

        The unbalanced panel observes every family, so its count is what it observes. A balanced or
        attrition panel's count is its share times the unbalanced panel's denominator of the same kind:
        the number a survey would report, comparable with "20,000".
        """
        rule, panel, den = _check(reading).split(".")
        if panel == "unbalanced":
            return self.meeting[reading]
        return self.share(reading) * self.denominator[f"{rule}.unbalanced.{den}"]

    def readings(self) -> dict[str, dict[str, float]]:
        """Every reading's ``count``, ``share``, ``meeting`` and ``denominator``, in :data:`READINGS` order."""
        return {
            r: {
                "count": self.count(r),
                "share": self.share(r),
                "meeting": self.meeting[r],
                "denominator": self.denominator[r],
            }
            for r in READINGS
        }


def _check(reading: str) -> str:
    if reading not in READINGS:
        raise ValueError(f"unknown reading {reading!r}: expected one of {', '.join(READINGS)}")
    return reading


def _tables(waves: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per bit pattern of ``waves`` bits: set bits, longest run of set bits, lowest set bit, and the run from it."""
    patterns = np.arange(2**waves, dtype=np.int64)
    ones = np.zeros(patterns.size, np.int64)
    run = np.zeros(patterns.size, np.int64)
    longest = np.zeros(patterns.size, np.int64)
    first = np.full(patterns.size, waves, np.int64)
    first_run = np.zeros(patterns.size, np.int64)
    for w in range(waves):
        bit = (patterns >> w) & 1
        ones += bit
        run = (run + 1) * bit
        longest = np.maximum(longest, run)
        first = np.where(bit.astype(bool) & (first == waves), w, first)
        first_run += bit * (first_run == w - first)  # grows while the bits from the lowest are unbroken
    return ones, longest, first, first_run


def _rules(waves: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Each rule as a 0/1 table over at-risk patterns, and the lowest present wave and present run per present pattern."""
    ones, longest, first, first_run = _tables(waves)
    rule = {"at_least_4": (ones >= PERSISTENT).astype(float), "consecutive_4": (longest >= PERSISTENT).astype(float)}
    return rule, first, first_run


def _validate(at_risk, present, weight, waves, attrition, attrition_at_risk):
    if not (isinstance(waves, int | np.integer) and 1 <= waves <= MAX_WAVES):
        raise ValueError(f"waves must be a whole number from 1 to {MAX_WAVES}, got {waves!r}")
    arrays = []
    for name, a in (("at_risk", at_risk), ("present", present)):
        a = np.asarray(a)
        if a.ndim != 1 or not (a.dtype.kind in "iu" or a.size == 0):
            raise ValueError(
                f"{name} must be a 1-d array of integer bit masks, got dtype {a.dtype} and shape {a.shape}"
            )
        a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= 2**waves):
            raise ValueError(f"{name} has bits beyond the {waves} survey waves (each mask must be below {2**waves})")
        arrays.append(a)
    r, p = arrays
    w = np.asarray(weight, dtype=float)
    if not (r.shape == p.shape == w.shape):
        raise ValueError(
            f"at_risk, present and weight must have one entry per family, got shapes {r.shape}, {p.shape}, {w.shape}"
        )
    if not np.isfinite(w).all():
        raise ValueError("weight must be finite")
    if (w < 0).any():
        raise ValueError(f"weight must not be negative: {int((w < 0).sum())} families have a negative weight")
    absent = (r & ~p) != 0
    if absent.any():
        raise ValueError(
            f"a family at risk at a wave must be present at it: {int(absent.sum())} families have an at-risk bit "
            f"without its present bit (first at row {int(np.argmax(absent))})"
        )
    a = float(attrition)
    a_r = a if attrition_at_risk is None else float(attrition_at_risk)
    for name, value in (("attrition", a), ("attrition_at_risk", a_r)):
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"{name} is the chance of leaving the panel between waves: it must be in [0, 1), got {value!r}"
            )
    return r, p, w, a, a_r


def observe(
    at_risk: np.ndarray,
    present: np.ndarray,
    weight: np.ndarray,
    waves: int = 6,
    attrition: float = 0.0,
    attrition_at_risk: float | None = None,
) -> Panel:
    """What a panel survey observes of families at risk, for every reading in :data:`READINGS`.

    The attrition panel works as FACS did. A family joins at the first wave it is present. After each
    wave it is interviewed at, it stays for the next wave with chance ``1 - a``: ``a`` is
    ``attrition_at_risk`` if it was at risk at that wave, else ``attrition``. A family absent from the
    population at a wave is lost for good. So the panel observes a family's first ``k`` present waves,
    consecutive from its first, ``k`` random; every value is exact over ``k``. With no attrition the
    attrition panel is the unbalanced panel when every family is present in one unbroken run of
    waves; a family that leaves the population and comes back is observed only up to its first gap.

    Args:
        at_risk: per family, bit ``w`` set if at risk at wave ``w`` (integer bit masks, e.g. uint16).
        present: per family, bit ``w`` set if in the population at wave ``w``; covers every at-risk bit.
        weight: per family, how many families the row stands for (families, not negative).
        waves: survey waves, 1 to 16.
        attrition: chance a family not at risk at a wave is lost to the panel before the next, in [0, 1).
        attrition_at_risk: the same for a family at risk at the wave, in [0, 1); default ``attrition``.

    Returns:
        The :class:`Panel`.

    Raises:
        ValueError: for negative or non-finite weights, an at-risk bit without its present bit, bits
            beyond ``waves``, arrays of different lengths, or attrition outside [0, 1).
    """
    r, p, w, a, a_r = _validate(at_risk, present, weight, waves, attrition, attrition_at_risk)
    r, p, w = _by_pattern(r, p, w, waves)
    rule, first_of, run_of = _rules(waves)
    full = 2**waves - 1
    bit = [((r >> k) & 1).astype(bool) for k in range(waves)]
    per_wave = np.array([w @ b for b in bit], dtype=float)
    ever = r != 0

    meeting: dict[str, float] = {}
    denominator: dict[str, float] = {}

    def record(panel: str, met: dict[str, float], cross_section: float, ever_at_risk: float) -> None:
        for name in RULES:
            meeting[f"{name}.{panel}.cross_section"] = meeting[f"{name}.{panel}.ever_at_risk"] = met[name]
            denominator[f"{name}.{panel}.cross_section"] = cross_section
            denominator[f"{name}.{panel}.ever_at_risk"] = ever_at_risk

    record("unbalanced", {n: float(w @ t[r]) for n, t in rule.items()}, float(per_wave.mean()), float(w @ ever))
    wb = w * (p == full)
    record(
        "balanced",
        {n: float(wb @ t[r]) for n, t in rule.items()},
        float(np.mean([wb @ b for b in bit])),
        float(wb @ ever),
    )

    # The attrition panel: K, the waves observed, runs from 1 to the present run from the first wave.
    first, run = first_of[p], run_of[p]
    stay_at_risk, stay = 1.0 - a_r, 1.0 - a
    alive = (run >= 1).astype(float)  # P(K >= k), for k = 1
    met = dict.fromkeys(RULES, 0.0)
    ever_seen = 0.0
    seen_per_wave = np.zeros(waves)
    both = [0.0, 0.0]  # persistence_attrition: at risk at both waves, at risk at the first and present at the second
    for k in range(1, waves + 1):
        wave = first + k - 1
        seen = r & ((1 << np.minimum(wave + 1, waves)) - 1)  # at-risk bits of the first k waves
        at_risk_now = ((r >> np.minimum(wave, waves - 1)) & 1).astype(bool) & (k <= run)
        if k >= 2:
            before = ((r >> np.maximum(wave - 1, 0)) & 1).astype(bool)
            pair = w * alive * before  # observed at both waves, at risk at the first
            both[0] += float(pair @ at_risk_now)
            both[1] += float(pair.sum())
        nxt = alive * np.where(at_risk_now, stay_at_risk, stay) * (k + 1 <= run)  # P(K >= k + 1)
        exactly = w * (alive - nxt)  # weighted P(K = k)
        for name, t in rule.items():
            met[name] += float(exactly @ t[seen])
        ever_seen += float(exactly @ (seen != 0))
        seen_per_wave += np.bincount(np.minimum(wave, waves - 1), weights=w * alive * at_risk_now, minlength=waves)
        alive = nxt
    record("attrition", met, float(seen_per_wave.mean()), ever_seen)

    # Persistence, every family observed: pairs of waves (w, w + 1).
    pairs = (1 << (waves - 1)) - 1
    ones = _tables(waves - 1)[0] if waves > 1 else np.zeros(1, np.int64)
    stayed = float(w @ ones[r & (r >> 1) & pairs])
    followed = float(w @ ones[r & (p >> 1) & pairs])
    any_next = float(w @ ones[r & pairs])
    return Panel(
        waves=int(waves),
        attrition=a,
        attrition_at_risk=a_r,
        meeting=meeting,
        denominator=denominator,
        at_risk_per_wave=per_wave,
        persistence=_ratio(stayed, followed),
        persistence_all=_ratio(stayed, any_next),
        persistence_attrition=_ratio(both[0], both[1]),
    )


def _by_pattern(r: np.ndarray, p: np.ndarray, w: np.ndarray, waves: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Families with one pair of at-risk and present patterns added up: every value depends on the pair alone."""
    key = (p << waves) | r
    if waves <= 8:  # a table of 4**waves pairs (65,536 at most) beats sorting a million families
        total = np.bincount(key, weights=w, minlength=4**waves)
        pairs = np.flatnonzero(total)
        total = total[pairs]
    else:
        pairs, inverse = np.unique(key, return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=w, minlength=pairs.size)
    return pairs & (2**waves - 1), pairs >> waves, total


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def markov_panel(pi: float, persistence: float, waves: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every at-risk pattern of a stationary two-state Markov chain, weighted by its chance.

    A family is at risk at the first wave with chance ``pi``; at risk at the next with chance
    ``persistence`` if at risk now, else with the chance that keeps the share at risk at ``pi``.

    Args:
        pi: stationary share at risk, in (0, 1).
        persistence: chance of being at risk at the next wave if at risk now, in [0, 1].
        waves: survey waves, 1 to 16.

    Returns:
        ``(at_risk, present, weight)`` for :func:`observe`: the ``2**waves`` patterns (uint16), every
        family present in every wave, and each pattern's chance (weights sum to 1).

    Raises:
        ValueError: if ``pi`` or ``persistence`` is out of range, or no chain has them.
    """
    if not (isinstance(waves, int | np.integer) and 1 <= waves <= MAX_WAVES):
        raise ValueError(f"waves must be a whole number from 1 to {MAX_WAVES}, got {waves!r}")
    if not 0.0 < pi < 1.0:
        raise ValueError(f"pi is the share at risk: it must be in (0, 1), got {pi!r}")
    if not 0.0 <= persistence <= 1.0:
        raise ValueError(f"persistence is a chance: it must be in [0, 1], got {persistence!r}")
    entry = pi * (1.0 - persistence) / (1.0 - pi)  # P(at risk next | not at risk now)
    if entry > 1.0:
        raise ValueError(
            f"no chain keeps {pi:.0%} at risk with persistence {persistence!r}: it needs persistence >= {(2 * pi - 1) / pi:.4g}"
        )
    patterns = np.arange(2**waves, dtype=np.int64)
    now = patterns & 1
    chance = np.where(now == 1, pi, 1.0 - pi)
    for k in range(1, waves):
        nxt = (patterns >> k) & 1
        p_next = np.where(now == 1, persistence, entry)
        chance = chance * np.where(nxt == 1, p_next, 1.0 - p_next)
        now = nxt
    return patterns.astype(np.uint16), np.full(patterns.size, 2**waves - 1, np.uint16), chance
