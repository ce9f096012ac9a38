"""Designs: the rows (parameter -> value) a sweep runs. Deterministic given the sweep's seed."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from flowsim.sweep.spec import SweepSpec


def _scale(spec: SweepSpec, unit: np.ndarray) -> list[dict[str, float]]:
    rows = []
    for u in unit:
        row = {}
        for p, x in zip(spec.parameters, u, strict=True):
            v = p.low + x * (p.high - p.low)
            row[p.key] = float(round(v)) if p.integer else float(v)
        rows.append(row)
    return rows


def grid_axes(spec: SweepSpec) -> list[list[float]]:
    """The grid's values of each parameter, in order."""
    axes = []
    for p in spec.parameters:
        if p.values is not None:
            axes.append([float(v) for v in p.values])
        else:
            vals = np.linspace(p.low, p.high, p.steps)
            axes.append([float(round(v)) if p.integer else float(v) for v in vals])
    return axes


def iter_grid(spec: SweepSpec) -> Iterator[dict[str, float]]:
    """The grid's rows one at a time (a grid of millions of rows is never held in memory)."""
    keys = [p.key for p in spec.parameters]
    for combo in itertools.product(*grid_axes(spec)):
        yield dict(zip(keys, combo, strict=True))


def grid(spec: SweepSpec) -> list[dict[str, float]]:
    return list(iter_grid(spec))


def lhs(spec: SweepSpec) -> list[dict[str, float]]:
    from scipy.stats import qmc  # import time: scipy loads only where a statistic needs it

    return _scale(spec, qmc.LatinHypercube(d=len(spec.parameters), seed=spec.seed).random(spec.points))


def sobol(spec: SweepSpec) -> list[dict[str, float]]:
    from scipy.stats import qmc  # import time: scipy loads only where a statistic needs it

    m = int(np.ceil(np.log2(max(spec.points, 1))))  # Sobol' points come in powers of two
    return _scale(spec, qmc.Sobol(d=len(spec.parameters), scramble=True, seed=spec.seed).random_base2(m))


def morris_problem(spec: SweepSpec) -> dict:
    return {
        "num_vars": len(spec.parameters),
        "names": [p.key for p in spec.parameters],
        "bounds": [[p.low, p.high] for p in spec.parameters],
    }


def morris(spec: SweepSpec) -> list[dict[str, float]]:
    """Morris elementary-effects trajectories (SALib): points x (parameters + 1) rows."""
    from SALib.sample import morris as morris_sample  # import time: SALib loads only for designs and indices

    x = morris_sample.sample(morris_problem(spec), spec.points, num_levels=spec.morris_levels, seed=spec.seed)
    rows = []
    for values in x:
        rows.append(
            {p.key: float(round(v)) if p.integer else float(v) for p, v in zip(spec.parameters, values, strict=True)}
        )
    return rows


def saltelli(spec: SweepSpec) -> list[dict[str, float]]:
    """Saltelli-Sobol' sample for first- and total-order Sobol indices: points x (parameters + 2) rows."""
    from SALib.sample import sobol as sobol_sample  # import time: SALib loads only for designs and indices

    problem = morris_problem(spec)
    x = sobol_sample.sample(problem, spec.points, calc_second_order=False, seed=spec.seed)
    return [
        {p.key: float(round(v)) if p.integer else float(v) for p, v in zip(spec.parameters, values, strict=True)}
        for values in x
    ]


def design_rows(spec: SweepSpec) -> list[dict[str, float]]:
    """The sweep's rows; ``saltelli`` is the design ``flowsim sensitivity --method sobol`` uses."""
    return {"grid": grid, "lhs": lhs, "sobol": sobol, "morris": morris, "saltelli": saltelli}[spec.design](spec)


def iter_design_rows(spec: SweepSpec) -> Iterator[dict[str, float]]:
    """The sweep's rows one at a time: lazily for a grid; the sampled designs are small arrays anyway."""
    return iter_grid(spec) if spec.design == "grid" else iter(design_rows(spec))


def distinct_rows(spec: SweepSpec) -> int:
    """How many different rows the design has (a row repeated, as Morris trajectories do, is one), without the grid."""
    if spec.design == "grid":
        return math.prod(len(set(axis)) for axis in grid_axes(spec))
    return len({tuple(row.values()) for row in design_rows(spec)})
