"""What a person reads: the self-contained HTML report, the one-page brief and the terminal's text."""

from __future__ import annotations

from pathlib import Path

from flowsim.report.brief import write_brief
from flowsim.report.html import write_report

__all__ = ["write_brief", "write_documents", "write_report"]


def write_documents(run_dir: Path) -> Path:
    """Draw a run directory's charts and write its ``brief.pdf`` and ``report.html``; return the report's path.

    Raises:
        FlowsimError: if ``run_dir`` is not a complete run directory.
    """
    from flowsim.charts import draw_run_charts
    from flowsim.rundir import RunDirectory

    run = RunDirectory(run_dir)
    charts = draw_run_charts(run)
    write_brief(run)
    return write_report(run, charts)
