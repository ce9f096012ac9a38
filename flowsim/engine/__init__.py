"""The simulation engine: a pure function of (scenario, seed) -> Results."""

from flowsim.engine.simulation import Results, simulate

__all__ = ["Results", "simulate"]
