"""The simulation engine: a pure function of (model specification, seed) -> Results.

``simulate`` is imported on first use, so that reading a run's codes
(``flowsim.engine.codes``) does not load numba or simpy.
"""

from __future__ import annotations

__all__ = ["simulate"]


def __getattr__(name: str):
    if name == "simulate":
        from flowsim.engine.simulation import simulate

        return simulate
    raise AttributeError(f"module 'flowsim.engine' has no attribute {name!r}")
