"""The Run panel: what the selected run is (preset, data, model, optimizer), so runs that
differ in one setting can be told apart at a glance."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from dmt_tui.app.grad_heatmap import dead_layers, dead_message
from dmt_tui.app.lines_panel import LinesPanel
from dmt_tui.rundir.record import RunRecord


def _hidden(widths: Any) -> str:
    """`8 × 32` for eight layers of 32 (layers first: `32x8` read like a matrix's shape),
    else the widths in order: `[64, 32]`."""
    if not isinstance(widths, list) or not widths:
        return "no hidden layer"
    if len(widths) == 1:
        return f"[{widths[0]}]"
    if len(set(widths)) == 1:
        return f"{len(widths)} × {widths[0]}"
    return "[" + ", ".join(str(w) for w in widths) + "]"


def run_info_lines(record: RunRecord | None) -> list[Text]:
    """Preset and data; model and optimizer; batch, seed and size."""
    if record is None:
        return [Text("No run selected. Press n to start one, ? for keys", style="dim")]
    setting = record.setting
    data = f"{setting('data.dataset') or '?'}"
    if record.start.get("n_train") is not None:
        data += f" ({record.start['n_train']} train / {record.start.get('n_val')} val)"
    model = str(setting("model.kind") or "?")
    if model == "mlp":
        model = f"mlp {_hidden(setting('model.hidden'))} {setting('model.activation')}"
    schedule = setting("schedule.name")
    optimizer = f"{setting('optimizer.name')} lr {setting('optimizer.lr'):g}" \
        if isinstance(setting("optimizer.lr"), int | float) else str(setting("optimizer.name"))
    if schedule and schedule != "none":
        optimizer += f" ({schedule})"
    params = record.start.get("n_params")
    size = f"  {params:,} params" if isinstance(params, int) else ""
    lines = [Text.assemble((record.title or record.name, "bold"), f"  {data}"),
             Text(f"{model}  {optimizer}"),
             Text(f"batch {setting('train.batch_size')}  seed {setting('train.seed')}{size}")]
    if record.note:
        lines.append(Text(f"note: {record.note}", style="italic"))
    dead = dead_message(record.grads[-1] if record.grads else None, setting("model.activation"))
    if dead:
        lines.append(Text(dead, style="bold red"))
    return lines


class RunInfoPanel(LinesPanel):
    """The selected run's settings; they never change, so it redraws on selection only."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Run"
        self._drawn: tuple[Any, ...] | None = None

    def forget(self) -> None:
        """Draw again at the next draw (the run's title or note changed)."""
        self._drawn = None

    def draw(self, record: RunRecord | None) -> None:
        key = (record.run_id, bool(record.config), bool(record.start),
               bool(dead_layers(record.grads[-1] if record.grads else None))) \
            if record else None
        if key == self._drawn and record is not None:
            return
        self._drawn = key
        self.show(run_info_lines(record))
