"""The confirmation before `s` stops a run: stopping cannot be undone."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class StopConfirm(ModalScreen[bool]):
    """Ask before sending SIGTERM; `y` stops, `n` or `escape` keeps the run going."""

    BINDINGS = [
        Binding("y", "answer(True)", "Stop the run", id="stop_confirm.yes"),
        Binding("n,escape", "answer(False)", "Keep it", id="stop_confirm.no"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(id="stop-confirm") as box:
            box.border_title = "Stop run"
            yield Static(f"Stop {self.run_id}?\nIt finishes the step it is in, ends "
                         f"'stopped' and keeps its data.")
            with Horizontal(id="stop-buttons"):
                yield Button("Stop (y)", id="stop-yes", variant="error", compact=True)
                yield Button("Keep training (n)", id="stop-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#stop-no", Button).focus()  # enter by reflex should not stop a run

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop-yes")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
