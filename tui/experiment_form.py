"""The new-experiment form (`g`): a lesson or a preset, the keys to vary with their values,
seeds and parallel slots; it counts the runs before `enter` launches.

A lesson launches in three keys from the first screen: `g`, its number, `enter`. The plan
is the one `dmt-tui sweep` makes (rundir.experiment.plan_from), so a value is checked
exactly like `--grid`, and an error shows beside the field it came from.
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
from textual.widgets import Footer, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from dmt_tui import rundir
from dmt_tui.presets import list_presets
from dmt_tui.presets.schema import ACTIVATIONS, DATASETS, OPTIMIZERS, SCHEDULES, ConfigError
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.experiment import Plan, list_lessons, plan_from
from dmt_tui.rundir.record import RunRecord
from dmt_tui.rundir.scheduler import default_parallel, start

VARY_HINT = "KEY=V1,V2; KEY=...  e.g. optimizer.lr=1e-3..1 x4; model.activation=relu,tanh"
HINTS = {"vary": VARY_HINT, "seeds": "a count (0..N-1) or a list: 0,3,7",
         "parallel": "trials at once",
         "variants": "settings that go together, ; between: optimizer.name=sgd "
                     "optimizer.momentum=0.9; optimizer.name=adam"}
# The choice keys a user varies by ticking values (space) in the form's list.
CHOICES = {"model.activation": ("activation", ACTIVATIONS),
           "optimizer.name": ("optimizer", OPTIMIZERS), "schedule.name": ("schedule", SCHEDULES),
           "data.dataset": ("dataset", DATASETS)}


@dataclass(frozen=True)
class ExperimentStarted:
    """What the form hands back: the experiment's id and its scheduler process."""

    experiment_id: str
    scheduler: subprocess.Popen[bytes]


@dataclass(frozen=True)
class Source:
    """A row of the form's list: a lesson or a preset."""

    name: str
    description: str
    lesson: bool


