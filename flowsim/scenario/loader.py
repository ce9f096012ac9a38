"""Read a scenario file: TOML, ``extends`` inheritance, ``--set`` overrides, validation.

Every failure a user can cause becomes a :class:`ScenarioError` naming the
file, the line, the dotted key, what was expected and what was found.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from flowsim.errors import ScenarioError
from flowsim.scenario.registry import META_KEYS, PARAMETERS
from flowsim.scenario.scenario import Scenario, set_dotted, validate

_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Load, merge and validate a scenario file.

    Args:
        path: the TOML scenario file.
        overrides: ``KEY=VALUE`` strings; VALUE is a TOML literal (``7``, ``0.5``,
            ``"text"``, ``2012-04-01``, ``[[2011-04-01, 500]]``).

    Raises:
        ScenarioError: for malformed TOML, a missing or cyclic parent, an
            unknown key, a wrong type, a value out of range or a bad override.
    """
    path = Path(path)
    doc, origins, lines = _read_chain(path, ())
    for text in overrides:
        key, value = parse_override(text)
        set_dotted(doc, key, value, where=f"--set {text}")
        origins[key] = f"--set {text}"
        lines[(f"--set {text}", key)] = None
    meta = {k: doc.pop(k) for k in list(doc) if k in META_KEYS}
    for key in ("name", "description", "calibrated_by"):
        if key in meta and not isinstance(meta[key], str):
            file, line = _locate(key, origins, lines)
            raise ScenarioError(f"expected a string, found {meta[key]!r}", file=file, line=line, key=key)
    params = validate(doc, lambda dotted: _locate(dotted, origins, lines))
    leaf_origins = {p: origins[o] for p in PARAMETERS if (o := _origin_key(p, origins))}
    return Scenario(
        name=meta.get("name", path.stem),
        description=meta.get("description", ""),
        params=params,
        origins=leaf_origins,
        overrides=tuple(overrides),
        path=str(path),
        calibrated_by=(origins["calibrated_by"], meta["calibrated_by"]) if "calibrated_by" in meta else None,
    )


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` and parse VALUE as a TOML literal.

    Raises:
        ScenarioError: if there is no ``=``, the key is not dotted words, or
            the value is not a TOML literal.
    """
    where = f"--set {text}"
    if "=" not in text:
        raise ScenarioError(f"expected KEY=VALUE, found {text!r}", file=where)
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or not all(_KEY_PART.match(part) for part in key.split(".")):
        raise ScenarioError(f"expected a dotted key such as programmes.key_worker.caseload, found {key!r}", file=where)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            f'expected a TOML literal such as 7, 0.5, true, "text", 2012-04-01 or [[2011-04-01, 500]], found {raw!r}',
            file=where,
            key=key,
        ) from None
    return key, value


def _read_chain(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str], dict]:
    """Read ``path`` and its ``extends`` parents; return merged doc, origins and key lines."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(f"expected no cycle in 'extends', found {cycle}", file=str(path), key="extends")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("expected an existing scenario file, found no such file", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"expected a readable UTF-8 TOML file, found {exc.__class__.__name__}", file=str(path)
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError(f"expected valid TOML, found a syntax error: {msg}", file=str(path), line=line) from None
    key_lines = {(str(path), k): n for k, n in _key_lines(text).items()}
    here = _flatten_origins(doc, str(path))
    parent = doc.pop("extends", None)
    if parent is None:
        return doc, here, key_lines
    if not isinstance(parent, str):
        raise ScenarioError(
            f"expected a file name string, found {parent!r}",
            file=str(path),
            line=key_lines.get((str(path), "extends")),
            key="extends",
        )
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(
            f"expected an existing parent file, found no file at {parent_path}",
            file=str(path),
            line=key_lines.get((str(path), "extends")),
            key="extends",
        )
    base, origins, base_lines = _read_chain(parent_path, (*chain, resolved))
    _deep_merge(base, doc)
    origins.update(here)
    base_lines.update(key_lines)
    return base, origins, base_lines


def _deep_merge(base: dict, child: dict) -> None:
    """Merge ``child`` into ``base``: tables merge, everything else (arrays too) is replaced."""
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _flatten_origins(doc: dict, file: str, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        out[dotted] = file
        if isinstance(value, dict):
            out.update(_flatten_origins(value, file, dotted + "."))
    return out


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Map each dotted key (and table header) in a TOML text to its 1-based line."""
    out: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            parts = [p.strip().strip("\"'") for p in header.group(1).split(".")]
            table = ".".join(parts)
            for n in range(1, len(parts) + 1):
                out.setdefault(".".join(parts[:n]), number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            key = ".".join(p.strip().strip("\"'") for p in assign.group(1).split("."))
            out.setdefault(f"{table}.{key}" if table else key, number)
    return out


def _origin_key(dotted: str, origins: dict[str, str]) -> str | None:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in origins:
            return candidate
    return None


def _locate(dotted: str, origins: dict[str, str], lines: dict) -> tuple[str | None, int | None]:
    """The file and line that set ``dotted`` (or its nearest enclosing table)."""
    okey = _origin_key(dotted, origins)
    if okey is None:
        return None, None
    file = origins[okey]
    parts = okey.split(".")
    for n in range(len(parts), 0, -1):
        line = lines.get((file, ".".join(parts[:n])))
        if line is not None:
            return file, line
    return file, None
