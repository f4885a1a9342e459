"""An experiment in the runs list: one row that says how far it got and its best result,
which `enter` opens to show its trials indented under it.

A run belongs to an experiment when its config.yaml has an `experiment` section (written by
the scheduler). The manifest (RUNS_DIR/experiments/<id>.json) gives the experiment's name
and how many trials it has, started or not; it is read at most every REREAD_S, and never
again once every trial in it has ended. A trial's state comes from its run, which is live.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.screen import Screen

from dmt_tui import rundir
from dmt_tui.app.format import number
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.record import RunRecord
from dmt_tui.rundir.scheduler import stop_experiment

# Row keys of experiment rows: a run id never holds a colon (presets.schema.NAME_PATTERN).
ROW_PREFIX = "experiment:"
REREAD_S = 2.0  # trials are cancelled or queued only in the manifest: read it this often
PARTLY_MARKED = Text("◐", style="yellow")


def experiment_of(record: RunRecord) -> str | None:
    """The id of the experiment the run is a trial of, or None for a lone run."""
    section = record.config.get("experiment")
    found = section.get("id") if isinstance(section, dict) else None
    return str(found) if found else None


def row_key(experiment_id: str) -> str:
    return ROW_PREFIX + experiment_id


def experiment_key(key: str | None) -> str | None:
    """The experiment id of an experiment row's key; None for a run's row."""
    return key[len(ROW_PREFIX):] if key and key.startswith(ROW_PREFIX) else None


@dataclass
class ExperimentInfo:
    """What the list shows of a manifest: the name, how many trials, how many cancelled."""

    name: str
    total: int = 0  # 0: the manifest could not be read
    cancelled: int = 0
    read_at: float = 0.0
    settled: bool = False  # every trial in it ended: it will not change again


class Manifests:
    """The manifests of the experiments seen in the list, each read at most every REREAD_S."""

    def __init__(self, runs_dir: Path | None) -> None:
        self.runs_dir = runs_dir
        self._known: dict[str, ExperimentInfo] = {}

    def info(self, experiment_id: str, now: float | None = None) -> ExperimentInfo:
        now = time.monotonic() if now is None else now
        known = self._known.get(experiment_id)
        if known is not None and (known.settled or now - known.read_at < REREAD_S):
            return known
        found = None if self.runs_dir is None else \
            manifests.read(manifests.path_of(self.runs_dir, experiment_id))
        if found is None:  # not there (copied without it) or half-written: the id will do
            info = known or ExperimentInfo(experiment_id)
            info.read_at = now
        else:
            trials = found["trials"]
            info = ExperimentInfo(
                str(found.get("name") or experiment_id), len(trials),
                sum(t.get("state") == manifests.CANCELLED for t in trials), now,
                all(t.get("state") in manifests.ENDED for t in trials))
        self._known[experiment_id] = info
        return info

    def forget(self) -> None:
        """Read every manifest again when next asked (one was just written)."""
        self._known.clear()


@dataclass
class Group:
    """One experiment's trials that have a run folder, and its manifest's view."""

    experiment_id: str
    info: ExperimentInfo
    trials: list[RunRecord] = field(default_factory=list)

    @property
    def key(self) -> str:
        return row_key(self.experiment_id)

    @property
    def live(self) -> int:
        return sum(r.state in rundir.LIVE_STATES for r in self.trials)

    @property
    def done(self) -> int:
        """Trials that ended, cancelled ones included (they never get a run folder)."""
        return sum(r.state not in rundir.LIVE_STATES for r in self.trials) + \
            self.info.cancelled

    @property
    def total(self) -> int:
        return max(self.info.total, len(self.trials) + self.info.cancelled)

    @property
    def best_trial(self) -> RunRecord | None:
        """The trial with the lowest best validation loss so far (None before any)."""
        scored = [(r.best[1], r.run_id, r) for r in self.trials
                  if isinstance(r.best[1], int | float) and math.isfinite(r.best[1])]
        return min(scored, key=lambda s: (s[0], s[1]))[2] if scored else None

    @property
    def shown_trial(self) -> RunRecord:
        """The run the panels show while the experiment's row is selected: its best trial,
        else the newest one (trials are grouped only once they have a record)."""
        return self.best_trial or max(self.trials, key=lambda r: r.run_id)

    def progress_text(self) -> str:
        return f"{self.done}/{self.total} done"


def group_label(record: RunRecord) -> str:
    """`lr=0.1 seed 1`: the trial's varied values (last part of each key) and its seed."""
    section = record.config.get("experiment")
    group = section.get("group") if isinstance(section, dict) else None
    parts = [f"{str(k).rsplit('.', 1)[-1]}={v}" for k, v in (group or {}).items()]
    seed = record.setting("train.seed")
    return " ".join([*parts, f"seed {seed}"] if seed is not None else parts)


def experiment_cells(group: Group, expanded: bool, marked: int, wide: bool
                     ) -> tuple[Text | str, ...]:
    """The experiment's row in the list's COLUMNS order: marks, how many trials train,
    its name with ▸ (closed) or ▾ (open), `7/12 done`, the best loss and (wide) its trial."""
    live = group.live
    state = Text(f"{live} running", style="bold green") if live else Text("ended", "cyan")
    mark: Text | str = ""
    if marked:
        mark = Text("●", style="bold yellow") if marked == len(group.trials) else PARTLY_MARKED
    best = group.best_trial
    cells: tuple[Text | str, ...] = (
        mark, state, Text(f"{'▾' if expanded else '▸'} {group.info.name}", style="bold"),
        Text(group.progress_text(), justify="right"),
        Text(number(best.best[1]) if best else "-", justify="right"))
    return (*cells, f"best {group_label(best)}" if best else "") if wide else cells


def stop_from_row(screen: Screen[Any], runs_dir: Path, experiment_id: str,
                  then: Callable[[], None]) -> None:
    """`s` on an experiment's row: ask, then stop its running trials and cancel its queue
    (runs already ended keep their data), then call `then`; an ended experiment is left
    as it is."""
    from dmt_tui.app.experiment_view import StopExperimentConfirm  # plotting loads on use

    manifest = manifests.find(runs_dir, experiment_id)
    if manifest is None:
        screen.notify(f"the manifest of {experiment_id} cannot be read: enter opens the "
                      "experiment, s on a trial stops that trial", severity="warning")
        return
    state = manifests.experiment_state(manifest, manifests.trial_states(runs_dir, manifest))
    if state not in ("running", "interrupted"):
        screen.notify(f"{experiment_id} is not running ({state})", severity="warning")
        return

    def answered(yes: bool | None) -> None:
        if yes:  # read again: the scheduler may have moved on while the dialog was open
            latest = manifests.find(runs_dir, experiment_id) or manifest
            screen.notify(stop_experiment(runs_dir, latest), title="Experiment")
            then()

    screen.app.push_screen(StopExperimentConfirm(experiment_id), answered)
