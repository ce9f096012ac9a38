"""Batch parameter sweeps: sweep files, designs, a resumable run store, executors (local, Dask), summaries."""

from flowsim.sweep.run import run_sweep
from flowsim.sweep.spec import SweepSpec, load_sweep
from flowsim.sweep.store import RunStore, sweep_table

__all__ = ["RunStore", "SweepSpec", "load_sweep", "run_sweep", "sweep_table"]
