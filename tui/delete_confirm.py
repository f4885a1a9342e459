"""The confirmation before `d` deletes a run: its folder goes, and nothing brings it back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class DeleteConfirm(ModalScreen[bool]):
    """Ask before deleting a run's folder; `y` deletes, `n` or `escape` keeps it."""

    BINDINGS = [
        Binding("y", "answer(True)", "Delete the run", id="delete_confirm.yes"),
        Binding("n,escape", "answer(False)", "Keep it", id="delete_confirm.no"),
    ]

    def __init__(self, run_id: str, folder: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(id="delete-confirm") as box:
            box.border_title = "Delete run"
            yield Static(f"Delete {self.run_id}?\nIts folder goes, with its events, "
                         f"checkpoint and log:\n{self.folder}")
            with Horizontal(id="delete-buttons"):
                yield Button("Delete (y)", id="delete-yes", variant="error", compact=True)
                yield Button("Keep it (n)", id="delete-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#delete-no", Button).focus()  # enter by reflex should not delete

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "delete-yes")

    def action_answer(self, delete: bool) -> None:
        self.dismiss(delete)
