"""The Progress panel shows what the trainer's `progress` events say it uses: RSS and CPU
everywhere, CUDA's allocator counters and NVML's GPU figures where the event has them; a run
that ran out of CUDA memory shows its peak beside the reason. No GPU here: the run folders
are the recorded run with crafted events, as a CUDA trainer writes them (rundir.events)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from dmt_tui.app.app import DmtApp
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN, screen_text, wait_for, wait_for_text

CPU_ONLY = {"rss_mb": 412.4, "cpu_percent": 97.6}
ON_CUDA = {**CPU_ONLY, "cuda_allocated_mb": 1228.8, "cuda_reserved_mb": 2048.0,
           "cuda_peak_mb": 1536.0, "gpu_util_percent": 87, "gpu_memory_used_mb": 10547.2}
OOM = {"state": "failed", "reason": "CUDA out of memory",
       "error": "CUDA out of memory. Tried to allocate 2.00 GiB"}


def crafted_run(runs_dir: Path, name: str, fields: dict[str, Any],
                end: dict[str, Any] | None = None) -> Path:
    """The recorded run as `name`, with a progress event of `fields` in its last epoch, and
    its `end` (and status) changed by `end`."""
    run_dir = runs_dir / f"20261126-1548{len(list(runs_dir.glob('*'))):02d}-{name}"
    shutil.copytree(DATA_RUNS / RECORDED_RUN, run_dir)
    events = [json.loads(line) for line in
              (run_dir / "events.jsonl").read_text("utf-8").splitlines()]
    progress = {"type": "progress", "time": events[-1]["time"] - 0.01, "epoch": 25, "step": 5,
                "steps": 10, "samples_per_s": 12000.0, **fields}
    events.insert(-1, progress)
    events[-1].update(end or {})
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    status = json.loads((run_dir / "status.json").read_text("utf-8"))
    (run_dir / "status.json").write_text(json.dumps({**status, **(end or {})}))
    return run_dir


def panel(screen: str, title: str) -> list[str]:
    """The rows of the bordered panel titled `title` in the right-hand column, inside its
    border (the status column is the screen's right half)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if f"─ {title} ─" in line)
    left = lines[top].index(f"╭─ {title}")
    rows = []
    for line in lines[top + 1:]:
        cell = line[left:]
        if cell.startswith("╰"):
            return rows
        rows.append(cell[1:cell.index("│", 1)].strip())
    raise AssertionError(f"the {title} panel has no bottom edge:\n{screen}")


TITLES = {"run-info": "Run", "early-stop": "Early stopping", "progress": "Progress"}


async def shown(app: DmtApp, pilot: Pilot[Any], panel_id: str, *texts: str,
                last: str | None = None) -> str:
    """The screen once the panel is on it whole, border to border, with every one of
    `texts` on one of its rows and, given `last`, that as its last row: at 80x24 the status
    column scrolls (the gradient panel keeps its place below it), and a row drawn before its
    scroll bar came may wrap, or leave the panel a row taller, until the panel's next tick."""
    widget = app.screen.query_one(f"#{panel_id}")

    def whole() -> bool:
        widget.scroll_visible(animate=False, immediate=True)
        try:
            rows = panel(screen_text(app), TITLES[panel_id])
            return (all(text in "\n".join(rows) for text in texts)
                    and (last is None or rows[-1:] == [last]))
        except (StopIteration, ValueError, AssertionError):  # not on screen whole yet
            return False

    await wait_for(pilot, whole, f"{texts!r} in the whole #{panel_id}")
    return screen_text(app)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_cuda_fields_show_in_the_progress_panel(runs_dir: Path,
                                                      size: tuple[int, int]) -> None:
    crafted_run(runs_dir, "cuda", ON_CUDA)
    app = DmtApp(runs_dir)
    async with app.run_test(size=size) as pilot:
        screen = await shown(app, pilot, "progress", "RSS 412M", "10/10 steps", "samples/s",
                             last="CUDA alloc 1.2G res 2.0G peak 1.5G")
        rows = panel(screen, "Progress")
        assert rows[0].startswith("epoch 25/25") and "samples/s" in rows[1]
        assert rows[-2:] == ["RSS 412M  CPU 98%  GPU 87% 10.3G",
                             "CUDA alloc 1.2G res 2.0G peak 1.5G"]


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_a_cpu_run_shows_memory_and_cpu_only(runs_dir: Path,
                                                   size: tuple[int, int]) -> None:
    crafted_run(runs_dir, "cpu", CPU_ONLY)
    app = DmtApp(runs_dir)
    async with app.run_test(size=size) as pilot:
        screen = await shown(app, pilot, "progress", "RSS 412M", last="RSS 412M  CPU 98%")
        assert panel(screen, "Progress")[-1] == "RSS 412M  CPU 98%"
        assert "CUDA" not in screen and "GPU" not in screen


async def test_a_run_without_progress_fields_shows_none(runs_dir: Path) -> None:
    crafted_run(runs_dir, "old", {})  # a progress event from before the fields existed
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await shown(app, pilot, "progress", "epoch 25/25", "elapsed")
        assert panel(screen, "Progress")[0].startswith("epoch 25/25")
        assert len(panel(screen, "Progress")) == 2
        assert "RSS" not in screen and "CPU" not in screen


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_a_cuda_oom_shows_its_peak_beside_the_reason(runs_dir: Path,
                                                           size: tuple[int, int]) -> None:
    crafted_run(runs_dir, "oom", {**ON_CUDA, "cuda_peak_mb": 10444.8}, OOM)
    app = DmtApp(runs_dir)
    async with app.run_test(size=size) as pilot:
        screen = await shown(app, pilot, "early-stop", "10.2G)")  # 80x24 may wrap it
        ending = " ".join(" ".join(panel(screen, "Early stopping")).split())
        assert "failed: CUDA out of memory (peak 10.2G)" in ending


async def test_no_peak_beside_other_reasons(runs_dir: Path) -> None:
    crafted_run(runs_dir, "cuda", ON_CUDA)  # finished: its reason is no memory's
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_for_text(pilot, "finished: completed all 25 epochs")
        assert "(peak" not in " ".join(panel(screen, "Early stopping"))


@pytest.mark.parametrize("size", [(120, 36), (80, 24)])
async def test_every_status_panel_shows_all_its_rows(runs_dir: Path,
                                                     size: tuple[int, int]) -> None:
    """The status column's panels keep every line at both sizes: the Progress panel's
    last row used to be cut at 80x24; there the column scrolls to it."""
    crafted_run(runs_dir, "cuda", ON_CUDA)
    app = DmtApp(runs_dir)
    async with app.run_test(size=size) as pilot:
        # panel() finds each one's bottom edge; the last line of each is above it
        screen = await shown(app, pilot, "run-info", last="batch 32  seed 0  7,554 params")
        assert panel(screen, "Run")[-1] == "batch 32  seed 0  7,554 params"
        screen = await shown(app, pilot, "early-stop", last="finished: completed all 25 epochs")
        assert panel(screen, "Early stopping")[-1] == "finished: completed all 25 epochs"
        screen = await shown(app, pilot, "progress", last="CUDA alloc 1.2G res 2.0G peak 1.5G")
        assert panel(screen, "Progress")[-1] == "CUDA alloc 1.2G res 2.0G peak 1.5G"
        if size == (120, 36):  # and the gradient panel below them, whole (at 80x24 the
            # panels scroll to it: test_snapshots.test_gradient_panel_scrolled_into_view)
            screen = await wait_for_text(pilot, "[ ] layer fc1 (1/9)")
            assert panel(screen, "Gradient norms")[-1].startswith("[ ] layer fc1 (1/9)")
