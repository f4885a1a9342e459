"""Garbage in events.jsonl, fuzzed: random mutations of the recorded run's lines (types
swapped, fields dropped, bytes flipped, lines cut), a fixed seed, hundreds of variants; every
reader survives each one: RunRecord/load_runs, the runs table, export in every format, and
the app's panels (their draw functions, and a pilot over a few variants)."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dmt_tui.app.app import DmtApp
from dmt_tui.app.early_stop_panel import early_stop_lines
from dmt_tui.app.grad_panel import histogram_bars, layer_stats
from dmt_tui.app.progress_panel import progress_lines
from dmt_tui.app.run_info_panel import run_info_lines
from dmt_tui.app.runs_list import RunsList, row_cells, sort_key
from dmt_tui.app.series import EventPoints
from dmt_tui.rundir import export, tables
from dmt_tui.rundir.record import RunRecord, load_runs
from tests.malformed import DATA_RUN, GOOD_RUN
from tests.tui.conftest import wait_for

SEED = 20261130
VARIANTS = 300
ODD_VALUES: list[Any] = [None, "", "x", "1", [], [1, "a"], {}, {"a": 1}, True, -1, 0, 1e308,
                         -1e308, 2**70, 3.5, "NaN", [[[]]], "\u0000"]


def _mutate_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.5:
        key = rng.choice(sorted(value))
        value = dict(value)
        if rng.random() < 0.3:
            del value[key]  # a field dropped
        else:
            value[key] = _mutate_value(rng, value[key])
        return value
    if isinstance(value, list) and value and rng.random() < 0.5:
        value = list(value)
        i = rng.randrange(len(value))
        value[i] = _mutate_value(rng, value[i])
        return value
    return rng.choice(ODD_VALUES)  # a type swapped


def mutate(rng: random.Random, lines: list[bytes]) -> bytes:
    """A few mutations of the run's lines, each of one kind."""
    lines = list(lines)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        kind = rng.choice(["field", "field", "drop", "flip", "cut", "swap-line", "dup"])
        try:
            event = json.loads(lines[i])
        except ValueError:  # mangled by an earlier mutation: mangle it further
            event, kind = None, "flip"
        if not isinstance(event, dict) or not event:
            kind = "flip" if kind in ("field", "drop") else kind
        if kind in ("field", "drop"):
            assert isinstance(event, dict)
            keys = sorted(event)
            key = rng.choice(keys)
            if kind == "drop":
                del event[key]
            else:
                event[key] = _mutate_value(rng, event[key])
            lines[i] = json.dumps(event).encode()
        elif kind == "flip":  # bytes flipped
            raw = bytearray(lines[i] or b" ")
            for _ in range(rng.randint(1, 3)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            lines[i] = bytes(raw).replace(b"\n", b" ")
        elif kind == "cut":  # a line cut short, the rest of the file goes on
            lines[i] = lines[i][:rng.randrange(len(lines[i]) + 1)]
        elif kind == "swap-line":
            lines[i] = json.dumps(rng.choice(ODD_VALUES)).encode()
        else:
            lines.insert(i, lines[rng.randrange(len(lines))])
    body = b"\n".join(lines) + b"\n"
    if rng.random() < 0.2:  # a torn last line
        body = body[:-rng.randint(2, 40)]
    return body


def fuzzed_runs(folder: Path, count: int = VARIANTS) -> Iterator[Path]:
    lines = (DATA_RUN / "events.jsonl").read_bytes().splitlines()
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        run_dir = folder / f"20261126-{n // 60 // 60:02d}{n // 60 % 60:02d}{n % 60:02d}-fuzz"
        shutil.copytree(DATA_RUN, run_dir)
        (run_dir / "events.jsonl").write_bytes(mutate(rng, lines))
        yield run_dir


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "runs"
    list(fuzzed_runs(folder))
    return folder


def draw_everything(record: RunRecord) -> None:
    """What the panels and the runs list compute from a run, short of the screen."""
    row_cells(record)
    sort_key("best", record)
    sort_key("started", record)
    early_stop_lines(record)
    progress_lines(record, now=1795708100.0)
    run_info_lines(record)
    EventPoints({"loss": lambda e: e.get("train_loss"),
                 "val": lambda e: e.get("val_loss")}).update(record.epochs, ["loss"])
    for layer in layer_stats(record.grads[-1] if record.grads else None):
        histogram_bars(layer)
    EventPoints({"total": lambda g: (g.get("total") or {}).get("mean")}).update(record.grads)


def test_every_reader_survives_every_fuzzed_run(fuzzed: Path, tmp_path: Path) -> None:
    records = load_runs(fuzzed)
    assert len(records) == VARIANTS
    noted = 0
    for record in records:
        draw_everything(record)
        tables.run_row(record)
        json.dumps(tables.run_row(record), default=str)
        export.metrics_rows(record)
        noted += bool(record.notes)
    assert noted > VARIANTS // 2  # most mutations are said, not silently taken
    assert tables.runs_table(fuzzed) == 0
    assert tables.runs_table(fuzzed, as_json=True) == 0
    formats = ["csv", "jsonl", "parquet", "tensorboard"]
    pytest.importorskip("pyarrow")
    pytest.importorskip("tensorboard")
    written = export.export_runs(records, formats, tmp_path / "out", say=lambda _: None)
    assert (tmp_path / "out" / "metrics.csv") in written
    assert len(list((tmp_path / "out" / "tensorboard").iterdir())) == VARIANTS


async def test_the_app_survives_a_folder_of_fuzzed_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    made = list(fuzzed_runs(runs, 30))
    shutil.copytree(DATA_RUN, runs / GOOD_RUN)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        runs_list = app.screen.query_one(RunsList)
        await wait_for(pilot, lambda: len(runs_list.records) == len(made) + 1, "every run")
        seen = {runs_list.selected_run}
        for _ in made:  # from the newest up, each selected: its events read, panels drawn
            await pilot.press("up")
            await pilot.pause(0.1)
            assert app.is_running
            seen.add(runs_list.selected_run)
        assert seen == set(runs_list.records)
        for key in ["l", "right_square_bracket", "space", "down", "space", "c"]:
            await pilot.press(key)
            await pilot.pause(0.1)
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen", "compare")
        await pilot.press("t", "l")
        await pilot.pause(0.5)
        await pilot.press("escape")
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert not errors
    assert app.return_code in (0, None)
