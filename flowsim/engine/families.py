"""Model v2's family store: one record per family (the kernel's columns), plus columns scanned every month.

Rows are appended as families are copied (a sampled family that comes to be
at risk) or formed; a family of the sampled general population that leaves
gives its row to the new family that replaces it.
"""

from __future__ import annotations

import contextlib

import numpy as np

from flowsim.engine.codes import NONE, OUT

INF = np.inf

#: Arrays of stores whose replication has ended (:meth:`Families.recycle`), kept for the process's next
#: store. A fresh array of a few hundred MB costs the operating system's page faults as it is first written
#: (0.5-0.8 s for a fork's copy of the baseline's store); one already mapped costs nothing. So a warm worker's
#: later replications, and the fork of each, write into the memory of the last one. At most two stores' worth,
#: and only in worker processes (:func:`keep_spares`): a lone run lets the memory go before it writes its tables.
_SPARE: list[np.ndarray] = []
_KEEP = [False]


def keep_spares() -> None:
    """This process runs replication after replication (a worker): keep each store's memory for the next."""
    _KEEP[0] = True


@contextlib.contextmanager
def spares_aside():
    """Stores made inside take no spare and let none go (a pilot population's: the spares are the next
    replication's and its fork's)."""
    kept = _SPARE[:]
    _SPARE.clear()
    try:
        yield
    finally:
        _SPARE[:] = kept


