"""Publication charts: the style sheet, one function per figure, and drawing a run directory's set."""

from flowsim.charts.common import ChartMeta, save
from flowsim.charts.run_charts import draw_run_charts

__all__ = ["ChartMeta", "draw_run_charts", "save"]
