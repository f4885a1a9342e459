"""Questions asked before what cannot be undone: stopping a run (`s`) and deleting one (`d`).
The safe answer has the focus, so an enter typed by reflex changes nothing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class Confirm(ModalScreen[bool]):
    """A yes/no question: `y` does it, `n` or `escape` keeps things as they are."""

    def __init__(self, title: str, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.title_text, self.question, self.yes, self.no = title, question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="confirm") as box:
            box.border_title = self.title_text
            yield Static(self.question)
            with Horizontal(classes="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class StopConfirm(Confirm):
    """Before SIGTERM: the run finishes its step, ends `stopped` and keeps its data."""

    BINDINGS = [
        Binding("y", "answer(True)", "Stop the run", id="stop_confirm.yes"),
        Binding("n,escape", "answer(False)", "Keep it", id="stop_confirm.no"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__("Stop run", f"Stop {run_id}?\nIt finishes the step it is in, ends "
                         f"'stopped' and keeps its data.", "Stop", "Keep training")


class DeleteConfirm(Confirm):
    """Before a run's folder goes, with its events, checkpoint and log."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete the run", id="delete_confirm.yes"),
        Binding("n,escape", "answer(False)", "Keep it", id="delete_confirm.no"),
    ]

    def __init__(self, run_id: str, folder: str) -> None:
        super().__init__("Delete run", f"Delete {run_id}?\nIts folder goes, with its events, "
                         f"checkpoint and log:\n{folder}", "Delete", "Keep it")
