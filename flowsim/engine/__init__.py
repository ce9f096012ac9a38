"""The simulation engine: a pure function of (model specification, seed) -> Results.

The simulation's entry points (:data:`ENTRY_POINTS`, from :mod:`flowsim.engine.simulation`) are imported on first
use: importing the engine, or a module that runs it, loads neither numba nor simpy until something is simulated
(so ``flowsim report``, and reading a run's codes, never do).
"""

from __future__ import annotations

ENTRY_POINTS = ("simulate", "simulate_with_counterfactual", "simulate_shared", "can_share")
__all__ = list(ENTRY_POINTS)


def __getattr__(name: str):
    if name in ENTRY_POINTS:
        from flowsim.engine import simulation  # import time: numba and simpy load here, when first needed

        return getattr(simulation, name)
    raise AttributeError(f"module 'flowsim.engine' has no attribute {name!r}")
