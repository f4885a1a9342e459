"""`?`: every key of the app, read from the bindings themselves so it cannot go stale."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.console import Group
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Sections = list[tuple[str, Iterable[BindingType]]]


KEY_WIDTH = 10  # the key column, the same in every section so that they line up


def key_table(sections: Sections, key_display: Callable[[Binding], str]) -> Group:
    """Tables of key -> what it does, one per screen, each under its screen's name."""
    tables = []
    for title, bindings in sections:
        table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), title=title,
                      title_style="bold underline", title_justify="left")
        table.add_column(style="bold", no_wrap=True, min_width=KEY_WIDTH)
        table.add_column()
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            keys = binding.key_display or " ".join(
                key_display(Binding(k.strip(), binding.action)) for k in binding.key.split(","))
            table.add_row(keys, binding.description)
        tables.append(table)
    return Group(*tables)


class HelpScreen(ModalScreen[None]):
    """The key reference, in one or more columns of sections; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, *columns: Sections) -> None:
        super().__init__()
        self.columns = columns

    def compose(self) -> ComposeResult:
        # Side by side, so that every key of the app fits in 80x24 without scrolling.
        grid = Table.grid(padding=(0, 3))
        tables = [key_table(sections, self.app.get_key_display) for sections in self.columns]
        for _ in tables:
            grid.add_column(vertical="top")
        grid.add_row(*tables)
        with VerticalScroll(id="help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape closes"
            yield Static(grid)

    def action_close(self) -> None:
        self.dismiss(None)
