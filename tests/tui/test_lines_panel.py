"""LinesPanel: a redraw that keeps the panel's height lays nothing out; one that changes it
(more lines, or a line that wraps) still resizes the panel on screen."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from dmt_tui.app.lines_panel import LinesPanel


class OnePanel(App[None]):
    CSS = "LinesPanel { height: auto; width: 30; border: round white; padding: 0 1; }"

    def compose(self) -> ComposeResult:
        yield LinesPanel(id="panel")


def on_screen(panel: LinesPanel) -> str:
    return "\n".join(panel.render_line(y).text for y in range(panel.outer_size.height))


async def test_same_height_redraws_skip_the_layout_and_new_heights_resize(
        layout_passes: list[int]) -> None:
    layouts = layout_passes
    app = OnePanel()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(LinesPanel)
        panel.show([Text("epoch 1"), Text("wait 0/5")])
        await pilot.pause()
        assert panel.outer_size.height == 4  # two lines and the border
        before = len(layouts)
        for epoch in range(2, 12):  # what a live run's ticks do: new text, same rows
            panel.show([Text(f"epoch {epoch}"), Text(f"wait {epoch % 5}/5")])
            await pilot.pause()
        assert len(layouts) == before
        assert "epoch 11" in on_screen(panel)  # and the redraws did reach the screen
        panel.show([Text("epoch 12"), Text("wait 1/5"), Text("finished")])
        await pilot.pause()
        assert len(layouts) > before and panel.outer_size.height == 5
        panel.show([Text("a line longer than the twenty-six columns inside the panel")])
        await pilot.pause()
        assert panel.outer_size.height == 5  # one line, wrapped onto three rows
        panel.show([Text("short")])
        await pilot.pause()
        assert panel.outer_size.height == 3
