"""The runs list at the top of the monitor: one row per run, the cursor picks the run the
panels show."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from trainer.record import RunRecord
from tui.format import number, state_text
from tui.messages import RunSelected

COLUMNS = (("state", "State"), ("run", "Run"), ("epoch", "Epoch"), ("best", "Best val loss"))


def row_cells(record: RunRecord) -> tuple[Text | str, ...]:
    """The cells of one run's row, in COLUMNS order."""
    total = record.epochs_total
    epoch = f"{record.epoch}/{total}" if total else str(record.epoch)
    best_epoch, best_loss = record.best
    best = f"{number(best_loss)} @{best_epoch}" if best_epoch else "-"
    return (state_text(record.state), record.run_id, Text(epoch, justify="right"),
            Text(best, justify="right"))


class RunsList(DataTable[Text | str]):
    """Every run in the runs folder, oldest first; arrow keys move the selection."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.border_title = "Runs"
        self._rows: dict[str, tuple[Text | str, ...]] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.border_subtitle = "no runs yet: n starts one"

    def show_run(self, record: RunRecord) -> None:
        """Add the run's row, or refresh the cells that changed."""
        cells = row_cells(record)
        known = self._rows.get(record.run_id)
        if known is None:
            self.add_row(*cells, key=record.run_id)
        else:
            for (key, _), old, new in zip(COLUMNS, known, cells, strict=True):
                if str(old) != str(new):  # a cell's style follows from its text
                    self.update_cell(record.run_id, key, new, update_width=True)
        self._rows[record.run_id] = cells
        live = sum(1 for c in self._rows.values() if str(c[0]) in ("starting", "running"))
        count = len(self._rows)
        self.border_subtitle = f"{count} run{'' if count == 1 else 's'}, {live} training"

    def select_run(self, run_id: str) -> None:
        """Move the cursor to a run (after a launch, or the newest on open)."""
        if run_id in self._rows:
            self.move_cursor(row=self.get_row_index(run_id))

    @property
    def selected_run(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(RunSelected(str(event.row_key.value)))
