"""`o` in the experiment view sorts the leaderboard by its next column (issue 15: a
leaderboard, sortable): best val loss, val acc, epochs, time, configuration."""

from __future__ import annotations

import json
from pathlib import Path

from dmt_tui.app.app import DmtApp
from dmt_tui.app.experiment_view import ExperimentScreen
from tests.tui.conftest import screen_text, wait_for, wait_for_text
from tests.tui.made_experiment import TRIALS, make_experiment

LOSS_ORDER = ["optimizer.lr=0.05", "optimizer.lr=0.1"]


def board(text: str) -> list[str]:
    """The leaderboard's configurations, top to bottom."""
    return [line.split("━ ", 1)[1].split()[0] for line in text.splitlines()
            if "━ optimizer.lr=" in line and "seed" not in line]


async def test_o_sorts_the_leaderboard(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_experiment(runs)
    for _, run_id, lr, _, _ in TRIALS:  # lr 0.1: the worse loss but the better accuracy
        events = runs / run_id / "events.jsonl"
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        for event in lines:
            if event["type"] == "epoch" and lr == 0.1:
                event["val_acc"] = 0.99
        events.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "3/4 done")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "the view")
        await wait_for_text(pilot, "by best val loss, lowest first (o)", "99.0%")
        # the rows are drawn once the trials' events are read (in a thread): wait for them
        await wait_for(pilot, lambda: board(screen_text(app)) == LOSS_ORDER, "loss order")
        await pilot.press("o")
        await wait_for_text(pilot, "by val acc, highest first (o)")
        await wait_for(pilot, lambda: board(screen_text(app)) == LOSS_ORDER[::-1],
                       "accuracy order")
        for name in ("epochs, fewest first", "time, shortest first", "configuration, A-Z",
                     "best val loss, lowest first"):
            await pilot.press("o")
            await wait_for_text(pilot, f"by {name} (o)")
        await wait_for(pilot, lambda: board(screen_text(app)) == LOSS_ORDER, "loss order again")
