"""The model's shipped structures (``calibration/structures.toml``): one answer per structure, and pooled.

Each structure is a scenario extending its own fitted file, answered over its own ensemble
(:func:`flowsim.ensemble.default_path`). A scenario built on one structure runs under another with every value in
which the two structures' scenarios differ, except the values the scenario sets itself (:func:`under`). An answer
over N parameter sets gives each structure with an ensemble its weight's share of the N (:func:`plan`); the pooled
answer is the mixture of their runs, and every measure's variance splits into the parameters, the structure and
chance (:func:`flowsim.summary.structure_split`).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from flowsim import ensemble
from flowsim.errors import FlowsimError

#: Where the shipped structures are listed, in a project.
PATH = Path("calibration/structures.toml")
_FIELDS = {"scenario": str, "label": str, "weight": (int, float)}


class StructureError(FlowsimError):
    """A structures file that cannot be used."""


@dataclass(frozen=True)
class Structure:
    """One shipped structure: its ``name`` (the table's), what sets it apart (``label``), its ``weight`` in the
    pooled answer, and its own scenario."""

    name: str
    label: str
    weight: float
    scenario: object  # flowsim.scenario.Scenario

    @property
    def fitted(self) -> str:
        return self.scenario.calibrated_by[0]


@dataclass(frozen=True)
class Component:
    """A structure's part of an answer: the scenario as run under it and its draw from its ensemble."""

    structure: Structure
    scenario: object
    plan: ensemble.EnsemblePlan
    share: float  # its share of the pooled answer's parameter sets


@dataclass(frozen=True)
class StructuresPlan:
    """An answer over every structure with an ensemble: ``components`` (the scenario's own structure first), and the
    structures left out with why (``missing``: name, reason)."""

    components: tuple[Component, ...]
    missing: tuple[tuple[str, str], ...]
    per_set: int

    @property
    def runs(self) -> int:
        return sum(c.plan.runs for c in self.components)

    @property
    def home(self) -> Component:
        return self.components[0]


def part(c: Component, records: list, missing) -> dict:
    """A structure's runs as :func:`flowsim.summary.summarise_structures` takes them: its name, label, share,
    ``records``, the sets they ran and the ensemble they came from, and the structures left out (``missing``)."""
    return {
        "name": c.structure.name,
        "label": c.structure.label,
        "share": c.share,
        "records": records,
        "members": list(c.plan.members),
        "drawn_from": c.plan.drawn_from,
        "path": c.plan.path,
        "method": c.plan.method,
        "missing": missing,
    }


def find(scenario) -> Path | None:
    """The structures file of the project ``scenario`` belongs to (the nearest folder above it that has one), else
    the working directory's, else None."""
    if scenario.path:
        for folder in Path(scenario.path).resolve().parents:
            if (folder / PATH).is_file():
                return folder / PATH
    return PATH if PATH.is_file() else None


def load(path: Path) -> list[Structure]:
    """The structures listed in ``path``, each with its scenario loaded.

    Raises:
        StructureError: naming the file and the key, for a missing or mistyped field or an unreadable file.
        ScenarioError: from a structure's own scenario file.
    """
    from flowsim.scenario import load_scenario  # here: the scenario package loads pydantic

    try:
        doc = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StructureError(f"{path}: expected a TOML file of structures, found {exc}") from None
    out = []
    for name, table in doc.items():
        if not isinstance(table, dict):
            raise StructureError(f"{path}, key {name}: expected a table [{name}] of a structure, found {table!r}")
        unknown = sorted(set(table) - set(_FIELDS))
        if unknown:
            raise StructureError(f"{path}, key {name}.{unknown[0]}: expected one of {', '.join(_FIELDS)}")
        for field, kind in _FIELDS.items():
            if not isinstance(table.get(field), kind) or isinstance(table.get(field), bool):
                raise StructureError(
                    f"{path}, key {name}.{field}: expected {'a number' if field == 'weight' else 'text'}, "
                    f"found {table.get(field, 'nothing')!r}"
                )
        if not table["weight"] > 0:
            raise StructureError(f"{path}, key {name}.weight: expected a number above 0, found {table['weight']}")
        sc = load_scenario(os.path.relpath(os.path.normpath(Path(path).parent / table["scenario"])))
        if sc.calibrated_by is None:
            raise StructureError(f"{path}, key {name}.scenario: expected a scenario that extends a fitted file, "
                                 f"found {table['scenario']} with none")  # fmt: skip
        out.append(Structure(name, table["label"], float(table["weight"]), sc))
    if not out:
        raise StructureError(f"{path}: expected at least one [structure] table, found none")
    return out


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def home_of(scenario, structures: list[Structure]) -> Structure | None:
    """The structure ``scenario`` is built on: the one whose fitted file it extends."""
    if scenario.calibrated_by is None:
        return None
    return next((s for s in structures if _same_file(s.fitted, scenario.calibrated_by[0])), None)


def under(scenario, home: Structure, other: Structure):
    """``scenario`` (built on ``home``) as it runs under ``other``.

    Every value in which the two structures' scenarios differ takes ``other``'s, unless ``scenario`` sets it to
    something else than ``home`` does (a choice of its own: kept). Every value ``other``'s fitted file sets comes
    from that file, so ``other``'s ensemble reads the scenario as extending its fit.
    """
    from flowsim.scenario import PARAMETERS

    if other is home:
        return scenario
    mine = scenario.calibrated_by[0]
    fitted = {
        k: other.scenario.value(k)
        for k in PARAMETERS
        if other.scenario.origins.get(k) == other.fitted and scenario.origins.get(k, mine) == mine
    }
    structural = {
        k: other.scenario.value(k)
        for k in PARAMETERS
        if k not in fitted
        and other.scenario.value(k) != home.scenario.value(k)
        and scenario.value(k) == home.scenario.value(k)
    }
    where = f"structure {other.name} ({other.scenario.path})"
    moved = scenario.with_values(structural, origin=where).with_values(fitted, origin=other.fitted)
    return replace(moved, calibrated_by=other.scenario.calibrated_by)


def shares(weights: list[float], sets: int) -> list[int]:
    """``sets`` split in proportion to ``weights`` by largest remainder (ties to the first)."""
    total = sum(weights)
    exact = [sets * w / total for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: sets - sum(counts)]:
        counts[i] += 1
    return counts


def home_first(counts: list[int]) -> list[int]:
    """``counts`` with the first (the scenario's own structure, whose point fit runs beside the pool) given at least
    one set, taken from the largest."""
    counts = list(counts)
    if counts[0] == 0 and sum(counts) > 0:
        counts[counts.index(max(counts))] -= 1
        counts[0] = 1
    return counts


def plan(scenario, sets: int, per_set: int | None, seed: int) -> StructuresPlan | None:
    """``sets`` parameter sets split over the shipped structures that have an ensemble, for ``scenario``; None when
    the project lists no structures or ``scenario`` is built on none of them (then its own ensemble answers alone).

    Raises:
        StructureError: for an unusable structures file, or when the scenario's own structure has no ensemble.
    """
    path = find(scenario)
    if path is None:
        return None
    structures = load(path)
    home = home_of(scenario, structures)
    if home is None:
        return None
    ordered = [home] + [s for s in structures if s is not home]
    ready, missing = [], []
    for s in ordered:
        where = ensemble.default_path(s.scenario)
        if not _same_file(str(where.parent), str(Path(s.fitted).parent)):
            missing.append((s.name, f"no ensemble beside {s.fitted} (`flowsim calibrate {s.scenario.path} --out "
                                    f"{s.fitted} --method history-matching`, then `--method posterior`)"))  # fmt: skip
            continue
        ready.append(s)
    if not ready or ready[0] is not home:
        raise StructureError(f"{path}: expected an ensemble for {scenario.path}'s own structure {home.name}, found "
                             f"{missing[0][1]}")  # fmt: skip
    counts = home_first(shares([s.weight for s in ready], sets))
    components = []
    for s, n in zip(ready, counts):
        if n == 0:
            missing.append((s.name, f"its share of {sets} parameter sets rounds to none"))
            continue
        sc = under(scenario, home, s)
        p = ensemble.plan(sc, n, ensemble.default_path(s.scenario), per_set, seed)
        components.append(Component(s, sc, p, n / sets))
    return StructuresPlan(tuple(components), tuple(missing), components[0].plan.per_set)
