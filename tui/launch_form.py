"""The new-run form (`n`): pick a preset, change what people vary, launch with `enter`.

Values go through `presets.load_preset` with `--set`-style overrides, the same validation as
a preset file and `dmt-tui train --set`; every invalid value is shown beside its field at
once and nothing starts. A run launched with changes is named after them (`xor-sgd.lr-10`).

Keys typed faster than the app handles them keep their order: Textual hands a key to the
widget focused when the key *arrives*, so in a burst `tab 1 0 0` the digits reached the
preset list before the tab had moved the focus. The form's own keys (tab, shift+tab, enter,
the preset list's moves) are priority bindings, run as the key arrives, so the focus and the
fields are where they should be before the next key is handed on.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, OptionList, Select, Static
from textual.widgets._select import SelectOverlay
from textual.widgets.option_list import Option

from dmt_tui import rundir
from dmt_tui.app.activation_preview import ActivationPreview
from dmt_tui.app.launch_fields import (
    FIELDS,
    Field,
    changed_name,
    check_csv,
    error_field,
    field_error,
    field_value,
    override,
    parse_processes,
    same_value,
)
from dmt_tui.app.schedule_preview import SchedulePreview
from dmt_tui.presets import PresetInfo, list_presets, load_preset
from dmt_tui.presets.schema import ACTIVATIONS, ConfigError
from dmt_tui.rundir.launch import launch

__all__ = ["FIELDS", "Field", "LaunchForm", "Launched", "error_field", "override"]

# The preset list's keys, run as they arrive while the list has the focus (see above).
PRESET_MOVES = {"up": "cursor_up", "down": "cursor_down", "home": "first", "end": "last",
                "pageup": "page_up", "pagedown": "page_down"}


PREVIEW_MIN_HEIGHT = 30  # terminal rows from which the form shows its two plots


@dataclass(frozen=True)
class Launched:
    """What the form hands back: the new run's folder and its trainer process."""

    run_dir: Path
    process: subprocess.Popen[bytes]


