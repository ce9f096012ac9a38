"""The Scenario: validated parameters and where each value came from. It pickles and makes validated copies.

A Scenario is what every part of flowsim passes around: the engine compiles
it, replications and sweeps send it to worker processes (or Dask workers,
which need no scenario files), and ``with_values`` makes the variants that
sweeps, solve, calibration and counterfactuals run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from flowsim.errors import ScenarioError
from flowsim.scenario.models import parameters_model, show_value, valid_children
from flowsim.scenario.registry import META_KEYS, PARAMETERS, RETIRED_KEYS, Param

#: Given a dotted key, the file (or origin such as ``--set ...``) and line that set it.
Locator = Callable[[str], tuple[str | None, int | None]]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its parameters and where each value came from.

    Attributes:
        name: the scenario's name (its ``name`` key, or the file's stem).
        description: one line saying what it asks.
        params: the validated parameter model (``params.programmes.key_worker.caseload``).
        origins: dotted parameter path -> the file (or ``--set``, or another origin) that set that
            exact key; parameters left at their registry default are absent.
        overrides: the values set outside the files, in order (``--set`` arguments, ``with_values``).
        path: the scenario file, if it came from one.
        calibrated_by: (file, text) of the calibration run that set the parameters in that file, if any.
        lines: dotted parameter path -> the line of its origin file that sets it.
    """

    name: str
    description: str
    params: BaseModel
    origins: dict[str, str] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    path: str | None = None
    calibrated_by: tuple[str, str] | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def resolved(self) -> dict[str, Any]:
        """The resolved scenario as JSON-ready data (dates as ISO strings)."""
        return {"name": self.name, "description": self.description, **self.params.model_dump(mode="json")}

    @property
    def sha256(self) -> str:
        """SHA-256 of the resolved scenario's canonical JSON."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def value(self, dotted: str) -> Any:
        """The value of parameter ``dotted``."""
        node = self.params
        for part in dotted.split("."):
            node = getattr(node, part)
        return node

    def with_values(self, values: Mapping[str, Any], origin: str = "with_values") -> Scenario:
        """A validated copy with ``values`` (dotted parameter key -> value) set.

        A whole number given for an integer parameter may be a float (``8.0``).

        Raises:
            ScenarioError: naming ``origin`` and the key, for an unknown key, a wrong
                type or a value out of range.
        """
        if not values:
            return self
        doc = self.params.model_dump(mode="python")
        origins, lines = dict(self.origins), dict(self.lines)
        for key, value in values.items():
            param = PARAMETERS.get(key)
            if param is None:
                raise unknown_key_error(key.split("."), origin, None)
            value = _integral(param, value)
            set_dotted(doc, key, value, origin)
            origins[key] = origin
            lines.pop(key, None)
        params = validate(doc, lambda _: (origin, None))
        shown = tuple(f"{k}={show_value(v)}" for k, v in values.items())
        return replace(self, params=params, origins=origins, overrides=self.overrides + shown, lines=lines)

    def __reduce__(self):
        # pydantic's create_model classes cannot be pickled: rebuild from the resolved values.
        state = (
            self.name,
            self.description,
            self.params.model_dump(mode="python"),
            self.origins,
            self.overrides,
            self.path,
            self.calibrated_by,
            self.lines,
        )
        return (_rebuild, state)


def _rebuild(name, description, params, origins, overrides, path, calibrated_by, lines) -> Scenario:
    return Scenario(
        name, description, parameters_model().model_validate(params), origins, overrides, path, calibrated_by, lines
    )


def _integral(param: Param, value: Any) -> Any:
    """A whole float for an integer parameter becomes an int (sweep designs produce floats)."""
    d = param.default
    if isinstance(d, int) and not isinstance(d, bool) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def set_dotted(doc: dict, key: str, value: Any, where: str) -> None:
    node = doc
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: i + 1])
            raise ScenarioError(f"expected {prefix} to be a table, found {show_value(child)}", file=where, key=key)
        node = child
    node[parts[-1]] = value


def validate(doc: dict, locate: Locator) -> BaseModel:
    """Validate a parameters document (meta keys removed); errors name where each key was set.

    Raises:
        ScenarioError: for an unknown key, a wrong type, a value out of range, or two parameters that disagree.
    """
    try:
        params = parameters_model().model_validate(doc)
    except ValidationError as exc:
        raise _to_scenario_error(exc, locate) from None
    _check_consistency(params, locate)
    return params


#: Keys of the 2012 financial framework's money that act only when payment by results is on (``finance.enabled``);
#: its dates and evidence rules act always (they define measure (b) of turned around).
FINANCE_MONEY = ("crime_education_share", "funded_share", "max_per_family_gbp", "progress_share")


#: Keys that act only when more than their own section is on: the switches each also needs.
_ALSO_NEEDS = {
    "programme_2012.records.local.fnp_detection_ratio": ("programmes.family_nurse_partnership.enabled",),
    "population.pilot_share": ("population.pilot_years",),
}


def switch_of(key: str) -> tuple[str, ...]:
    """The switches that must all be on for ``key`` to act: a programme's keys act only when it is enabled, the 2012
    programme's only when it is, payment by results' money only when it is on (and a few keys need a second
    switch: :data:`_ALSO_NEEDS`). Empty for a key that always acts.

    ``tests/test_inert.py`` checks that the model reads every other key, so no key is accepted and ignored.
    """
    parts = key.split(".")
    out: tuple[str, ...] = ()
    if parts[0] == "programmes" and len(parts) > 2 and parts[2] != "enabled":
        out = (f"programmes.{parts[1]}.enabled",)
    elif parts[0] == "programme_2012" and len(parts) > 1 and parts[1] != "enabled":
        out = ("programme_2012.enabled",)
    elif parts[0] == "finance" and len(parts) > 1 and parts[1] in FINANCE_MONEY:
        out = ("finance.enabled",)
    return out + _ALSO_NEEDS.get(key, ())


def param_value(params: Any, dotted: str) -> Any:
    """The value of parameter ``dotted`` in validated parameters."""
    node = params
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def switched_on(params: Any, dotted: str) -> bool:
    """Whether the switch ``dotted`` is on in validated parameters."""
    return bool(param_value(params, dotted))


def set_keys(doc: dict, prefix: str = "") -> list[str]:
    """Every dotted parameter key a parameters document sets (a table's keys, not the table)."""
    out = []
    for k, v in doc.items():
        dotted = f"{prefix}{k}"
        if isinstance(v, dict) and dotted not in PARAMETERS:
            out += set_keys(v, dotted + ".")
        else:
            out.append(dotted)
    return out


def unknown_key_error(loc: list[str], file: str | None, line: int | None) -> ScenarioError:
    """'unknown key; did you mean ...?' for the dotted key ``loc`` (or what replaced it, if it was retired)."""
    dotted = ".".join(loc)
    retired = next(
        (
            why
            for key, why in RETIRED_KEYS.items()
            if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + ".")
        ),
        None,
    )
    if retired is not None:
        return ScenarioError(f"unknown key: it was retired with model v1; {retired}", file=file, line=line, key=dotted)
    parent = tuple(loc[:-1])
    options = valid_children(parent) + ([*META_KEYS] if not parent else [])
    close = difflib.get_close_matches(loc[-1], options, n=1, cutoff=0.5)
    hint = f"; did you mean {'.'.join((*parent, close[0]))!r}?" if close else ""
    valid = ", ".join(options) if options else f"no keys under {'.'.join(parent)} (it is a value, not a table)"
    return ScenarioError(
        f"unknown key{hint} (expected one of: {valid}), found {loc[-1]!r}", file=file, line=line, key=dotted
    )


