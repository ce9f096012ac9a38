"""The self-contained HTML report and the one-page ministerial brief of a run directory."""

from flowsim.report.brief import write_brief
from flowsim.report.html import write_report

__all__ = ["write_brief", "write_report"]
