"""The Early stopping panel: how long since the last improvement, against the patience."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from dmt_tui.app.format import gauge, number, state_text
from dmt_tui.app.lines_panel import LinesPanel
from dmt_tui.app.system_lines import oom_peak
from dmt_tui.rundir.record import RunRecord

GAUGE_WIDTH = 20


def early_stop_lines(record: RunRecord | None) -> list[Text]:
    """What the panel says: the wait/patience gauge, the best epoch, and how the run ended."""
    if record is None:
        return [Text("no run selected", style="dim")]
    last: dict[str, Any] = record.epochs[-1] if record.epochs else {}
    patience = last.get("es_patience")
    if patience is None:
        patience = (record.config.get("early_stopping") or {}).get("patience")
    wait = int(last.get("es_wait") or 0)
    lines = []
    if patience == 0:
        lines.append(Text("off (patience 0): runs every epoch", style="dim"))
    elif patience is None:
        lines.append(Text("patience unknown", style="dim"))
    else:
        style = "red" if wait >= patience else "yellow" if wait >= patience / 2 else "green"
        lines.append(Text.assemble(f"wait {wait:>3}/{patience:<3} ",
                                   gauge(wait / patience, GAUGE_WIDTH, style)))
    best_epoch, best_loss = record.best
    lines.append(Text(f"best epoch {best_epoch}  val loss {number(best_loss)}" if best_epoch
                      else "best: no finite val loss yet"))
    state = record.state
    reason = record.end.get("reason") or record.status.get("reason") or ""
    ending = Text.assemble(state_text(state), (f": {reason}" if reason else "", ""),
                           oom_peak(str(reason), record.progress))
    if record.end.get("error"):
        ending.append(f" ({record.end['error']})", style="red")
    lines.append(ending)
    return lines


class EarlyStopPanel(LinesPanel):
    """Early stopping of the selected run, redrawn when an epoch or the state changes."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Early stopping"
        self._drawn: tuple[Any, ...] | None = None

    def draw(self, record: RunRecord | None) -> None:
        key = (record.run_id, len(record.epochs), record.state) if record else None
        if key == self._drawn and record is not None:
            return
        self._drawn = key
        self.show(early_stop_lines(record))
