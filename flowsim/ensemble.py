"""The calibrated ensemble (``calibration/ensemble.parquet``): weighted parameter sets.

Written by ``flowsim calibrate SCENARIO --method posterior`` (:mod:`flowsim.calibrate.posterior`: importance
weights) or ``--method history-matching`` (:mod:`flowsim.calibrate.history_matching`: equal weights over what the
targets cannot rule out); read here by ``flowsim run ... --ensemble N``.
Each row is a member: its weight, whether it is the point fit the baseline
extends, and a value for every calibrated parameter (one column per key).
Columns ``measure:<target>`` hold what the member simulated on its own seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowsim.errors import FlowsimError

#: Where ``flowsim calibrate --method history-matching`` writes the ensemble, and ``--ensemble`` reads it.
DEFAULT_PATH = Path("calibration/ensemble.parquet")
#: Replications of each parameter set drawn by ``--ensemble``: two, so the variance splits into parameter and chance.
REPLICATIONS_PER_SET = 2


class EnsembleError(FlowsimError):
    """An ensemble file that cannot be used."""


@dataclass(frozen=True)
class Ensemble:
    path: str
    keys: tuple[str, ...]
    values: np.ndarray  # members x keys
    weights: np.ndarray  # sums to 1
    point_fit: int  # the row of the point fit
    meta: dict

    def __len__(self) -> int:
        return len(self.weights)

    def member(self, i: int) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.keys, self.values[i])}

    def draw(self, n: int, seed: int) -> list[int]:
        """``n`` members drawn by weight (the same for the same seed).

        Equal weights (history matching's box): without replacement while the ensemble lasts. Unequal weights (a
        posterior's importance weights): systematic resampling, so each member is drawn ``n`` times its weight
        give or take one, and a member carrying much of the posterior is drawn more than once.
        """
        rng = np.random.default_rng([seed, 7_919])
        if np.ptp(self.weights) == 0:
            rows: list[int] = []
            while len(rows) < n:
                k = min(n - len(rows), len(self))
                rows += [int(i) for i in rng.choice(len(self), size=k, replace=False, p=self.weights)]
            return rows
        positions = (rng.random() + np.arange(n)) / n
        rows = np.searchsorted(np.cumsum(self.weights), positions, side="right")
        return [int(i) for i in rng.permutation(np.minimum(rows, len(self) - 1))]


def default_path(scenario) -> Path:
    """The ensemble a scenario is answered over by default: the one beside the fitted file it extends, if that
    folder has one (each structure's fit and ensemble share a folder: ``calibration/clockwork/``); else
    :data:`DEFAULT_PATH` in the project the scenario file belongs to (the nearest folder above it that has one), so
    a command works from any directory; else :data:`DEFAULT_PATH` from the working directory (which :func:`load`
    then names if it is missing)."""
    fitted = scenario.calibrated_by[0] if scenario.calibrated_by else ""
    beside = Path(fitted).resolve().parent / DEFAULT_PATH.name if fitted else None
    if beside is not None and beside.is_file():
        return beside
    if scenario.path:
        for folder in Path(scenario.path).resolve().parents:
            if (folder / DEFAULT_PATH).is_file():
                return folder / DEFAULT_PATH
    return DEFAULT_PATH


def load(path: str | Path = DEFAULT_PATH) -> Ensemble:
    """Read an ensemble written by the history matching.

    Raises:
        EnsembleError: naming the file, when it is missing or not an ensemble.
    """
    import pandas as pd  # import time: pandas loads only to read tables

    path = Path(path)
    if not path.exists():
        raise EnsembleError(
            f"{path}: expected the calibrated ensemble, found no such file "
            "(flowsim calibrate scenarios/baseline.toml --method history-matching writes it)"
        )
    try:
        frame = pd.read_parquet(path)
        meta = json.loads(path.with_suffix(".json").read_text())
        keys = tuple(meta["parameters"])
        values = frame[list(keys)].to_numpy(float)
        weights = frame["weight"].to_numpy(float)
        point = int(np.flatnonzero(frame["point_fit"].to_numpy(bool))[0])
    except (OSError, KeyError, ValueError, IndexError, json.JSONDecodeError) as exc:
        raise EnsembleError(
            f"{path}: expected an ensemble with its {path.with_suffix('.json').name}, found {exc}"
        ) from None
    return Ensemble(str(path), keys, values, weights / weights.sum(), point, meta)


def members_for(scenario, ensemble: Ensemble, n: int, seed: int) -> tuple[list[dict[str, float]], list[str]]:
    """``n`` members' values to run ``scenario`` with, and the calibrated keys the scenario sets itself.

    A key the scenario sets itself (a policy, a sensitivity: set anywhere but its fitted file) or whose value is
    not the point fit's was chosen on purpose: the scenario keeps it, and every member runs with it. Set to the
    point fit's own value (an effect of exactly 1, say), it is still the scenario's.
    """
    point = ensemble.member(ensemble.point_fit)
    fitted = scenario.calibrated_by[0] if scenario.calibrated_by else None
    own = [
        k
        for k, v in point.items()
        if scenario.origins.get(k, fitted) != fitted or not np.isclose(float(scenario.value(k)), v, rtol=1e-5, atol=0)
    ]
    _check_drawn_for(scenario, ensemble, point, own)
    rows = ensemble.draw(n, seed)
    members = [{k: v for k, v in ensemble.member(r).items() if k not in own} for r in rows]
    return members, own


def _check_drawn_for(scenario, ensemble: Ensemble, point: dict[str, float], own: list[str]) -> None:
    """Refuse an ensemble drawn around another fit than the one ``scenario`` extends.

    A value that differs from the ensemble's point fit and comes from the scenario's fitted file (its
    ``calibrated_by``) is not a choice the scenario made: the fit was redone, or the scenario is another
    structure with its own fit. Running the members would keep the new fit's value for every such key, so
    the ensemble would silently shrink to the point fit.

    Raises:
        EnsembleError: naming both files, the run and an example key.
    """
    fitted = scenario.calibrated_by[0] if scenario.calibrated_by else None
    stale = [k for k in own if fitted is not None and scenario.origins.get(k) == fitted]
    if not stale:
        return
    k = stale[0]
    shown = os.path.normpath(fitted)
    raise EnsembleError(
        f"{ensemble.path}: expected an ensemble drawn around the fit {scenario.path or 'the scenario'} extends "
        f"({shown}, {scenario.calibrated_by[1]}), found one drawn around another ({len(stale)} calibrated values "
        f"differ, e.g. {k} {float(scenario.value(k)):.6g} against {point[k]:.6g}); draw this fit's ensemble beside "
        f"it with `flowsim calibrate {scenario.path or 'SCENARIO'} --out {shown} --method history-matching`, then "
        "`--method posterior`"
    )


@dataclass(frozen=True)
class EnsemblePlan:
    """What an answer over the ensemble runs: ``per_set`` replications at each of ``members`` (each a parameter
    set's values), drawn from the ``drawn_from`` members of the ensemble at ``path``; the point fit's values, to run
    beside them; and ``own``, the calibrated keys the scenario sets itself (every member runs with them)."""

    members: tuple[dict[str, float], ...]
    per_set: int
    drawn_from: int
    path: str
    point_fit: dict[str, float]
    own: tuple[str, ...]
    method: str = ""  # how the ensemble was drawn: "posterior" or "history matching"

    @property
    def runs(self) -> int:
        return len(self.members) * self.per_set


def plan(scenario, sets: int, path: str | Path | None, per_set: int | None, seed: int) -> EnsemblePlan:
    """``sets`` members drawn from the ensemble at ``path`` (default :func:`default_path`), ``per_set`` replications
    each (default :data:`REPLICATIONS_PER_SET`), for ``scenario``.

    Raises:
        EnsembleError: naming the file, when it is missing or not an ensemble.
    """
    ensemble = load(path or default_path(scenario))
    members, own = members_for(scenario, ensemble, sets, seed)
    point = {k: v for k, v in ensemble.member(ensemble.point_fit).items() if k not in own}
    drawn_from = int(np.count_nonzero(ensemble.weights))  # a posterior keeps its point fit with weight 0
    method = str(ensemble.meta.get("method", "")).split(":")[0]
    return EnsemblePlan(
        tuple(members), per_set or REPLICATIONS_PER_SET, drawn_from, ensemble.path, point, tuple(own), method
    )
