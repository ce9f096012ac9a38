"""Errors a user can cause. The CLI prints them without a traceback and exits 2."""

from __future__ import annotations


class FlowsimError(Exception):
    """Base class for every error caused by user input."""


class ScenarioError(FlowsimError):
    """A scenario file, parent file or --set override that cannot be used.

    The message names the file, the line, the dotted key, what was expected
    and what was found, e.g.
    ``scenarios/x.toml, line 12, key programmes.key_worker.caseload: expected a
    number >= 1, found 0``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = []
        if file is not None:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if key:
            where.append(f"key {key}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class Interrupted(FlowsimError):
    """Stopped by the user (Ctrl-C or SIGTERM); the message says what was kept. The CLI exits 128 + the signal."""
