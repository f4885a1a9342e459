"""The UI process never imports torch: checked in a fresh interpreter, since other tests in
this one may have loaded it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.tui.conftest import DATA_RUNS

MOUNT_AND_CHECK = """
import asyncio, sys
from pathlib import Path
from dmt_tui.app.app import DmtApp

async def main():
    app = DmtApp(Path(sys.argv[1]))
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(100):  # until the watcher has read the run and the panels drew it
            await pilot.pause(0.05)
            if app.screen.query_one("#loss").border_subtitle:
                break
        await pilot.press("n")  # the launch form imports the preset loader and launcher
        await pilot.pause(0.2)
        print("mounted", app.screen.__class__.__name__)
    print("torch loaded" if "torch" in sys.modules else "torch absent")

asyncio.run(main())
"""


def test_the_app_runs_without_importing_torch() -> None:
    done = subprocess.run([sys.executable, "-c", MOUNT_AND_CHECK, str(DATA_RUNS)],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert "mounted LaunchForm" in done.stdout
    assert "torch absent" in done.stdout