class LaunchForm(ModalScreen[Launched | None]):
    """The new-run form."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="launch_form.cancel"),
        # Priority: enter launches from any field, a choice field too (space or down opens
        # its list; while a list is open enter picks from it).
        Binding("enter", "launch", "Launch", priority=True, id="launch_form.launch"),
        Binding("tab", "next_field", "Next field", show=False, priority=True,
                id="launch_form.next_field"),
        Binding("shift+tab", "previous_field", "Previous field", show=False, priority=True,
                id="launch_form.previous_field"),
        *[Binding(key, f"move_preset('{move}')", show=False, priority=True)
          for key, move in PRESET_MOVES.items()],
    ]

    def __init__(self, runs_dir: Path, presets_dir: Path | None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.presets_dir = presets_dir
        self.presets: list[PresetInfo] = list_presets(presets_dir)
        self._filled: int | None = None  # the preset whose values the fields were given
        self._preset_config: dict[str, Any] = {}  # that preset, resolved

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-form") as form:
            form.border_title = "New run"
            yield OptionList(*[self._option(i, p) for i, p in enumerate(self.presets)],
                             id="preset-list")
            # Twenty-odd fields scroll (at 80x24 about ten show); the focused one is kept
            # in view, and each section has a heading.
            with VerticalScroll(id="form-fields", can_focus=False):
                for field in FIELDS:
                    if field.section:
                        yield Static(field.section, classes="form-section")
                    with Horizontal(classes="field-row"):
                        yield Label(field.label, classes="field-label")
                        yield self._input(field)
                        yield Static(field.allowed, id=f"{field.widget_id}-hint",
                                     classes="field-hint")
            with Horizontal(id="form-previews"):  # see _place_previews
                yield ActivationPreview(id="activation-preview")
                yield SchedulePreview(id="schedule-preview")
            yield Static(id="form-error")
            with Horizontal(id="launch-buttons"):
                yield Static("enter launches · tab next · space opens a list · esc cancels",
                             id="form-keys")
                yield Button("Launch", id="launch-button", variant="primary", compact=True)
        yield Footer()

    def _option(self, index: int, info: PresetInfo) -> Option:
        prompt = Text.assemble((info.name, "bold"), "  ", (info.description, "dim"))
        if info.source != "built-in":
            prompt.append(f"  [{info.source}]", style="italic")
        return Option(prompt, id=str(index))

    def _input(self, field: Field) -> Widget:
        if field.choices:
            return Select([(c, c) for c in field.choices], allow_blank=False, compact=True,
                          id=field.widget_id, classes="field-input")
        return Input(field.default, id=field.widget_id, classes="field-input", compact=True)

    def on_mount(self) -> None:
        found = self.query("#preset-list").results(OptionList)
        presets = next(found, None)
        if presets is None:  # the app is closing (q then n typed fast): nothing was composed
            return
        presets.focus()
        if self.presets:
            presets.highlighted = 0
            self.fill_from_preset()
        self._follow_activation_list()

    # ---- keys, run as they arrive ---------------------------------------------------------

    def _list_open(self) -> bool:
        return any(select.expanded for select in self.query(Select))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a choice list is open its own keys pick from it; the preset list's moves
        apply only while it has the focus (elsewhere home and end move a field's cursor)."""
        if action in ("launch", "next_field", "previous_field", "move_preset") \
                and self.is_mounted and self._list_open():
            return False
        if action == "move_preset":
            return isinstance(self.focused, OptionList) and self.focused.id == "preset-list"
        return True

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def action_move_preset(self, move: str) -> None:
        """Move in the preset list and fill the fields now, before the next key is handed on."""
        getattr(self.query_one("#preset-list", OptionList), f"action_{move}")()
        self.fill_from_preset()

    # ---- the fields -----------------------------------------------------------------------

    @property
    def preset(self) -> PresetInfo | None:
        index = self.query_one("#preset-list", OptionList).highlighted
        return self.presets[index] if index is not None and index < len(self.presets) else None

    @on(OptionList.OptionHighlighted, "#preset-list")
    def fill_from_preset(self) -> None:
        """Put the highlighted preset's values in the fields (once per preset: a highlight
        message that arrives after the keys that followed it must not undo them)."""
        index = self.query_one("#preset-list", OptionList).highlighted
        info = self.preset
        if info is None or index == self._filled:
            return
        self._filled = index
        self._clear_errors()
        try:
            config = load_preset(str(info.path), [], self.presets_dir)
        except ConfigError as err:
            self._preset_config = {}
            self._show_errors({None: str(err)})
            return
        self._preset_config = config
        for field in FIELDS:
            if not field.in_preset:  # the user's choice, whatever the preset
                continue
            widget = self.query_one(f"#{field.widget_id}")
            if isinstance(widget, Select | Input):
                widget.value = field_value(config, field.key)

    def field_texts(self) -> list[tuple[Field, str]]:
        """Every field with its text, in form order."""
        found = []
        for field in FIELDS:
            widget = self.query_one(f"#{field.widget_id}")
            found.append((field, str(widget.value) if isinstance(widget, Select | Input)
                          else ""))
        return found

    def overrides(self) -> list[str]:
        """The preset's fields as `--set` assignments, in form order, and the run's name
        after what was changed."""
        texts = [(f, t) for f, t in self.field_texts() if f.in_preset]
        found = [override(f, t) for f, t in texts]
        changes = [(f, t) for f, t in texts
                   if not same_value(t, field_value(self._preset_config, f.key))]
        if changes and self._preset_config.get("name"):
            found.append(f"name={changed_name(str(self._preset_config['name']), changes)}")
        return found

    def validate(self) -> tuple[dict[str, Any], int] | None:
        """The resolved config and the process count, or None after showing every error
        beside its field."""
        self._clear_errors()
        info = self.preset
        if info is None:
            self._show_errors({None: "no preset to launch"})
            return None
        errors: dict[str | None, str] = {}
        for field, text in self.field_texts():
            problem = field_error(field, text)
            if problem is not None:
                errors[field.key] = problem
        if errors:  # each field alone: every one that is wrong, at once
            self._show_errors(errors)
            return None
        try:  # then together: rules that tie keys to each other, the file and the name
            config = load_preset(str(info.path), self.overrides(), self.presets_dir)
        except ConfigError as err:
            key, text = error_field(str(err))
            self._show_errors({key: text})
            return None
        csv_problem = check_csv(config)
        if csv_problem is not None:
            self._show_errors({csv_problem[0]: csv_problem[1]})
            return None
        return config, parse_processes(self.query_one("#field-nproc", Input).value)

    def _show_errors(self, errors: dict[str | None, str]) -> None:
        """Each message beside its field (or below the fields); the first field gets the
        focus."""
        first = None
        for key, text in errors.items():
            field = next((f for f in FIELDS if f.key == key), None)
            if field is None:
                self.query_one("#form-error", Static).update(Text(text, style="bold red"))
                continue
            hint = self.query_one(f"#{field.widget_id}-hint", Static)
            hint.update(Text(text, style="bold red"))
            hint.add_class("-error")
            if first is None or FIELDS.index(field) < FIELDS.index(first):
                first = field
        if first is not None:
            widget = self.query_one(f"#{first.widget_id}")
            widget.focus()
            if isinstance(widget, Input):  # focused already, maybe: select so typing replaces
                widget.select_all()
            # The whole message in view, once its lines are laid out.
            self.call_after_refresh(self.query_one(f"#{first.widget_id}-hint").scroll_visible)

    def _clear_errors(self) -> None:
        for field in FIELDS:
            hint = self.query_one(f"#{field.widget_id}-hint", Static)
            if hint.has_class("-error"):
                hint.remove_class("-error")
                hint.update(field.allowed)
        self.query_one("#form-error", Static).update("")

    @on(OptionList.OptionSelected, "#preset-list")
    @on(Input.Submitted)
    @on(Button.Pressed, "#launch-button")
    def submit(self) -> None:
        """A click on the Launch button or a preset (enter itself is the binding above)."""
        self.action_launch()

    def action_launch(self) -> None:
        """Validate; when valid start the trainer and close the form."""
        valid = self.validate()
        if valid is None:
            return
        config, nproc = valid
        try:
            run_dir, process = launch(config, self.runs_dir, nproc=nproc)
        except rundir.RunDirError as err:
            self._show_errors({None: str(err)})
            return
        self.dismiss(Launched(run_dir, process))

    # ---- the activation and schedule plots ------------------------------------------------

    @on(Select.Changed)
    @on(Input.Changed)
    def preview(self) -> None:
        """Redraw the activation and schedule plots from the form as it is now."""
        info = self.preset
        if info is None or not self.is_mounted:
            return
        try:
            config = load_preset(str(info.path), self.overrides(), self.presets_dir)
        except ConfigError:
            return  # an unfinished value: the plots keep the last valid form
        self.query_one(ActivationPreview).show(config["model"]["activation"], config["model"])
        self.query_one(SchedulePreview).show(config)

    def _follow_activation_list(self) -> None:
        """Moving through the open activation list plots each activation as it goes (the
        list keeps its highlight messages to itself: its `highlighted` is watched)."""
        select = self.query_one("#field-model-activation", Select)
        overlay = select.query_one(SelectOverlay)

        def highlighted(index: int | None) -> None:
            if index is not None and 0 <= index < overlay.option_count:
                name = str(overlay.get_option_at_index(index).prompt)
                if name in ACTIVATIONS:
                    self.query_one(ActivationPreview).show(name)

        self.watch(overlay, "highlighted", highlighted, init=False)

    def on_resize(self) -> None:
        self._place_previews()

    def on_descendant_focus(self) -> None:
        self._place_previews()

    def _place_previews(self) -> None:
        """The plots take the preset list's rows while a field is being edited, and only
        where the terminal has the rows (about nine) to spare."""
        previews = next(self.query("#form-previews").results(), None)
        if previews is None:
            return
        in_list = isinstance(self.focused, OptionList) and self.focused.id == "preset-list"
        previews.display = not in_list and self.size.height >= PREVIEW_MIN_HEIGHT

    def action_cancel(self) -> None:
        self.dismiss(None)
