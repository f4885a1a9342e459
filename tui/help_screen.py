"""`?`: every key of the app, read from the bindings themselves so it cannot go stale."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Sections = list[tuple[str, Iterable[BindingType]]]


def key_table(sections: Sections, key_display: Callable[[Binding], str]) -> Table:
    """A table of key -> what it does, one section per screen."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for title, bindings in sections:
        table.add_row(f"[b u]{title}[/]", "")
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            keys = binding.key_display or " ".join(
                key_display(Binding(k.strip(), binding.action)) for k in binding.key.split(","))
            table.add_row(keys, binding.description)
    return table


class HelpScreen(ModalScreen[None]):
    """The key reference; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, sections: Sections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape closes"
            yield Static(key_table(self.sections, self.app.get_key_display))

    def action_close(self) -> None:
        self.dismiss(None)
