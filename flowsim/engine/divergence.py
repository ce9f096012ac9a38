"""When two model v2 specifications can first make different histories, worked out from the specs alone.

Two scenarios run with one seed share every random number, so their
histories are identical up to the first moment at which a setting that
differs between them can act. :func:`divergence` finds that moment, or says
they cannot share. It is conservative: a difference it cannot place in time
(a hazard, the population, the calendar, a programme's structure) means no
sharing at all.

Where a difference is placed in time:

- a programme's places (a step function): the first time their values differ;
- any other setting of a programme (durations, effects, eligibility, take-up):
  the first time either version of it has places, since nothing refers a
  family to a programme before it opens;
- the roll-out of the new approach (a step function): the first time its
  share differs; the new approach's identification rate: the first time
  either roll-out has reached any council; the FIP's: the key worker's opening;
- payment by results: the start of the programme window or the first claim
  window, whichever is first (nothing is attached or claimed before);
- the councils' administration of the 2012 programme: when either version
  first acts (its start, or the first records it matches); the councils
  themselves (their shares of families) must be equal;
- the target's count and the survey panel's attrition: never (only the measures read them, after the run).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from flowsim.engine.spec import ModelSpec
from flowsim.timeline import step_at

#: ModelSpec fields placed in time below; every other field must be equal for two specs to share.
_PER_PROGRAMME = ("prog_onset", "prog_resolution", "turns_around", "prog_factor_bits", "prog_problem_mask")
_TIMED = ("programmes", "rollout_t", "rollout_share", "finance", "programme_2012", "id_fip", "id_new", *_PER_PROGRAMME)
#: Fields read only by the measures after the run, never by the simulation.
_MEASURES_ONLY = ("target_count", "attrition")
#: Programme fields that shape the model's arrays or its calendar: they must be equal.
_STRUCTURE = ("name", "referral", "exclusive_group", "requires_programmes", "needs_any")


def same(x, y) -> bool:
    """Deep equality for the values specs hold: arrays (NaN equal to NaN), dicts, sequences, dataclasses."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        return x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f" and y.dtype.kind == "f")
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, list | tuple) and isinstance(y, list | tuple):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    if dataclasses.is_dataclass(x) and dataclasses.is_dataclass(y) and type(x) is type(y):
        return all(same(getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x))
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return bool(x == y)


def first_difference(times_a, values_a, times_b, values_b) -> float:
    """The first time two step functions differ (``inf``: never)."""
    times = np.unique(np.concatenate([np.asarray(times_a, float), np.asarray(times_b, float)]))
    for t in [-math.inf, *times.tolist()]:
        if not same(step_at(times_a, values_a, t), step_at(times_b, values_b, t)):
            return t
    return math.inf


def _first_positive(times, values) -> float:
    """The first time a step function (0 before its first step) is above 0 (``inf``: never)."""
    on = [float(t) for t, v in zip(times, values, strict=True) if v > 0]
    return min(on, default=math.inf)


def divergence(a: ModelSpec, b: ModelSpec) -> float | None:
    """The model time from which runs of ``a`` and ``b`` with one seed can differ.

    Returns ``inf`` when they cannot differ at all, and ``None`` when the
    specs differ where no time can be put on it (they must not share).
    """
    for f in dataclasses.fields(ModelSpec):
        if f.name not in (*_TIMED, *_MEASURES_ONLY) and not same(getattr(a, f.name), getattr(b, f.name)):
            return None
    if len(a.programmes) != len(b.programmes):
        return None
    when = math.inf
    for i, (pa, pb) in enumerate(zip(a.programmes, b.programmes, strict=True)):
        if any(not same(getattr(pa, k), getattr(pb, k)) for k in _STRUCTURE):
            return None
        when = min(when, first_difference(pa.capacity_times, pa.capacity_places, pb.capacity_times, pb.capacity_places))
        rest = [
            f.name for f in dataclasses.fields(pa) if f.name not in (*_STRUCTURE, "capacity_times", "capacity_places")
        ]
        rows_differ = any(not same(getattr(a, k)[i], getattr(b, k)[i]) for k in _PER_PROGRAMME)
        if rows_differ or any(not same(getattr(pa, k), getattr(pb, k)) for k in rest):
            when = min(when, pa.open_t, pb.open_t)
    when = min(when, first_difference(a.rollout_t, a.rollout_share, b.rollout_t, b.rollout_share))
    kw = a.key_worker
    if a.id_fip != b.id_fip:  # identification for the key worker: from its opening
        when = min(when, *(s.programmes[kw].open_t for s in (a, b))) if kw >= 0 else when
    if a.id_new != b.id_new:  # the new approach's identification: where the roll-out has reached
        when = min(when, *(_first_positive(s.rollout_t, s.rollout_share) for s in (a, b)))
    if not same(a.programme_2012, b.programme_2012):  # the councils' rules: from when either first acts
        pa, pb = a.programme_2012, b.programme_2012
        if pa is None or pb is None or pa.names != pb.names:
            return None
        when = min(when, pa.first_t, pb.first_t)
    if not same(a.finance, b.finance):
        fa, fb = a.finance, b.finance
        when = min(when, fa.start_t, fb.start_t, *fa.claim_t, *fb.claim_t)
    return when if math.isfinite(when) or when == math.inf else None
