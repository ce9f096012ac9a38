"""What the engine records while it runs: flows, monthly snapshots, programme events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Recorder:
    """Append-only logs; turned into tables once the run ends."""

    n_programmes: int
    n_triggers: int = 0
    flows: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    boundary_t: list[float] = field(default_factory=list)
    boundary_states: list[np.ndarray] = field(default_factory=list)
    boundary_programmes: list[np.ndarray] = field(default_factory=list)  # (P, 3): capacity, occupied, waiting
    programme_events: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    waits: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    triggers: np.ndarray = field(init=False)  # trigger events by kind
    claims: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # (t, route, programme year, family key)
    events: int = 0

    def __post_init__(self) -> None:
        self.triggers = np.zeros(self.n_triggers, np.int64)

    def flow(self, t: np.ndarray | float, src: np.ndarray | int, dst: np.ndarray | int, cause: int, n: int) -> None:
        if n:
            self.flows.append(
                (
                    np.broadcast_to(np.asarray(t, float), (n,)).copy(),
                    np.broadcast_to(np.asarray(src, np.int8), (n,)).copy(),
                    np.broadcast_to(np.asarray(dst, np.int8), (n,)).copy(),
                    np.full(n, cause, np.int8),
                )
            )

    def programme_event(self, prog: int, t: np.ndarray | float, kind: int, n: int) -> None:
        if n:
            self.programme_events.append(
                (
                    np.full(n, prog, np.int8),
                    np.broadcast_to(np.asarray(t, float), (n,)).copy(),
                    np.full(n, kind, np.int8),
                )
            )

    def concat_flows(self) -> tuple[np.ndarray, ...]:
        """Flows as (t, from, to, cause) arrays."""
        return _concat(self.flows, (float, np.int8, np.int8, np.int8))

    def concat_programme_events(self) -> tuple[np.ndarray, ...]:
        """Programme events as (programme, t, kind) arrays."""
        return _concat(self.programme_events, (np.int8, float, np.int8))

    def concat_claims(self) -> tuple[np.ndarray, ...]:
        """Results claims as (t, route bit, programme year of attachment, family key) arrays."""
        return _concat(self.claims, (float, np.int8, np.int8, np.uint64))

    def concat_waits(self) -> tuple[np.ndarray, ...]:
        """Admissions as (programme, arrived, started) arrays."""
        return _concat(self.waits, (np.int8, float, float))


def _concat(log: list[tuple[np.ndarray, ...]], dtypes: tuple) -> tuple[np.ndarray, ...]:
    if not log:
        return tuple(np.empty(0, d) for d in dtypes)
    return tuple(np.concatenate(cols) for cols in zip(*log))
