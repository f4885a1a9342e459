"""The new-run form (`n`): pick a preset, change what people vary most, launch with `enter`.

Values go through `presets.load_preset` with `--set`-style overrides, the same validation as
a preset file and `dmt-tui train --set`; an error is shown beside the field it names and
nothing starts.
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
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, OptionList, Select, Static
from textual.widgets._select import SelectOverlay
from textual.widgets.option_list import Option

from dmt_tui import rundir
from dmt_tui.app.activation_preview import ActivationPreview
from dmt_tui.app.schedule_preview import SchedulePreview
from dmt_tui.presets import PresetInfo, list_presets, load_preset
from dmt_tui.presets.schema import ACTIVATIONS, OPTIMIZERS, SCHEDULES, SCHEMA, ConfigError
from dmt_tui.rundir.launch import launch


@dataclass(frozen=True)
class Field:
    """One form field: the preset key it sets, its label, and its choices (None: typed)."""

    key: str  # dotted, as in --set
    label: str
    choices: tuple[str, ...] | None = None
    hint: str = ""
    in_preset: bool = True  # False: a launch setting, not in config.yaml (processes)
    default: str = ""  # the value of a field the preset does not fill

    @property
    def widget_id(self) -> str:
        return "field-" + self.key.replace(".", "-").replace("_", "-")

    @property
    def allowed(self) -> str:
        if self.hint:
            return self.hint
        section, _, name = self.key.partition(".")
        return SCHEMA[section][name].allowed


FIELDS = (
    Field("model.activation", "activation", ACTIVATIONS,
          f"{len(ACTIVATIONS)} choices: enter opens the list"),
    Field("optimizer.name", "optimizer", OPTIMIZERS, "one of " + ", ".join(OPTIMIZERS)),
    Field("optimizer.lr", "learning rate"),
    Field("train.epochs", "epochs"),
    Field("train.batch_size", "batch size"),
    Field("model.hidden", "hidden layers", None, "widths, comma-separated: 64, 64"),
    Field("early_stopping.patience", "patience", None, "epochs without improvement; 0 = off"),
    Field("schedule.name", "lr schedule", SCHEDULES, "the lr over the run: see the plot below"),
    Field("train.device", "device"),
    Field("nproc", "processes", None, "1 or more; above 1 runs torchrun", in_preset=False,
          default="1"),
)


def field_value(config: dict[str, Any], key: str) -> str:
    """A config value as the form shows it (`32, 32` for a list)."""
    section, _, name = key.partition(".")
    value = (config.get(section) or {}).get(name)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def override(field: Field, text: str) -> str:
    """The `--set` assignment for a field's text; a list is written in YAML flow style."""
    text = text.strip()
    if field.key == "model.hidden":
        text = "[" + text.strip("[]") + "]"
    return f"{field.key}={text}"


def parse_processes(text: str) -> int:
    """The processes field as a count; ValueError with the message to show beside it."""
    try:
        count = int(text.strip())
    except ValueError:
        raise ValueError(f"expected a whole number >= 1, got {text.strip()!r}") from None
    if count < 1:
        raise ValueError(f"expected a whole number >= 1, got {count}")
    return count


def error_field(message: str) -> tuple[str | None, str]:
    """Which field a ConfigError names (its dotted key), and the message without the file
    or `--set` it came from: `/p/x.yaml: optimizer.lr: expected ...` -> lr, `expected ...`."""
    for field in FIELDS:
        if message.startswith(f"--set {field.key}="):  # the value was not even YAML
            return field.key, message.split(": ", 1)[-1]
        marker = f": {field.key}: "
        if marker in message:
            return field.key, message.split(marker, 1)[1]
    return None, message


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
        # Inputs, the preset list and the button take enter themselves (and launch); this
        # binding is what the footer and `?` show for it.
        Binding("enter", "launch", "Launch", id="launch_form.launch"),
    ]

    def __init__(self, runs_dir: Path, presets_dir: Path | None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.presets_dir = presets_dir
        self.presets: list[PresetInfo] = list_presets(presets_dir)

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-form") as form:
            form.border_title = "New run"
            yield OptionList(*[self._option(i, p) for i, p in enumerate(self.presets)],
                             id="preset-list")
            for field in FIELDS:
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
                yield Static("enter launches · tab next field · esc cancels", id="form-keys")
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
        self._follow_activation_list()

    @property
    def preset(self) -> PresetInfo | None:
        index = self.query_one("#preset-list", OptionList).highlighted
        return self.presets[index] if index is not None and index < len(self.presets) else None

    @on(OptionList.OptionHighlighted, "#preset-list")
    def fill_from_preset(self) -> None:
        """Put the highlighted preset's values in the fields."""
        info = self.preset
        if info is None:
            return
        self._clear_errors()
        try:
            config = load_preset(str(info.path), [], self.presets_dir)
        except ConfigError as err:
            self._show_error(None, str(err))
            return
        for field in FIELDS:
            if not field.in_preset:  # the user's choice, whatever the preset
                continue
            value = field_value(config, field.key)
            widget = self.query_one(f"#{field.widget_id}")
            if isinstance(widget, Select):
                widget.value = value
            elif isinstance(widget, Input):
                widget.value = value

    def overrides(self) -> list[str]:
        """The fields as `--set` assignments, in form order."""
        found = []
        for field in FIELDS:
            if not field.in_preset:
                continue
            widget = self.query_one(f"#{field.widget_id}")
            text = str(widget.value) if isinstance(widget, Select | Input) else ""
            found.append(override(field, text))
        return found

    def validate(self) -> tuple[dict[str, Any], int] | None:
        """The resolved config and the process count, or None after showing the first error
        beside its field."""
        self._clear_errors()
        info = self.preset
        if info is None:
            self._show_error(None, "no preset to launch")
            return None
        try:
            config = load_preset(str(info.path), self.overrides(), self.presets_dir)
        except ConfigError as err:
            key, text = error_field(str(err))
            self._show_error(key, text)
            return None
        try:
            nproc = parse_processes(self.query_one("#field-nproc", Input).value)
        except ValueError as err:
            self._show_error("nproc", str(err))
            return None
        return config, nproc

    def _show_error(self, key: str | None, text: str) -> None:
        field = next((f for f in FIELDS if f.key == key), None)
        if field is None:
            self.query_one("#form-error", Static).update(Text(text, style="bold red"))
            return
        hint = self.query_one(f"#{field.widget_id}-hint", Static)
        hint.update(Text(text, style="bold red"))
        hint.add_class("-error")
        self.query_one(f"#{field.widget_id}").focus()

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
        """Enter in the preset list or a field, or the Launch button."""
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
            self._show_error(None, str(err))
            return
        self.dismiss(Launched(run_dir, process))

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
        found = self.query("#form-previews").results()
        previews = next(found, None)
        if previews is None:
            return
        in_list = isinstance(self.focused, OptionList) and self.focused.id == "preset-list"
        previews.display = not in_list and self.size.height >= PREVIEW_MIN_HEIGHT

    def action_cancel(self) -> None:
        self.dismiss(None)
