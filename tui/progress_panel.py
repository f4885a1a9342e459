"""The Progress panel: the current epoch's steps, throughput, device and elapsed time, and
what the trainer's process uses (system_lines)."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text

from dmt_tui import rundir
from dmt_tui.app.format import duration, gauge
from dmt_tui.app.lines_panel import LinesPanel
from dmt_tui.app.system_lines import system_lines
from dmt_tui.rundir.record import RunRecord


def progress_lines(record: RunRecord | None, now: float, width: int = 60) -> list[Text]:
    """The epoch bar with steps and samples/s, then device and elapsed time, then memory and
    CPU (and GPU) as the last progress event says."""
    if record is None:
        return [Text("no run selected", style="dim")]
    live = record.state in rundir.LIVE_STATES
    done, total = record.epoch, record.epochs_total
    steps = int(record.start.get("steps_per_epoch") or 0)
    latest: dict[str, Any] = record.progress
    # A progress event is current only while its epoch is the one in progress: a run of short
    # epochs writes few (at most two a second), and one from epoch 29 said nothing at 812.
    current = live and bool(latest) and int(latest.get("epoch") or 0) > done
    if current:
        epoch, step = int(latest["epoch"]), int(latest.get("step") or 0)
        steps = int(latest.get("steps") or steps)
    else:  # between epochs, or ended: the last complete epoch is the one to show
        epoch, step = done, steps
    fraction = step / steps if steps else (1.0 if not live else 0.0)
    head, tail = f"epoch {epoch}/{total or '?'} ", f" {step}/{steps or '?'} steps"
    bar = Text.assemble(head, gauge(fraction, max(4, width - len(head) - len(tail)),
                                    "green" if live else "blue"), tail)
    rate = latest.get("samples_per_s") if current else None
    if rate is None and record.epochs:  # no current progress event: the last epoch's rate
        seconds = record.epochs[-1].get("seconds")
        n_train = record.start.get("n_train")
        if isinstance(seconds, int | float) and seconds > 0 and isinstance(n_train, int):
            rate = n_train / seconds
    began = record.started
    if live:
        elapsed = now - float(began) if began else None
    else:
        elapsed = record.duration
    speed = f"{rate / 1000:.1f}k samples/s" if isinstance(rate, int | float) and rate >= 1e4 \
        else f"{rate:.0f} samples/s" if isinstance(rate, int | float) else "- samples/s"
    device = record.start.get("device") or record.setting("train.device") or "-"
    return [bar, Text(f"{speed}  {device}  {duration(elapsed)} elapsed"),
            *system_lines(latest, live)]


class ProgressPanel(LinesPanel):
    """Progress of the selected run; while it trains the elapsed time ticks every second."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Progress"
        self._drawn: tuple[Any, ...] | None = None

    def draw(self, record: RunRecord | None) -> None:
        now = time.time()
        live = record is not None and record.state in rundir.LIVE_STATES
        key = (record.run_id, len(record.epochs), record.state, record.progress.get("time"),
               int(now) if live else 0, self.content_size.width) if record else None
        if key == self._drawn and record is not None:
            return
        self._drawn = key
        self.show(progress_lines(record, now, self.content_size.width))
