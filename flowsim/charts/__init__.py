"""Publication charts: the style, one module per figure, and drawing a run directory's set.

Importing this package changes nothing in matplotlib: no backend is chosen
and the style applies only while flowsim draws (``charts.common.styled``).
"""

from flowsim.charts.common import ChartMeta, save
from flowsim.charts.run import CHARTS, FIGURES, draw_run_charts, run_meta

__all__ = ["CHARTS", "FIGURES", "ChartMeta", "draw_run_charts", "run_meta", "save"]
