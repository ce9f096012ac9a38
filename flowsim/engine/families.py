"""Families as numpy columns: attributes, ladder state and event clocks.

One row per family ever tracked. Rows are appended as families arrive and
never removed; a family that leaves the model keeps its row in state ``OUT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowsim.engine.states import NONE, OUT

INF = np.inf


@dataclass
class NewFamilies:
    """Attributes of families about to be added (one entry per family)."""

    factors: np.ndarray  # bool (n, n_factors)
    frailty: np.ndarray  # float64 (n,), mean 1
    youngest_age: np.ndarray  # float64 (n,), years
    council: np.ndarray  # int16 (n,)


class Families:
    """Column store of every tracked family.

    Clocks are absolute model times in years; ``inf`` means never:
    ``t_haz`` is the next event of the memoryless competing hazards,
    ``t_exit`` leaving the model (ageing out or other exit), ``t_prog`` the
    earliest programme end, ``t_change`` the next time the family's hazards
    change (a trigger window or a programme's after-effect ends), and
    ``t_resolve`` the end of its spell at risk (R, H or S).
    """

    _FLOAT_COLUMNS = (
        "entry_mult",
        "esc_mult",
        "entry_hazard",
        "frailty",
        "t_haz",
        "t_exit",
        "t_age_out",
        "t_other_exit",
        "t_prog",
        "t_change",
        "t_resolve",
        "t_last",
        "boost_until",
    )

    def __init__(self, n_factors: int, n_programmes: int, n_triggers: int, capacity: int, n_purposes: int = 1) -> None:
        self.n = 0
        self.n_factors = n_factors
        self.n_programmes = n_programmes
        cap = max(capacity, 16)
        self.state = np.full(cap, OUT, np.int8)
        self.factors = np.zeros((cap, n_factors), bool)
        self.trigger_rates = np.zeros((cap, n_triggers))
        self.council = np.zeros(cap, np.int16)
        self.last_trigger = np.zeros(cap, np.int8)
        # Per family and programme, (family, programme): one family's programmes share a cache line.
        self.prog_ok = np.zeros((cap, n_programmes), bool)  # static eligibility (required factors)
        self.prog_status = np.full((cap, n_programmes), NONE, np.int8)
        self.prog_end = np.full((cap, n_programmes), INF)
        self.prog_dropout = np.zeros((cap, n_programmes), bool)
        self.after_until = np.full((cap, n_programmes), -INF)
        self.released_early = np.zeros((cap, n_programmes), bool)  # place already reused this month
        self.waves = np.zeros(cap, np.uint16)
        self.domains = np.zeros(cap, np.uint8)  # problem flags: bit 0 crime/ASB, 1 education, 2 worklessness
        self.domain_since = np.zeros((cap, 3), np.float64)  # when each flag last changed (years)
        self.t_attached = np.full(cap, INF)  # attached to the payment-by-results programme
        self.attached_year = np.zeros(cap, np.int8)  # programme year of attachment (0, 1, 2, ...)
        self.attached_domains = np.zeros(cap, np.uint8)
        self.claimed = np.zeros(cap, np.uint8)  # results claimed: bit 0 crime/education, 1 employment, 2 progress
        self.key = np.zeros(cap, np.uint64)  # identity for counter-based random numbers (engine.crn)
        self.draws = np.zeros((cap, n_purposes), np.uint16)  # draws used per purpose
        self.in_start_stock = np.zeros(cap, bool)
        self.key_worker_received = np.zeros(cap, bool)
        for name in self._FLOAT_COLUMNS:
            setattr(self, name, np.full(cap, INF))
        self.boost_until[:] = -INF

    @property
    def capacity(self) -> int:
        return self.state.shape[0]

    def _grow(self, needed: int) -> None:
        new_cap = max(needed, int(self.capacity * 1.5) + 16)
        for name, value in list(vars(self).items()):
            if not isinstance(value, np.ndarray):
                continue
            shape = list(value.shape)
            shape[0] = new_cap - shape[0]
            pad = np.full(shape, _fill_value(name, value), value.dtype)
            setattr(self, name, np.concatenate([value, pad]))

    def add(self, new: NewFamilies, keys: np.ndarray) -> np.ndarray:
        """Append families; return their row indices. Clocks start at ``inf``."""
        k = new.frailty.shape[0]
        if self.n + k > self.capacity:
            self._grow(self.n + k)
        ids = np.arange(self.n, self.n + k)
        self.factors[ids] = new.factors
        self.frailty[ids] = new.frailty
        self.council[ids] = new.council
        self.key[ids] = keys
        self.n += k
        return ids

    def live(self) -> np.ndarray:
        """Row indices of families still in the model."""
        return np.flatnonzero(self.state[: self.n] != OUT)


def _fill_value(name: str, value: np.ndarray):
    if name == "state":
        return OUT
    if name in ("after_until", "boost_until"):
        return -INF
    if name == "prog_end" or (value.dtype.kind == "f" and name.startswith("t_")):
        return INF
    return 0