def _expected(p: Param) -> str:
    d = p.default
    if p.is_schedule:
        rng = f" with values between {p.lo:g} and {p.hi:g}" if p.hi is not None else f" with values >= {p.lo:g}"
        return f"a list of [date, number] pairs in date order{rng} ({p.unit})"
    if isinstance(d, bool):
        return "true or false"
    if isinstance(d, (int, float)):
        kind = "an integer" if isinstance(d, int) else "a number"
        if p.lo is not None and p.hi is not None:
            return f"{kind} between {p.lo:g} and {p.hi:g} ({p.unit})"
        return f"{kind} ({p.unit})"
    if isinstance(d, dt.date):
        return "a date such as 2012-04-01"
    if isinstance(d, list):
        return f"a list of names from {list(p.choices or ())}"
    if p.choices:
        return "one of " + ", ".join(repr(c) for c in p.choices)
    return "a string"


def _to_scenario_error(exc: ValidationError, locate: Locator) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"] if not isinstance(part, int)]
    dotted = ".".join(loc)
    file, line = locate(dotted)
    if err["type"] == "extra_forbidden":
        return unknown_key_error(loc, file, line)
    param = PARAMETERS.get(dotted)
    if param is not None:
        expected = _expected(param)
    elif valid_children(tuple(loc)):
        expected = "a table of settings"
    else:
        expected = err["msg"]
    detail = err["msg"].removeprefix("Value error, ")
    found = show_value(err.get("input"))
    return ScenarioError(f"expected {expected}, found {found} ({detail})", file=file, line=line, key=dotted)


#: The span of dates the model supports. Its inputs (the survey waves, the roll-out, programme capacity,
#: payment by results) describe 2005-2015, and the registry documents runs on to 2020 at most; a run
#: outside these dates would extrapolate every schedule, silently.
EARLIEST_START = dt.date(2000, 1, 1)
LATEST_END = dt.date(2020, 12, 31)


def _check_consistency(params: Any, locate: Locator) -> None:
    """Rules that involve two parameters at once, or the span of dates the model supports."""
    t = params.time
    rules = [
        ("time.start", t.start >= EARLIEST_START, f"a date no earlier than {EARLIEST_START}", t.start),
        (
            "time.end",
            t.end <= LATEST_END,
            f"a date no later than {LATEST_END} (the model's inputs describe 2005-2015 and run on to 2020 at most)",
            t.end,
        ),
        (
            "target.count_families",
            params.target.count_families >= 1,
            "at least 1 family (a target of 0 is met before the run starts)",
            params.target.count_families,
        ),
        ("time.end", t.end > t.start, f"a date after time.start ({t.start})", t.end),
        (
            "time.deadline",
            t.start < t.deadline <= t.end,
            f"a date after time.start and no later than time.end ({t.end})",
            t.deadline,
        ),
        (
            "survey.last_wave",
            params.survey.last_wave <= t.start
            and params.survey.last_wave.day == 1
            and (t.start - params.survey.last_wave).days < 366 * 8
            and params.survey.last_wave.year - params.survey.waves + 1 >= 1999,
            f"the first day of a month on or before time.start ({t.start}), within 8 years of it, with survey.waves "
            f"({params.survey.waves}) yearly waves from 1999 at the earliest (FACS began in 1999)",
            params.survey.last_wave,
        ),
        (
            "programme_2012.enabled",
            not params.programme_2012.enabled or params.programmes.key_worker.enabled,
            "false unless programmes.key_worker.enabled is true (the councils refer the families they attach to "
            "key workers)",
            params.programme_2012.enabled,
        ),
    ]
    for key, ok, expected, found in rules:
        if not ok:
            file, line = locate(key)
            raise ScenarioError(f"expected {expected}, found {show_value(found)}", file=file, line=line, key=key)
