"""The plot widget every panel uses: textual-plotext's, made unbreakable by its data and
quicker to turn plotext's text into Textual's."""

from __future__ import annotations

import re
from typing import Any

from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import RenderResult
from textual.content import Content, Span
from textual.style import Style
from textual_plotext import PlotextPlot

# plotext writes each run of same-styled cells as escape codes, the run, and a reset
_RUN = re.compile(r"((?:\x1b\[[0-9;]*m)*)([^\x1b]*)")
_CODE = re.compile(r"\x1b\[([0-9;]*)m")
_rich_styles: dict[tuple[str, ...], RichStyle | None] = {}


def ansi_content(ansi: str, ansi_theme: Any = None) -> Content:
    """What Textual makes of `Text.from_ansi(ansi)` (Content.from_rich_text), in a tenth
    of the time: Rich decodes each of the few code sequences a plot uses once, Textual
    converts each of their styles once a render, and each run of cells becomes one span.
    For a 4-series loss plot: 0.6 ms against 6.7 ms (from_ansi, then a style conversion
    per span in from_rich_text)."""
    plain: list[str] = []
    spans: list[Span] = []
    styles: dict[tuple[str, ...], Style | None] = {}
    codes: tuple[str, ...] = ()
    at = 0
    for escapes, run in _RUN.findall(ansi):
        for code in _CODE.findall(escapes):
            codes = () if code in ("", "0") else (*codes, code)
        if not run:
            continue
        plain.append(run)
        if codes:
            if codes not in styles:
                rich = _rich_style(codes)
                styles[codes] = None if rich is None else Style.from_rich_style(rich, ansi_theme)
            style = styles[codes]
            if style is not None:
                spans.append(Span(at, at + len(run), style))
        at += len(run)
    return Content("".join(plain), spans)


def _rich_style(codes: tuple[str, ...]) -> RichStyle | None:
    if codes not in _rich_styles:
        sample = Text.from_ansi("".join(f"\x1b[{code}m" for code in codes) + "x")
        style = sample.spans[0].style if sample.spans else None
        _rich_styles[codes] = style if isinstance(style, RichStyle) else None
    return _rich_styles[codes]


class Plot(PlotextPlot):
    """A PlotextPlot whose failure to draw (plotext overflows on extreme ranges) shows as
    a line of text in the plot instead of taking the app down."""

    def render(self) -> RenderResult:
        try:
            # PlotextPlot.render, with ansi_content for Text.from_ansi
            self._plot.plotsize(self.size.width, self.size.height)
            self._plot._set_size(self.size.width, self.size.height)
            self._plot.theme(self._get_plotext_theme_name(self.app.theme))
            return ansi_content(self._plot.build(), self.app.ansi_theme)
        except (ArithmeticError, ValueError, IndexError, TypeError) as err:
            return Text(f"cannot draw this data ({type(err).__name__})", style="dim")
