"""Families as numpy columns: attributes, ladder state and event clocks.

One row per family. Rows are appended as families arrive; a family that
leaves the model keeps its row in state ``OUT``, unless the universe
replaces it with a new family, which then takes over the row
(:meth:`Families.reuse`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowsim.engine.codes import NONE, OUT

INF = np.inf


@dataclass
class NewFamilies:
    """Attributes of families about to be added (one entry per family)."""

    factors: np.ndarray  # bool (n, n_factors)
    frailty: np.ndarray  # float64 (n,), mean 1
    youngest_age: np.ndarray  # float64 (n,), years
    council: np.ndarray  # int16 (n,)


@dataclass
class Departed:
    """Per-family results of families whose rows were reused (``Families.reuse``)."""

    waves: np.ndarray
    in_start_stock: np.ndarray
    key_worker_received: np.ndarray
    t_attached: np.ndarray
    attached_year: np.ndarray


class Families:
    """Column store of every tracked family.

    Clocks are absolute model times in years; ``inf`` means never:
    ``t_haz`` is the next event of the memoryless competing hazards,
    ``t_exit`` leaving the model (ageing out or other exit), ``t_prog`` the
    earliest programme end, ``t_change`` the next time the family's hazards
    change (a trigger window or a programme's after-effect ends), and
    ``t_resolve`` the end of its spell at risk (R, H or S).

    Most columns the event kernel reads and writes live side by side in one
    record per family (each column is a strided view of it), so one family's
    events touch a few adjacent cache lines instead of one line per column.
    Columns scanned over every family each month (state, programme status and
    ``t_due``, the earliest of the clocks) and those used only for results and
    claims are plain arrays.
    """

    def __init__(self, n_programmes: int, capacity: int, n_counters: int = 1) -> None:
        self.n = 0
        self.n_programmes = n_programmes
        P = n_programmes
        # (name, dtype, shape per family, initial value); the clocks first, in one cache line.
        self._hot = [
            ("t_haz", np.float64, (), INF),
            ("t_exit", np.float64, (), INF),
            ("t_prog", np.float64, (), INF),
            ("t_change", np.float64, (), INF),
            ("t_resolve", np.float64, (), INF),
            ("t_last", np.float64, (), INF),
            ("boost_until", np.float64, (), -INF),
            ("esc_mult", np.float64, (), INF),
            ("entry_mult", np.float64, (), INF),
            ("key", np.uint64, (), 0),  # identity for counter-based random numbers (engine.crn)
            ("t_age_out", np.float64, (), INF),
            ("t_other_exit", np.float64, (), INF),
            # Times kept per programme or per problem are float32 (resolution under a minute over
            # a decade): they are most of a family's bytes, and universe "all" holds 5.8M families.
            ("domain_since", np.float32, (3,), 0.0),  # when each problem flag last changed (years)
            ("prog_end", np.float32, (P,), INF),
            ("after_until", np.float32, (P,), -INF),
            ("draws", np.uint16, (n_counters,), 0),  # draw counters (kernel.FIRST_PROGRAMME explains them)
            ("prog_ok", np.bool_, (P,), False),  # static eligibility (required factors)
            ("prog_dropout", np.bool_, (P,), False),
            ("released_early", np.bool_, (P,), False),  # place already reused this month
            ("council", np.int16, (), 0),
            ("drivers", np.uint8, (), 0),  # bit k: has trigger k's driver factor (PopulationModel.driver_bits)
            ("last_trigger", np.int8, (), 0),
            ("domains", np.uint8, (), 0),  # problem flags: bit 0 crime/ASB, 1 education, 2 worklessness
        ]
        # Columns scanned over every family each month stay contiguous.
        self._cold = [
            ("state", np.int8, (), OUT),
            ("prog_status", np.int8, (P,), NONE),
            ("t_due", np.float64, (), INF),  # the earliest clock, kept up to date by the kernel
            ("waves", np.uint16, (), 0),
            ("t_attached", np.float64, (), INF),  # attached to the payment-by-results programme
            ("attached_year", np.int8, (), 0),  # programme year of attachment (0, 1, 2, ...)
            ("attached_domains", np.uint8, (), 0),
            ("claimed", np.uint8, (), 0),  # results claimed: bit 0 crime/education, 1 employment, 2 progress
            ("in_start_stock", np.bool_, (), False),
            ("key_worker_received", np.bool_, (), False),
        ]
        self._dtype = np.dtype([(name, dt, shape) for name, dt, shape, _ in self._hot], align=True)
        self._blank = np.zeros((), self._dtype)  # a blank record: every field at its initial value
        for name, _, _, fill in self._hot:
            self._blank[name] = fill
        self._allocate(max(capacity, 16))

    def _allocate(self, cap: int) -> None:
        """(Re)allocate for ``cap`` families, keeping the first ``n`` rows."""
        old = getattr(self, "records", None)
        records = np.empty(cap, self._dtype)
        records[self.n :] = self._blank  # one pass over the rows (a pass per field would be one per column)
        if old is not None:
            records[: self.n] = old[: self.n]
        self.records = records
        for name, *_ in self._hot:
            setattr(self, name, records[name])
        for name, dt, shape, fill in self._cold:
            column = np.full((cap, *shape), fill, dt)
            if old is not None:
                column[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, column)

    @property
    def capacity(self) -> int:
        return self.records.shape[0]

    def _grow(self, needed: int) -> None:
        self._allocate(max(needed, int(self.capacity * 1.5) + 16))

    def add(self, new: NewFamilies, keys: np.ndarray) -> np.ndarray:
        """Append blank rows for families ``new`` with ``keys``; return their row indices. Clocks start at ``inf``."""
        k = new.frailty.shape[0]
        if self.n + k > self.capacity:
            self._grow(self.n + k)
        ids = np.arange(self.n, self.n + k)
        self.key[ids] = keys
        self.n += k
        return ids

    def reuse(self, ids: np.ndarray, keys: np.ndarray) -> Departed:
        """Make rows ``ids`` (families that left) blank rows for new families with ``keys``.

        Returns what the departed families leave behind for the run's results:
        survey waves, start stock, key-worker receipt and attachment, for those
        with any of them (the rest have nothing to report).
        """
        keep = ids[
            (self.waves[ids] != 0)
            | self.in_start_stock[ids]
            | self.key_worker_received[ids]
            | np.isfinite(self.t_attached[ids])
        ]
        gone = Departed(
            self.waves[keep].copy(),
            self.in_start_stock[keep].copy(),
            self.key_worker_received[keep].copy(),
            self.t_attached[keep].copy(),
            self.attached_year[keep].copy(),
        )
        self.records[ids] = self._blank
        for name, _, _, fill in self._cold:
            getattr(self, name)[ids] = fill
        self.key[ids] = keys
        return gone