def _take(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array: a spare one of this shape and type if there is one, else a new one (and the spares,
    a store of another size, are let go: a process running scenarios of several sizes holds no more than before)."""
    for j, a in enumerate(_SPARE):
        if a.shape == shape and a.dtype == dtype:
            return _SPARE.pop(j)
    _SPARE.clear()
    return np.empty(shape, dtype)


class Families:
    """Column store of model v2's families. ``weight`` is how many families a row stands for."""

    def __init__(self, n_problems: int, n_programmes: int, n_counters: int, capacity: int) -> None:
        self.n = 0
        self.free = np.empty(0, np.int64)  # rows to reuse
        NP, P = n_problems, n_programmes
        self._hot = [
            ("t_haz", np.float64, (), INF),
            ("t_prog", np.float64, (), INF),
            ("t_change", np.float64, (), INF),
            ("t_resolve", np.float64, (), INF),
            ("t_last", np.float64, (), -INF),
            ("key", np.uint64, (), 0),
            ("under5_until", np.float32, (), INF),
            ("z", np.float32, (), 1.0),
            ("followup_until", np.float32, (), INF),
            ("factors", np.uint16, (), 0),
            ("crisis", np.uint16, (), 0),
            ("since", np.float32, (NP,), -INF),  # when each problem last began or ended
            ("end", np.float32, (NP,), INF),  # when each present problem ends
            ("draws", np.uint16, (n_counters,), 0),
            ("prog_end", np.float32, (P,), INF),
            ("after_until", np.float32, (P,), -INF),
            ("effect_on", np.bool_, (P,), False),
            ("prog_dropout", np.bool_, (P,), False),
            ("released_early", np.bool_, (P,), False),
            ("council", np.int16, (), 0),
            ("start_state", np.int8, (), -1),
            ("start_target", np.bool_, (), False),
            ("start_problems", np.uint16, (), 0),
            ("followup_origin", np.int8, (), -1),
            ("followup_programme", np.int8, (), -1),
            ("counted", np.bool_, (), False),
        ]
        self._cold = [
            ("state", np.int8, (), OUT),
            ("problems", np.uint16, (), 0),  # here, not in the record: the monthly census reads it with state
            ("prog_status", np.int8, (P,), NONE),
            ("t_due", np.float64, (), INF),
            ("weight", np.int32, (), 1),
            ("waves", np.uint16, (), 0),  # bit w: at risk at survey wave w
            ("present_waves", np.uint16, (), 0),  # bit w: in the population at wave w
            ("stock_waves", np.uint16, (), 0),  # bit w: in the stock at wave w
            ("in_start_stock", np.bool_, (), False),
            ("key_worker_received", np.bool_, (), False),
            ("t_attached", np.float64, (), INF),
            ("attached_year", np.int8, (), 0),
            ("attached_domains", np.uint8, (), 0),
            ("claimed", np.uint8, (), 0),
            ("attached", np.uint8, (), 0),  # 1: attached to the payment-by-results programme; 2: on a council's list
            # The councils' administration of the 2012 programme (flowsim.engine.administration).
            ("t_identified", np.float64, (), INF),
            ("t_eligible", np.float64, (), INF),
            ("tf_referred", np.bool_, (), False),
            ("evidence", np.uint8, (), 0),  # results whose evidence the council's records have shown (claim bits)
            ("evidence_true", np.uint8, (), 0),  # ... and which of them were true when the records showed them
            ("tf_slot", np.int32, (), -1),  # an attached family's place in its council's counts (-1: none)
            ("t_worked", np.float64, (), INF),  # when its last key-worker intervention began
        ]
        self._dtype = np.dtype([(name, dt, shape) for name, dt, shape, _ in self._hot], align=True)
        self._blank = np.zeros((), self._dtype)
        for name, _, _, fill in self._hot:
            self._blank[name] = fill
        self._blank_bytes = np.frombuffer(self._blank.tobytes(), np.uint8)
        self.records = None
        self._allocate(max(capacity, 16))

    def _allocate(self, cap: int) -> None:
        old = self.records
        records = _take((cap,), self._dtype)
        # Rows byte for byte, padding included: the memory may be a spare's (_take).
        raw = records.view(np.uint8).reshape(cap, self._dtype.itemsize)
        raw[self.n :] = self._blank_bytes
        if old is not None:
            raw[: self.n] = self._bytes()[: self.n]
        self.records = records
        for name, *_ in self._hot:
            setattr(self, name, records[name])
        for name, dt, shape, fill in self._cold:
            column = _take((cap, *shape), np.dtype(dt))
            column[self.n :] = fill
            if old is not None:
                column[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, column)

    @property
    def capacity(self) -> int:
        return self.records.shape[0]

    def _bytes(self) -> np.ndarray:
        """The records as rows of bytes: copying and blanking rows is then a plain row copy."""
        return self.records.view(np.uint8).reshape(self.records.shape[0], self._dtype.itemsize)

    def add(self, k: int, blank: bool = True) -> np.ndarray:
        """``k`` rows for new families (free rows first, then appended); return their indices.

        ``blank=False`` leaves reused rows as they were (the caller overwrites them whole).
        """
        reuse = self.free[:k]
        self.free = self.free[k:]
        if reuse.size and blank:
            self.blank(reuse)
        more = k - reuse.size
        if self.n + more > self.capacity:
            self._allocate(max(self.n + more, int(self.capacity * 1.5) + 16))
        ids = np.arange(self.n, self.n + more)
        self.n += more
        return np.concatenate([reuse, ids])

    def release(self, ids: np.ndarray) -> None:
        """Rows ``ids`` hold no family any more (dropped, or left with nothing to report): free them."""
        self.free = np.concatenate([self.free, ids.astype(np.int64)])

    def copy_rows(self, src: np.ndarray) -> np.ndarray:
        """Copies of rows ``src`` (records and monthly columns) in new rows; return the new rows."""
        ids = self.add(src.size, blank=False)
        raw = self._bytes()
        raw[ids] = raw[src]
        for name, *_ in self._cold:
            col = getattr(self, name)
            col[ids] = col[src]
        return ids

    def blank(self, ids: np.ndarray) -> None:
        """Make rows ``ids`` blank (for new families)."""
        self._bytes()[ids] = self._blank_bytes
        for name, _, _, fill in self._cold:
            getattr(self, name)[ids] = fill

    def copy(self) -> Families:
        """An independent copy of the store (the kernel's columns are views of the copy's own records)."""
        other = object.__new__(Families)
        other.__dict__.update(self.__dict__)  # the layout; every array is replaced below
        other.free = self.free.copy()
        other.records = _copy(self.records)
        for name, *_ in self._hot:
            setattr(other, name, other.records[name])
        for name, *_ in self._cold:
            setattr(other, name, _copy(getattr(self, name)))
        return other

    def recycle(self) -> None:
        """The replication is over: in a worker its arrays go to the next store of the process (:func:`keep_spares`).
        Nothing may read them after."""
        if _KEEP[0]:
            arrays = [self.records, *(getattr(self, name) for name, *_ in self._cold)]
            _SPARE[:0] = arrays  # the newest first, so the oldest are dropped
            del _SPARE[2 * len(arrays) :]
        self.records = None
        for name, *_ in (*self._hot, *self._cold):
            setattr(self, name, None)


def _copy(a: np.ndarray) -> np.ndarray:
    """A copy of contiguous ``a``, byte for byte (a record's padding too: copying by field would leave it as
    the memory had it)."""
    out = _take(a.shape, a.dtype)
    np.copyto(out.reshape(-1).view(np.uint8), a.reshape(-1).view(np.uint8))
    return out
