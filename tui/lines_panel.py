"""A panel of a few lines of text that redraws often without a layout pass each time."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static


class LinesPanel(Static):
    """A Static that shows whole lines and asks Textual for a layout only when its height
    may change: `Static.update` lays out the whole screen every time, which for the
    early-stopping and progress panels, redrawn at every tick of a live run, cost more than
    redrawing them (a 120x36 monitor's layout pass takes about 5 ms)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._rows: int | None = None  # rows the last lines took; None: unknown or wrapped

    def show(self, lines: list[Text]) -> None:
        """Draw `lines`; lay out again when their number changed or one is wider than the
        panel (it wraps, and how many rows that takes is Rich's business)."""
        width = self.content_size.width
        rows = len(lines) if width and all(line.cell_len <= width for line in lines) else None
        self.update(Group(*lines), layout=rows is None or rows != self._rows)
        self._rows = rows
