"""The app keeps only the newest `grad` event whole; the older ones keep what the total-norm
plot reads, so a long run's histograms do not pile up in memory."""

from __future__ import annotations

from pathlib import Path

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.app.store import total_mean
from tests.tui.conftest import RECORDED_RUN, screen_text, wait_for


async def test_older_grad_events_keep_their_epoch_and_total_norm(recorded_runs: Path) -> None:
    on_disk = [e for e in rundir.read_events(recorded_runs / RECORDED_RUN)[0]
               if e["type"] == "grad"]
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "layer fc1 (1/9)" in screen_text(app), "the grad panel")
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        grads = screen.store.records[RECORDED_RUN].grads
        assert len(grads) == len(on_disk) == 25
        assert grads[-1] == on_disk[-1]  # the histogram and depth plots read all of it
        assert all("layers" not in g for g in grads[:-1])
        assert [(g["epoch"], total_mean(g)) for g in grads] == \
            [(g["epoch"], g["total"]["mean"]) for g in on_disk]
        assert "total norm over epochs" in screen_text(app)
