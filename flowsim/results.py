"""What one replication produced: the engine's output, as plain arrays.

Reading a run needs this type, never the engine: it imports neither numba nor simpy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np


@dataclass
class Results:
    """Everything one replication produced, as arrays. Pure data: no I/O.

    Times are model years from the scenario's start; ``boundary_t`` are the
    month boundaries (plus the deadline and the end) at which states and
    programme queues were observed.
    """

    seed: int
    start: dt.date
    t_start: float
    t_end: float
    t_deadline: float
    deadline: dt.date  # inclusive
    scale: float
    target_count: float
    programme_names: list[str]
    boundary_t: np.ndarray
    boundary_states: np.ndarray  # (B, 6) families by state code (engine.codes: G R H S, 4 unused, left)
    boundary_programmes: np.ndarray  # (B, P, 3) capacity occupied waiting
    flows: tuple[np.ndarray, ...]  # t, from, to, cause, weight
    programme_events: tuple[np.ndarray, ...]  # programme, t, kind
    waits: tuple[np.ndarray, ...]  # programme, arrived, started
    triggers: np.ndarray  # trigger events by kind (registry_problems.EVENT_NAMES order) over the run
    waves: np.ndarray  # uint16 bitmask of survey waves at risk, per family recorded at the last wave
    wave_count: int
    wave_t: np.ndarray  # the survey waves (model years; the first is t_start)
    present_waves: np.ndarray  # uint16 bitmask of waves each family of ``waves`` was in the population
    stock_waves: np.ndarray  # uint16 bitmask of waves each family of ``waves`` was in the stock
    survey_onsets: np.ndarray  # spells of each child problem (registry_problems.CHILD) begun over the survey window
    # Families in the stock at a month boundary of the survey window and not at the one before, by their state
    # code at the one before (engine.codes; OUTSIDE for rows that were not families then): entries as the monthly
    # census sees them, without the stays and gaps shorter than a month that ``flows`` also counts.
    census_entries: np.ndarray
    attrition: tuple[float, float]  # the survey panel's yearly attrition (families not at risk, at risk)
    in_start_stock: np.ndarray  # bool per family
    key_worker_received: np.ndarray  # bool per family
    families_tracked: int
    events: int
    attached_t: np.ndarray  # attachment times of attached families (years)
    attached_year: np.ndarray  # their programme year (index into finance.attachment_share)
    claims: tuple[np.ndarray, ...]  # results claims: t, route bit, programme year, family key
    finance: bool
    cause_names: tuple[str, ...]  # names of the flow causes
    problem_names: tuple[str, ...]
    boundary_problems: np.ndarray  # (B, NP) families with each problem (weighted)
    class_names: tuple[str, ...]
    boundary_classes: np.ndarray  # (B, C) families in each classification
    target_population: str
    successes: tuple[np.ndarray, ...]  # turned around: t, origin state, programme, family key
    outcomes: tuple[np.ndarray, ...]  # interventions ended: programme, t, problems at start, at end, completed
    family_weight: np.ndarray  # families each entry of the per-family arrays (waves) stands for
    replication: int | None = None
    # The councils' administration of the 2012 programme (engine.administration.Administration.results).
    programme_2012: dict | None = None


@dataclass
class Replication:
    """One replication as a run directory is written from it: its summary and its tables (picklable, for workers).

    Attributes:
        replication: its index (None: the root seed's own streams).
        summary: what :func:`flowsim.measures.summary` says of it, with what the replication adds (finance,
            additional, the 2012 programme).
        tables: table name -> column name -> values; empty when a sweep keeps only the summary.
    """

    replication: int | None
    summary: dict
    tables: dict
