"""The panels under the runs list, laid out so that the gradient panel keeps its rows.

The stylesheet gives the top row (loss plot and status column) 45% of the terminal and the
gradient panel the rest, at least GRADS_ROWS. When the runs list grows (it holds up to seven
rows) on a terminal of 36 lines, those two no longer fit: the gradient panel's last lines
went below the fold. Then the top row gives up rows, down to TOP_ROWS, and the status
column scrolls where its panels are taller (as it does at 80x24).
"""

from __future__ import annotations

from textual import events
from textual.containers import VerticalScroll

GRADS_ROWS = 12  # app.tcss, #grads min-height
TOP_ROWS = 14  # the status column's panels at their least: 5 + 5 + 4
SHARE = 0.45  # app.tcss, #top-row min-height: 45vh


class PanelArea(VerticalScroll):
    """Scrolls only when the terminal is smaller than the panels' least sizes."""

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.height)

    def fit(self, height: int) -> None:
        """Cap the top row where it and the gradient panel would not both fit in `height`
        rows; otherwise leave the stylesheet's sizes."""
        top, column = self.query_one("#top-row"), self.query_one("#status-column")
        rows = height - GRADS_ROWS
        if rows >= SHARE * self.screen.size.height:
            for widget in (top, column):
                widget.styles.min_height = widget.styles.max_height = None
            return
        rows = max(TOP_ROWS, rows)
        top.styles.min_height = top.styles.max_height = rows
        column.styles.max_height = rows
