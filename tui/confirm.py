"""Questions asked before acting: stopping a run (`s`) and deleting one (`d`), where the safe
answer has the focus so an enter typed by reflex changes nothing; resuming one (`R`), for how
many epochs; what to export (`e`); a run's title and note (`r`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from dmt_tui.presets.schema import SCHEMA


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


class ExportDialog(ModalScreen[list[str] | None]):
    """Before `e` writes: which runs (named, so a marked run elsewhere in the list is no
    surprise) and which formats; parquet and tensorboard are offered where installed."""

    BINDINGS = [
        Binding("enter", "answer(True)", "Export", priority=True, id="export_dialog.yes"),
        Binding("escape", "answer(False)", "Cancel", id="export_dialog.no"),
    ]

    def __init__(self, what: str, run_ids: list[str], out_dir: str,
                 formats: list[tuple[str, bool, str]]) -> None:
        """`formats`: (name, installed, what installs it) for each format offered."""
        super().__init__()
        self.what, self.run_ids, self.out_dir, self.formats = what, run_ids, out_dir, formats

    def compose(self) -> ComposeResult:
        listed = self.run_ids[:8] + ([f"and {len(self.run_ids) - 8} more"]
                                     if len(self.run_ids) > 8 else [])
        with Vertical(classes="confirm", id="export-dialog") as box:
            box.border_title = "Export"
            yield Static(f"{self.what}:\n" + "\n".join(f"  {r}" for r in listed)
                         + f"\ninto {self.out_dir}")
            yield SelectionList[str](
                *[Selection(name if installed else f"{name} ({hint})", name,
                            initial_state=installed and name in ("csv", "jsonl"),
                            disabled=not installed)
                  for name, installed, hint in self.formats], id="export-formats")
            yield Static("space ticks a format · enter exports · esc cancels",
                         classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_answer(self, yes: bool) -> None:
        chosen = list(self.query_one(SelectionList).selected) if yes else None
        if chosen == []:
            self.notify("tick a format with space first", severity="warning")
            return
        self.dismiss(chosen)


class RunNoteDialog(ModalScreen[tuple[str, str] | None]):
    """`r`: a title shown in place of the run's id, and a note shown in the Run panel; both
    kept in the run folder's meta.json and exported as `title` and `note`."""

    BINDINGS = [
        Binding("enter", "save", "Save", priority=True, id="run_note.save"),
        Binding("escape", "cancel", "Cancel", id="run_note.cancel"),
    ]

    def __init__(self, run_id: str, title: str, note: str) -> None:
        super().__init__()
        self.run_id, self.title_text, self.note = run_id, title, note

    def compose(self) -> ComposeResult:
        with Vertical(classes="confirm", id="note-dialog") as box:
            box.border_title = f"Name and note · {self.run_id}"
            yield Static("title (empty: the run id)")
            yield Input(self.title_text, id="note-title", compact=True)
            yield Static("note")
            yield Input(self.note, id="note-text", compact=True)
            yield Static("tab next field · enter saves · esc cancels", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#note-title", Input).focus()

    def action_save(self) -> None:
        self.dismiss((self.query_one("#note-title", Input).value,
                      self.query_one("#note-text", Input).value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ResumeConfirm(ModalScreen[int | None]):
    """Before `R` starts an ended run's trainer again, in its own folder: asks for the epochs
    to train in all, as `--set train.epochs=N` gives them on the command line. `y` or enter
    resumes (the answer is the epochs), `n` or escape keeps the run as it is (None)."""

    BINDINGS = [
        # priority: checked before the focused field, which takes digits only (EpochsInput)
        Binding("y", "resume", "Resume the run", priority=True, id="resume_confirm.yes"),
        Binding("n,escape", "keep", "Keep it", priority=True, id="resume_confirm.no"),
    ]

    def __init__(self, run_id: str, state: str, epoch: int, epochs: int, wanted: int) -> None:
        """`epoch`: the epochs trained; `epochs`: the planned total; `wanted`: the field's
        first value."""
        super().__init__()
        self.epoch, self.wanted = epoch, wanted
        self.question = (f"Resume {run_id} ({state} at epoch {epoch} of {epochs})?\nIt trains "
                         f"on in its own folder from its last.pt (saved between epochs at most "
                         f"every 5 s, and at its end); its events go on after a 'resume' mark.")

    def compose(self) -> ComposeResult:
        with Vertical(classes="confirm") as box:
            box.border_title = "Resume run"
            yield Static(self.question)
            with Horizontal(id="resume-epochs-row"):
                yield Static("epochs in all ", classes="dialog-label")
                yield EpochsInput(str(self.wanted), restrict=r"[0-9]*", max_length=9,
                                  id="resume-epochs", compact=True)
            yield Static("", id="resume-problem")
            with Horizontal(classes="confirm-buttons"):
                yield Button("Resume (y)", id="yes", variant="error", compact=True)
                yield Button("Keep it (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#resume-epochs", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_resume()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#resume-problem", Static).update("")  # it spoke of the old value

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_resume()
        else:
            self.action_keep()

    def action_resume(self) -> None:
        """Resume with the epochs in the field, or say in the dialog why they cannot be."""
        text = self.query_one("#resume-epochs", Input).value.strip()
        problem = epochs_problem(text, self.epoch)
        if problem:
            self.query_one("#resume-problem", Static).update(problem)
            return
        self.dismiss(int(text))

    def action_keep(self) -> None:
        self.dismiss(None)


class EpochsInput(Input):
    """A field of digits that leaves every other printable key to the dialog's bindings (an
    Input claims them all, so `y` and `n` would never reach the dialog)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character.isdigit()


def epochs_problem(text: str, trained: int) -> str | None:
    """Why `text` cannot be a resumed run's epochs in all, in one line, or None when it can:
    a whole number above the epochs already trained, within the preset schema's bound."""
    accepted = f"epochs: a whole number above {trained}, the epochs already trained"
    if not (text.isascii() and text.isdigit()) or int(text) <= trained:
        return accepted
    key = SCHEMA["train"]["epochs"]
    try:
        key.check(int(text))
    except ValueError:
        return f"{accepted} (train.epochs: {key.allowed})"
    return None
