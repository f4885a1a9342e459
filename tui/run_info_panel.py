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


def _script(record: RunRecord) -> bool:
    """A run written by a user's own loop through dmt_tui.Run."""
    return record.start.get("source") == "api"


def run_info_lines(record: RunRecord | None) -> list[Text]:
    """Preset and data; model and optimizer; batch, seed and size."""
    if record is None:
        return [Text("No run selected. Press n to start one, ? for keys", style="dim")]
    setting = record.setting
    data = str(setting("data.dataset") or ("your own data" if _script(record) else "?"))
    if record.start.get("n_train") is not None:
        data += f" ({record.start['n_train']} train / {record.start.get('n_val')} val)"
    model = str(setting("model.kind") or ("your own model" if _script(record) else "?"))
    if model == "mlp":
        model = f"mlp {_hidden(setting('model.hidden'))} {setting('model.activation')}"
    schedule = setting("schedule.name")
    lr = setting("optimizer.lr")
    optimizer = " ".join(str(part) for part in (
        setting("optimizer.name"), f"lr {lr:g}" if isinstance(lr, int | float) else None)
        if part is not None)
    if schedule and schedule != "none":
        optimizer += f" ({schedule})"
    params = record.start.get("n_params")
    # A script's run (dmt_tui.Run) says only what its config gives: no `None`s.
    sizes = [f"{name} {setting(key)}" for name, key in (("batch", "train.batch_size"),
                                                        ("seed", "train.seed"))
             if setting(key) is not None or not _script(record)]
    if isinstance(params, int):
        sizes.append(f"{params:,} params")
    lines = [Text.assemble((record.title or record.name, "bold"), f"  {data}"),
             Text(f"{model}  {optimizer}".strip())]
    if sizes:
        lines.append(Text("  ".join(sizes)))
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
