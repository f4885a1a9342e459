"""`dmt-tui runs`: the runs folder as a table, or as JSON lines for scripts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from dmt_tui.rundir.fields import is_number
from dmt_tui.rundir.record import RunRecord, load_runs

COLUMNS = ("id", "preset", "activation", "optimizer", "lr", "state", "epochs", "best_val_loss",
           "started", "duration")
NUMBER_COLUMNS = ("best_val_loss", "lr", "started", "duration")


def activation_of(record: RunRecord) -> str | None:
    """The run's activation; None for a model without hidden layers, which has none to apply
    (the resolved config still carries the default)."""
    if not record.setting("model.hidden"):
        return None
    activation = record.setting("model.activation")
    return None if activation is None else str(activation)


def run_row(record: RunRecord) -> dict[str, Any]:
    """The fields `dmt-tui runs` shows for one run."""
    best_epoch, best_loss = record.best
    return {
        "id": record.run_id,
        "preset": record.name,
        "activation": activation_of(record),
        "optimizer": record.setting("optimizer.name"),
        "lr": record.setting("optimizer.lr"),
        "state": record.state,
        "epoch": record.epoch,
        "epochs": record.epochs_total,
        "best_epoch": best_epoch,
        "best_val_loss": best_loss,
        "started": record.started,
        "duration": record.duration,
    }


def _cell(key: str, row: dict[str, Any]) -> str:
    value = row[key]
    if key == "epochs":
        return f"{row['epoch']}/{row['epochs']}"
    if value is None:
        return "-"
    if key in NUMBER_COLUMNS and not is_number(value):
        return str(value)[:24]  # a config.yaml value of another type: shown as written
    if key == "best_val_loss":
        return f"{value:.4g} @{row['best_epoch']}"
    if key == "lr":
        return f"{value:g}"
    if key == "state":  # as the app spells it; `--json` keeps the files' `early_stopped`
        return str(value).replace("_", "-")
    if key == "started":
        try:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
        except (OverflowError, OSError, ValueError):
            return "-"
    if key == "duration":
        if value < 120:
            return f"{value:.0f}s"
        return f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"
    return str(value)


def runs_table(runs_dir: Path, as_json: bool = False) -> int:
    """Print the runs under `runs_dir`, oldest first; notes about unreadable lines go to
    stderr, so that `--json` output stays one JSON object per line."""
    records = load_runs(runs_dir)
    for record in records:
        for note in record.notes:
            print(f"note: {note}", file=sys.stderr)
    if as_json:
        for record in records:
            # default=str: a config.yaml may hold YAML dates, which JSON has no type for
            print(json.dumps(run_row(record), default=str))
        return 0
    if not records:
        missing = "" if runs_dir.is_dir() else " (no such folder)"
        print(f"no runs in {runs_dir}{missing}")
        return 0
    rows = [[_cell(k, run_row(r)) for k in COLUMNS] for r in records]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0
