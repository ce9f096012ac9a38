"""Capacity-limited programmes: places over time and an exact-time FIFO queue.

A programme admits families in first-come, first-served order. Admission is
computed a month at a time but at exact times: a free place that appears at
time ``s`` (a release, or the start of the month) goes to the earliest
waiting family, which starts at ``max(arrival, s)``. Durations are drawn at
admission, so a place freed within the same month by a short intervention
is reused within that month too.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flowsim.timeline import step_at


@dataclass
class Admission:
    """Families admitted in one pass: ids, arrival times and start times (years)."""

    ids: np.ndarray
    arrived: np.ndarray
    started: np.ndarray
    ends: np.ndarray
    dropout: np.ndarray
    reused: np.ndarray  # bool: the family's place was freed and reused within the month already


@dataclass
class Programme:
    """One programme's capacity and queue.

    Attributes:
        name: registry name, e.g. ``key_worker``.
        index: position in the scenario's programme list.
        capacity_times, capacity_places: a step function of places (families at once).
        duration_mean_years, duration_shape: gamma durations.
        p_dropout: probability an admitted family leaves early, at a uniform point.
    """

    name: str
    index: int
    capacity_times: np.ndarray
    capacity_places: np.ndarray
    duration_mean_years: float
    duration_shape: float
    p_dropout: float
    occupied: int = 0
    _queue_t: list[np.ndarray] = field(default_factory=list)
    _queue_id: list[np.ndarray] = field(default_factory=list)
    _slots: list[float] = field(default_factory=list)
    _deficit: int = 0

    def capacity(self, t: float) -> int:
        """Places (families at once) at model time ``t``."""
        return int(round(step_at(self.capacity_times, self.capacity_places, t)))

    def open_month(self, t0: float) -> None:
        """Start a month: every free place is available from ``t0``."""
        free = self.capacity(t0) - self.occupied
        self._slots = [t0] * max(free, 0)
        self._deficit = max(-free, 0)

    def join(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Families join the back of the queue at ``times``."""
        if ids.size:
            self._queue_id.append(ids)
            self._queue_t.append(times)

    def forget(self, ids: np.ndarray) -> None:
        """Drop rows ``ids`` from the queue: their families left and the rows now hold new families."""
        if self._queue_id and ids.size:
            queued = np.concatenate(self._queue_id)
            keep = ~np.isin(queued, ids)
            self._queue_id, self._queue_t = [queued[keep]], [np.concatenate(self._queue_t)[keep]]

    def release(self, times: np.ndarray) -> None:
        """Places freed at ``times`` (completion, drop-out or a family leaving)."""
        self.occupied -= int(times.size)
        for t in np.sort(times):
            if self._deficit > 0:
                self._deficit -= 1  # capacity was cut: this place closes
            else:
                bisect.insort(self._slots, float(t))

    def waiting(
        self, still_waiting: np.ndarray | Callable[[np.ndarray], np.ndarray], families: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Compact the queue to families still waiting; return (ids, arrival times) in FIFO order.

        ``families``: how many families are waiting, if the caller counts them; more entries than that means a
        family has two (the check for them then runs only when it can find one).
        """
        if not self._queue_id:
            return np.empty(0, np.int64), np.empty(0)
        ids = np.concatenate(self._queue_id)
        times = np.concatenate(self._queue_t)
        keep = still_waiting(ids) if callable(still_waiting) else still_waiting[ids]
        ids, times = ids[keep], times[keep]
        order = np.argsort(times, kind="stable")
        ids, times = ids[order], times[order]
        # A family that left the queue and joined it again since the last pass has two entries: the later stands.
        if families is None or ids.size > families:
            _, last = np.unique(ids[::-1], return_index=True)
            if last.size < ids.size:
                later = np.sort(ids.size - 1 - last)
                ids, times = ids[later], times[later]
        self._queue_id, self._queue_t = [ids], [times]
        return ids, times

    def admit(
        self,
        still_waiting: np.ndarray | Callable[[np.ndarray], np.ndarray],
        t1: float,
        draw: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        families: int | None = None,
    ) -> Admission:
        """Admit waiting families to places that free up before ``t1``, in FIFO order.

        Args:
            still_waiting: bool per family row, True while the family waits here; or a
                function giving that for an array of rows (cheaper for a large population).
            t1: end of the month being simulated (years).
            draw: given waiting families in queue order (the head of the queue), each one's intervention
                length if admitted now (years, shortened for a drop-out) and whether
                it drops out. It must give the same answer each time it is asked (the
                caller's draws belong to the family's referral, not to the asking).
            families: how many families are waiting, if the caller counts them (:meth:`waiting`).

        Returns:
            The admitted families with exact start and end times.
        """
        ids, arrived = self.waiting(still_waiting, families)
        n_wait = ids.size
        if n_wait == 0 or not self._slots:
            return Admission(np.empty(0, np.int64), *(np.empty(0),) * 3, np.empty(0, bool), np.empty(0, bool))
        # Lengths are drawn only for the head of the queue that places could reach
        # (a long queue would otherwise cost a draw per waiting family every month).
        durations, dropout = np.empty(0), np.empty(0, bool)
        slots = list(self._slots)
        counted = 0  # admitted families whose in-month end is already a slot
        while True:
            m = min(len(slots), n_wait)
            if m > durations.size:
                k = min(n_wait, max(m, 2 * durations.size))
                more, out = draw(ids[durations.size : k])
                durations, dropout = np.concatenate([durations, more]), np.concatenate([dropout, out])
            starts = np.maximum(arrived[:m], np.asarray(slots[:m]))
            m = int(np.searchsorted(starts, t1, side="left"))  # starts are non-decreasing
            starts = starts[:m]
            ends = starts + durations[:m]
            inside = np.flatnonzero(ends < t1)
            if inside.size == counted:
                break
            # A place freed inside this month by a family admitted in it: reuse it.
            slots = list(self._slots)
            for t in ends[inside]:
                bisect.insort(slots, float(t))
            counted = inside.size
        reused = np.zeros(m, bool)
        reused[inside] = True
        self._slots = slots[m:]
        self.occupied += m - counted  # families whose end falls in-month have already left
        self._queue_id, self._queue_t = [ids[m:]], [arrived[m:]]
        return Admission(ids[:m], arrived[:m], starts, ends, dropout[:m], reused)