class ExperimentForm(ModalScreen[ExperimentStarted | None]):
    """Pick, vary, count, launch."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="experiment_form.cancel"),
        Binding("enter", "launch", "Launch", id="experiment_form.launch"),
        *(Binding(str(n), f"pick({n - 1})", f"Lesson {n}", show=False,
                  id=f"experiment_form.lesson_{n}") for n in range(1, 10)),
    ]

    def __init__(self, runs_dir: Path, presets_dir: Path | None) -> None:
        super().__init__()
        self.runs_dir, self.presets_dir = runs_dir, presets_dir
        self.sources = [Source(x.name, x.description, True) for x in list_lessons()] + \
            [Source(p.name, p.description, False) for p in list_presets(presets_dir)]
        self.plan: Plan | None = None
        self._parallel_filled = False

    def compose(self) -> ComposeResult:
        with Vertical(id="experiment-form") as form:
            form.border_title = "New experiment"
            yield OptionList(*[self._option(i, s) for i, s in enumerate(self.sources)],
                             id="experiment-source")
            for key, hint in HINTS.items():
                with Horizontal(classes="field-row"):
                    yield Label(key, classes="field-label")
                    yield Input(id=f"experiment-{key}", classes="field-input", compact=True)
                    yield Static(hint, id=f"experiment-{key}-hint", classes="field-hint")
            with Horizontal(id="experiment-choices-row"):
                yield Label("choices", classes="field-label")
                yield SelectionList[str](
                    *[Selection(f"{name:<10} {value}", f"{key}={value}")
                      for key, (name, values) in CHOICES.items() for value in values],
                    id="experiment-choices")
                yield Static("space ticks values to vary: each key ticked varies over "
                             "its ticked values", id="experiment-choices-hint",
                             classes="field-hint")
            yield Static(id="experiment-count")
            yield Static("1-9 pick a lesson · enter launches · tab next field · esc cancels",
                         id="experiment-keys")
        yield Footer()

    def _option(self, index: int, source: Source) -> Option:
        kind = f"{index + 1} " if source.lesson and index < 9 else "  "
        tag = "lesson" if source.lesson else "preset"
        return Option(Text.assemble((kind, "bold"), (source.name, "bold"), f"  [{tag}]  ",
                                    (source.description, "dim")), id=str(index))

    def on_mount(self) -> None:
        found = next(self.query("#experiment-source").results(OptionList), None)
        if found is None:  # the app is closing: nothing was composed
            return
        found.focus()
        self.query_one("#experiment-seeds", Input).value = "1"
        if self.sources:
            found.highlighted = 0

    @property
    def source(self) -> Source | None:
        index = self.query_one("#experiment-source", OptionList).highlighted
        return self.sources[index] if index is not None and index < len(self.sources) else None

    def action_pick(self, index: int) -> None:
        """A lesson by its number."""
        lessons = [i for i, s in enumerate(self.sources) if s.lesson]
        if index < len(lessons):
            self.query_one("#experiment-source", OptionList).highlighted = lessons[index]

    @on(OptionList.OptionHighlighted, "#experiment-source")
    def chose(self) -> None:
        source = self.source
        if source is not None:
            seeds = "" if source.lesson else "1"  # a lesson brings its own
            self.query_one("#experiment-seeds", Input).value = seeds
            self.query_one("#experiment-vary", Input).value = ""
            self.query_one("#experiment-variants", Input).value = ""
            self.query_one("#experiment-choices", SelectionList).deselect_all()
        self.recount()

    def grid(self) -> list[str]:
        """The ticked choices as grid axes (`model.activation=relu,tanh`), then the typed
        ones; a key both ticked and typed is refused (ConfigError naming it)."""
        ticked: dict[str, list[str]] = {}
        for item in self.query_one("#experiment-choices", SelectionList).selected:
            key, value = str(item).split("=", 1)
            ticked.setdefault(key, []).append(value)
        typed = [t.strip() for t in self.query_one("#experiment-vary", Input).value.split(";")
                 if t.strip()]
        for text in typed:
            key = text.split("=", 1)[0].strip()
            if key in ticked:
                raise ConfigError(f"--grid {text}: {key} is ticked in the choices too; "
                                  "keep one")
        return [f"{key}={','.join(values)}" for key, values in ticked.items()] + typed

    @on(Input.Changed)
    @on(SelectionList.SelectedChanged)
    def recount(self) -> None:
        """Plan again and say how many runs that makes, or what is wrong and where."""
        self.plan = None
        for key, text in HINTS.items():
            hint = self.query_one(f"#experiment-{key}-hint", Static)
            if hint.has_class("-error"):
                hint.remove_class("-error")
                hint.update(text)
        source = self.source
        if source is None:
            return
        seeds = self.query_one("#experiment-seeds", Input).value.strip() or None
        variants = [t.strip() for t in
                    self.query_one("#experiment-variants", Input).value.split(";") if t.strip()]
        try:
            plan = plan_from(source.name, self.grid(), variants, seeds, (), self.presets_dir)
        except ConfigError as err:
            message = str(err)
            field = "seeds" if message.startswith("--seeds") else \
                "variants" if message.startswith("--variant") else "vary"
            if message.startswith(("--grid ", "--seeds ")):  # the field says which it is
                message = message.split(": ", 1)[-1]
            self._error(field, message)
            return
        if not self._parallel_filled:  # once: an emptied field is the user's to fill
            self._parallel_filled = True
            self.query_one("#experiment-parallel", Input).value = \
                str(default_parallel(plan.base))
        self.plan = plan
        seeds_n = len(plan.seeds)
        count = Text.assemble(
            (f"{len(plan.trials)} runs", "bold"),
            f" ({plan.configurations} configurations x {seeds_n} seed{'s' * (seeds_n != 1)})")
        if plan.description:
            count.append(f"\nlook for: {plan.description}", style="dim")
        self.query_one("#experiment-count", Static).update(count)

    def _error(self, field: str, message: str) -> None:
        hint = self.query_one(f"#experiment-{field}-hint", Static)
        hint.update(Text(message, style="bold red"))
        hint.add_class("-error")
        self.query_one("#experiment-count", Static).update("")

    def _parallel(self) -> int | None:
        text = self.query_one("#experiment-parallel", Input).value.strip()
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            self._error("parallel", f"expected a whole number >= 1, got {text!r}")
            return None
        return value

    @on(OptionList.OptionSelected, "#experiment-source")
    @on(Input.Submitted)
    def submit(self) -> None:
        self.action_launch()

    def action_launch(self) -> None:
        """Start the scheduler of the planned experiment and close the form."""
        self.recount()
        parallel = self._parallel()
        if self.plan is None or parallel is None or self.source is None:
            return
        if len(self.plan.trials) > 200:
            self._error("vary", f"{len(self.plan.trials)} runs: more than 200; use "
                        "dmt-tui sweep --yes for that many")
            return
        try:
            manifest = manifests.create(self.runs_dir, self.plan,
                                        Path(self.source.name).stem, parallel)
            scheduler = start(self.runs_dir, manifest["id"])
        except (rundir.RunDirError, OSError) as err:
            self._error("vary", str(err))
            return
        self.dismiss(ExperimentStarted(manifest["id"], scheduler))

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---- what the monitor's keys call (kept here, so the monitor grows by two lines a key) ----


def new_experiment(screen: Any) -> None:
    """`g`: the form; a launched experiment opens in its view at once."""
    from dmt_tui.app.experiment_view import ExperimentScreen

    def launched(result: ExperimentStarted | None) -> None:
        if result is None:
            return
        watcher = getattr(screen, "watcher", None)
        if watcher is not None:
            watcher.adopt(result.scheduler)  # reaped when it ends: a zombie looks alive
            watcher.wake()
        screen.app.push_screen(ExperimentScreen(screen.runs_dir, result.experiment_id))

    screen.app.push_screen(ExperimentForm(screen.runs_dir, screen.presets_dir), launched)


def open_experiment(screen: Any, record: RunRecord | None) -> None:
    """`x`: the view of the selected run's experiment, or else of the newest one."""
    from dmt_tui.app.experiment_view import ExperimentScreen

    section = record.config.get("experiment") if record is not None else None
    experiment_id = section.get("id") if isinstance(section, dict) else None
    if experiment_id is None:
        found = manifests.list_experiments(screen.runs_dir)
        experiment_id = found[-1]["id"] if found else None
    if experiment_id is None:
        screen.notify("no experiments here yet: g starts one", severity="warning")
        return
    screen.app.push_screen(ExperimentScreen(screen.runs_dir, str(experiment_id)))
