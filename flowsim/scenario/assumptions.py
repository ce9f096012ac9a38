"""The assumption log: every parameter's value, unit and source, and where it was set."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowsim.scenario.loader import Scenario
from flowsim.scenario.registry import PARAMETERS


def value_of(model: Any, dotted: str) -> Any:
    """The value at a dotted path of a parameters model."""
    for part in dotted.split("."):
        model = getattr(model, part)
    return model


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def _source(scenario: Scenario, key: str, source: str) -> str:
    """A calibrated parameter's source names the calibration run that set it."""
    cal = scenario.calibrated_by
    if source == "calibrated" and cal is not None and scenario.origins.get(key) == cal[0]:
        return f"calibrated ({cal[1]})"
    return source


def assumption_log(scenario: Scenario) -> list[dict[str, Any]]:
    """One row per parameter: key, value, unit, source, and the file or --set that set that exact key.

    ``set_in`` is '' and ``line`` None for a registry default; ``line`` is the
    line of ``set_in`` that sets the key (None for an override).
    """
    rows = []
    for key, param in PARAMETERS.items():
        rows.append(
            {
                "key": key,
                "value": _fmt(value_of(scenario.params, key)),
                "unit": param.unit,
                "source": _source(scenario, key, param.source),
                "set_in": scenario.origins.get(key, ""),
                "line": scenario.lines.get(key),
            }
        )
    return rows


def where_set(row: dict[str, Any]) -> str:
    """'scenarios/baseline.toml, line 30', '--set KEY=VALUE', or '' for a registry default."""
    if row.get("line") is not None:
        return f"{row['set_in']}, line {row['line']}"
    return row["set_in"]
