"""Statistics over replications: means with t-intervals, proportions with Wilson intervals, paired differences.

Every interval is a 95% interval. A summarised measure is written as
``{"mean": m, "lo": lo, "hi": hi}`` throughout flowsim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def _t975(df: int) -> float:
    """The 97.5th percentile of Student's t with ``df`` degrees of freedom."""
    from scipy import stats  # import time: scipy loads only where a statistic needs it

    return float(stats.t.ppf(0.975, df))


def mean_interval(values: Sequence[float] | np.ndarray) -> dict:
    """Mean and 95% t-interval of the mean; a single value has no interval."""
    x = np.asarray(values, float)
    mean = float(x.mean())
    if x.size < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = _t975(x.size - 1) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def wilson(successes: int, n: int) -> dict:
    """A proportion with its 95% Wilson score interval (sensible at 0 and 1)."""
    if n == 0:
        return {"mean": float("nan"), "lo": 0.0, "hi": 1.0}
    z = Z95
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    hi = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return {"mean": p, "lo": lo, "hi": hi}


def paired_difference(a: Sequence[float], b: Sequence[float]) -> dict:
    """B - A paired by replication (common random numbers) and, for reference, unpaired (Welch-free pooled t).

    Returns ``{"a": mean A, "b": mean B, "paired": {mean, lo, hi}, "unpaired": {mean, lo, hi}}``.
    """
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    n = xa.size
    se = math.sqrt(xa.var(ddof=1) / n + xb.var(ddof=1) / n) if n > 1 else 0.0
    half = _t975(max(2 * n - 2, 1)) * se
    diff = float(xb.mean() - xa.mean())
    return {
        "a": float(xa.mean()),
        "b": float(xb.mean()),
        "paired": mean_interval(xb - xa),
        "unpaired": {"mean": diff, "lo": diff - half, "hi": diff + half},
    }
