"""Pydantic models generated from the parameter registry.

One model per table of the scenario file; every model forbids unknown keys,
every field carries its registry bounds, and validation is strict (a string
is never silently turned into a number).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from flowsim.scenario.registry import PARAMETERS, Param


def show_value(value: Any) -> str:
    """A value as a user wrote it in TOML: dates as 2012-04-01, strings quoted, lists in brackets (never a Python repr)."""
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_bare(k)} = {show_value(v)}" for k, v in value.items()) + "}"
    return repr(value)  # numbers, and strings quoted with their newlines escaped: a message stays one line


def _bare(key: Any) -> str:
    return key if isinstance(key, str) and key.replace("_", "").replace("-", "").isalnum() else repr(key)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _schedule_validator(p: Param):
    """Check ``[[date, number], ...]``: dates strictly increasing, numbers within bounds."""

    def check(value: Any) -> list[tuple[dt.date, float]]:
        if not isinstance(value, list):
            raise ValueError("a list of [date, number] pairs")
        out = []
        for item in value:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise ValueError(
                    f"a list of [date, number] pairs, e.g. [[2011-04-01, 500]]; got item {show_value(item)}"
                )
            day, number = item
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise ValueError(f"a date such as 2011-04-01 as the first item of each pair; got {show_value(day)}")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
                raise ValueError(f"a number as the second item of each pair; got {show_value(number)}")
            if (p.lo is not None and number < p.lo) or (p.hi is not None and number > p.hi):
                raise ValueError(f"values between {p.lo:g} and {p.hi:g}; got {show_value(number)}")
            out.append((day, float(number)))
        dates = [d for d, _ in out]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("schedule dates in strictly increasing order")
        return out

    return check


def _number_type(p: Param, base: type) -> Any:
    return Annotated[base, Field(ge=p.lo, le=p.hi)]


def field_type(p: Param) -> Any:
    """The pydantic type of one registry parameter."""
    d = p.default
    if p.is_schedule:
        return Annotated[list[tuple[dt.date, float]], BeforeValidator(_schedule_validator(p)), Field(strict=False)]
    if isinstance(d, bool):
        return bool
    if isinstance(d, int):
        return _number_type(p, int)
    if isinstance(d, float):
        # Strict floats accept an integer literal (caseload = 7) but not "7" or true.
        return Annotated[float, Field(ge=p.lo, le=p.hi), AfterValidator(_finite)]
    if isinstance(d, dt.date):
        return dt.date
    if isinstance(d, str):
        return Literal[p.choices] if p.choices else str  # type: ignore[valid-type]
    if isinstance(d, list):
        item = Literal[p.choices] if p.choices else str  # type: ignore[valid-type]
        return list[item]
    raise TypeError(f"{p.path}: unsupported default {d!r}")


def _finite(x: float) -> float:
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("must be a finite number")
    return x


def _tree() -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for p in PARAMETERS.values():
        node = tree
        *parents, leaf = p.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = p
    return tree


def _build(name: str, node: dict[str, Any]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for key, child in node.items():
        if isinstance(child, Param):
            fields[key] = (field_type(child), child.default)
        else:
            sub = _build(f"{name}_{key}", child)
            fields[key] = (sub, sub())
    return create_model(name, __base__=_Section, **fields)


@lru_cache(maxsize=1)
def parameters_model() -> type[BaseModel]:
    """The model of all parameter sections (time, population, programmes, ...)."""
    return _build("Parameters", _tree())


def valid_children(prefix: tuple[str, ...]) -> list[str]:
    """Keys allowed directly under the dotted ``prefix`` (for 'did you mean')."""
    node: Any = _tree()
    for part in prefix:
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return sorted(node) if isinstance(node, dict) else []
