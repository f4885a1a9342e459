"""One bad file is that run's problem only: every reader (RunRecord, `dmt-tui runs`, `dmt-tui
export` in each format, the app) lists each malformed run with what it can read and a note
naming the file, and the good run beside them is untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmt_tui.app.app import DmtApp
from dmt_tui.app.runs_list import RunsList
from dmt_tui.rundir.record import RunRecord, load_runs
from tests.conftest import run_cli as cli
from tests.malformed import GOOD_RUN, VARIANTS, make_variants, variant_id
from tests.tui.conftest import screen_text, wait_for, wait_for_text


@pytest.fixture(scope="module")
def malformed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_dir = tmp_path_factory.mktemp("malformed") / "runs"
    make_variants(runs_dir)
    return runs_dir


def good_run_as_read(runs_dir: Path) -> tuple[str, int, tuple[object, object], int]:
    record = RunRecord.load(runs_dir / GOOD_RUN)
    return record.state, len(record.epochs), record.best, len(record.grads)


@pytest.mark.parametrize("index", range(len(VARIANTS)),
                         ids=[v.name for v in VARIANTS])
def test_each_malformed_run_is_listed_with_a_note(malformed: Path, index: int) -> None:
    variant = VARIANTS[index]
    run_id = variant_id(index, variant)
    records = {r.run_id: r for r in load_runs(malformed)}
    assert run_id in records, f"{variant.name}: the run is not listed"
    record = records[run_id]
    # Everything a reader shows can be computed without an error.
    shown = (record.state, record.name, record.epoch, record.epochs_total, record.best,
             record.started, record.duration, record.layer_names)
    assert isinstance(shown[0], str) and isinstance(shown[2], int)
    if variant.noted:
        assert any(variant.file in note for note in record.notes), record.notes
    if variant.file != "events.jsonl":  # the events are whole: all 25 epochs are there
        assert len(record.epochs) == 25
    else:
        assert len(record.epochs) >= 23 or variant.name.startswith("events-a-")
    assert good_run_as_read(malformed) == ("finished", 25, (12, pytest.approx(0.69378, 1e-4)),
                                           25)


def test_runs_command_lists_every_run_and_notes_the_bad_files(malformed: Path) -> None:
    done = cli("runs", "--runs-dir", str(malformed))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for index, variant in enumerate(VARIANTS):
        assert variant_id(index, variant) in done.stdout
    assert GOOD_RUN in done.stdout
    assert "config.yaml: ignored, not UTF-8 text" in done.stderr
    as_json = cli("runs", "--runs-dir", str(malformed), "--json")
    assert as_json.returncode == 0, as_json.stderr
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(rows) == len(VARIANTS) + 1
    good = next(r for r in rows if r["id"] == GOOD_RUN)
    assert (good["state"], good["epoch"], good["best_epoch"]) == ("finished", 25, 12)


@pytest.mark.parametrize("formats", ["csv,jsonl", "parquet", "tensorboard"])
def test_export_of_every_run_in_every_format(malformed: Path, tmp_path: Path,
                                              formats: str) -> None:
    out = tmp_path / "out"
    done = cli("export", "--all", "--format", formats, "--runs-dir", str(malformed),
               "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    if "csv" in formats:
        import pandas as pd

        table = pd.read_csv(out / "metrics.csv")
        assert set(table["run_id"]) >= {GOOD_RUN}
        good = table[table["run_id"] == GOOD_RUN]
        assert list(good["epoch"]) == list(range(1, 26))
        assert len(list(out.glob("*.events.jsonl"))) >= len(VARIANTS)
    if formats == "parquet":
        import pandas as pd

        table = pd.read_parquet(out / "metrics.parquet")
        assert len(table[table["run_id"] == GOOD_RUN]) == 25
    if formats == "tensorboard":
        assert (out / "tensorboard" / GOOD_RUN).is_dir()


async def test_the_app_lists_every_run_and_shows_each(malformed: Path) -> None:
    app = DmtApp(malformed)
    async with app.run_test(size=(120, 36)) as pilot:
        runs_list = app.screen.query_one(RunsList)
        await wait_for(pilot, lambda: len(runs_list.records) == len(VARIANTS) + 1,
                       "every run listed")
        seen = {runs_list.selected_run}
        for _ in range(len(VARIANTS)):  # from the newest up, each run selected: panels draw
            await pilot.press("up")
            await pilot.pause(0.05)
            assert app.is_running
            seen.add(runs_list.selected_run)
        assert seen == set(runs_list.records)
        for _ in range(16):  # the good run and the config variants, marked and compared
            await pilot.press("space")
            await pilot.pause(0.05)
            await pilot.press("down")
            await pilot.pause(0.05)
        await pilot.press("c")
        await wait_for(pilot, lambda: "Comparing 16 runs" in screen_text(app), "compare")
        await pilot.press("t", "l", "escape")
        await wait_for_text(pilot, "deep-sigmoid-vanishing", "25/25")
        assert "Unexpected error" not in screen_text(app)
    assert app.return_code in (0, None)


@pytest.mark.parametrize("bad", ["config-not-utf8", "epoch-last-a-string",
                                 "epoch-a-string", "status-pid-a-string"])
async def test_the_app_opens_on_a_folder_whose_newest_run_is_bad(tmp_path: Path,
                                                                  bad: str) -> None:
    """The newest run is selected on open: a bad one must not keep the app from opening
    (today: "No runs yet" for a non-UTF-8 config, a crash for a non-numeric epoch)."""
    variant = next(v for v in VARIANTS if v.name == bad)
    runs = tmp_path / "runs"
    made = make_variants(runs, [variant])
    (run_id,) = made
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, run_id[:30], GOOD_RUN[:30], timeout=60)
        await wait_for(pilot, lambda: "Read in part" in screen_text(app),
                       "the note about the bad file", timeout=30)
        await pilot.press("down", "up", "down")
        await pilot.pause(0.3)
        assert app.is_running
        assert "Unexpected error" not in screen_text(app)
    assert app.return_code in (0, None)

