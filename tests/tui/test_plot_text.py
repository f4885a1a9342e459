"""dmt_tui.app.plot.ansi_content against what Textual makes of Rich's Text.from_ansi, cell by cell,
on what plotext draws for the panels: braille lines on two y axes, bars, scatter markers,
titles and log ticks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import plotext
import pytest
from rich.text import Text
from textual.content import Content

from dmt_tui.app.plot import ansi_content

XS = list(range(1, 120))


def lines(plt: Any) -> None:
    plt.title("loss")
    plt.xlabel("epoch")
    for k, color in enumerate(("cyan", "orange", "green", "blue")):
        plt.plot(XS, [math.sin(x / 9 + k) for x in XS], color=color, marker="braille",
                 yside="right" if k > 1 else "left")


def bars(plt: Any) -> None:
    # as the gradient panel draws: centres in log10 units, ticks labelled by hand
    plt.bar([-3 + i / 6 for i in range(24)], [abs(12 - i) for i in range(24)], width=0.15,
            color="magenta")
    plt.xticks([-3.0, -2.0, -1.0], ["1e-3", "1e-2", "1e-1"])
    plt.scatter([-2.5], [5], color="red", marker="●")


def log_ticks(plt: Any) -> None:
    plt.plot(XS, [-3 + x / 40 for x in XS], color="cyan", marker="braille")
    plt.yticks([-3.0, -2.0, -1.0, 0.0], ["1e-3", "1e-2", "1e-1", "1e0"])


def cells(content: Content) -> list[tuple[str, Any]]:
    return [(char, segment.style) for segment in content.render_segments()
            for char in segment.text]


@pytest.mark.parametrize("draw", [lines, bars, log_ticks])
@pytest.mark.parametrize("theme", ["default", "dark", "clear"])
def test_ansi_content_reads_plotext_as_textual_does(draw: Callable[[Any], None],
                                                     theme: str) -> None:
    plt = plotext.plt if hasattr(plotext, "plt") else plotext
    plt.clear_figure()
    plt.theme(theme)
    plt.plotsize(70, 22)
    draw(plt)
    ansi = plt.build()
    assert "\x1b[" in ansi or theme == "clear"
    ours, textuals = ansi_content(ansi), Content.from_rich_text(Text.from_ansi(ansi))
    assert ours.plain == textuals.plain
    assert cells(ours) == cells(textuals)
