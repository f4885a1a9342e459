"""The plot widget every panel uses: textual-plotext's, made unbreakable by its data."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot


class Plot(PlotextPlot):
    """A PlotextPlot whose failure to draw (plotext overflows on extreme ranges) shows as
    a line of text in the plot instead of taking the app down."""

    def render(self) -> RenderResult:
        try:
            return super().render()
        except (ArithmeticError, ValueError, IndexError, TypeError) as err:
            return Text(f"cannot draw this data ({type(err).__name__})", style="dim")
