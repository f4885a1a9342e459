"""`?`: every key of the app, and the command palette's entries for a screen's keys, both
read from the bindings themselves so that neither can go stale."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from rich.console import Group
from rich.table import Table
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
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
            table.add_row(keys_of(binding, key_display), binding.description)
        tables.append(table)
    return Group(*tables)


def keys_of(binding: Binding, key_display: Callable[[Binding], str]) -> str:
    """The binding's keys as the footer shows them (`[`, `space`, `^p`)."""
    return binding.key_display or " ".join(
        key_display(Binding(k.strip(), binding.action)) for k in binding.key.split(","))


def action_help(target: Widget | App[Any], action: str) -> str:
    """The first line of the action method's docstring: what the key does, in a sentence."""
    method = getattr(target, f"action_{action.partition('(')[0]}", None)
    doc = inspect.getdoc(method) if method is not None else None
    return doc.splitlines()[0] if doc else ""


def binding_commands(target: Widget | App[Any], bindings: Iterable[BindingType],
                     key_display: Callable[[Binding], str],
                     titles: dict[str, str] | None = None) -> Iterator[SystemCommand]:
    """A command palette entry per described binding of `target`: the binding's own
    description (or `titles[action]`), its action's docstring and its key, running the
    binding's action."""
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        title = (titles or {}).get(binding.action, binding.description)
        help_text = f"{action_help(target, binding.action)} ({keys_of(binding, key_display)})"
        yield SystemCommand(title, help_text.lstrip(), partial(target.run_action,
                                                                binding.action))


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
