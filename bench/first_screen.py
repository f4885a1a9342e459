"""Time to first screen of `dmt-tui` in a pseudo-terminal, beside `python -c "import torch"`.

    python bench/first_screen.py [--repeat 5] [--runs-dir DIR]

Starts the app in a 120x36 pty, reads what it writes, and stops the clock when the footer
(`New run`) is drawn, and again when the runs folder's newest run is on screen; then sends
`q`. The runs folder defaults to the recorded run the tests use. Prints the median and the
best of each over the repeats.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dmt_tui import rundir  # noqa: E402 - torch-free; after the path, to run from a checkout

RECORDED = ROOT / "tests" / "data" / "recorded"
FIRST_FRAME = b"New run"  # the footer: the layout is on screen
WITH_DATA = b"completed all"  # the early-stopping panel: the run has been read and drawn


def time_app(runs_dir: Path, timeout: float = 60.0) -> tuple[float, float]:
    """Seconds from spawn to the first frame (the footer drawn), and to the screen showing
    a run (0.0 when the folder holds none)."""
    expect_run = any(rundir.iter_run_dirs(runs_dir))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    began = time.perf_counter()
    app = subprocess.Popen([sys.executable, "-m", "dmt_tui.cli", "--runs-dir", str(runs_dir)],
                           stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                           start_new_session=True)
    os.close(slave)
    seen, first, full = b"", 0.0, 0.0
    try:
        while not (first and (full or not expect_run)):
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"no screen after {timeout}s; got {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            seen += os.read(master, 65536)
            now = time.perf_counter() - began
            if not first and FIRST_FRAME in seen:
                first = now
            if not full and WITH_DATA in seen:
                full = now
        os.write(master, b"q")
        while app.poll() is None:  # keep reading: a full pty would block the app's exit
            if time.perf_counter() - began > 2 * timeout:
                raise TimeoutError("the app did not quit on q")
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:  # the app closed its side
                    break
        app.wait(timeout)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        os.close(master)
    return first, full


def time_torch_import() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--runs-dir", type=Path, default=RECORDED,
                        help="the runs folder the app opens (default: the recorded run)")
    args = parser.parse_args()
    time_app(args.runs_dir)  # warm the file cache and bytecode, as any second start is
    firsts, fulls, torches = [], [], []
    for _ in range(args.repeat):
        first, full = time_app(args.runs_dir)
        firsts.append(first)
        fulls.append(full)
        torches.append(time_torch_import())
    rows = [("dmt-tui, first screen", firsts), ("dmt-tui, a run on screen", fulls),
            ('python -c "import torch"', torches)]
    for label, values in [(label, v) for label, v in rows if any(v)]:
        print(f"{label:<26} median {statistics.median(values):.2f} s   "
              f"best {min(values):.2f} s   ({len(values)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
