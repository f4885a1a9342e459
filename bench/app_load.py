"""The app under load: 8 live runs, each writing 20 epochs a second, while the app watches.

    python bench/app_load.py [--runs 8] [--rate 20] [--seconds 20]

A writer process (bench/synthetic_runs.py `live`) appends contract-true events to 8 run
folders: `start`, then per epoch `epoch` and `grad` (4 layers), `progress` every 4th epoch,
and a status.json heartbeat with its live pid every second. The app is the real one in a
120x36 pty (this script with `--app`: `DmtApp` run with `run_async` beside a probe), and it
is measured on two things:

- event-loop lag: a task on the app's own asyncio loop sleeps 10 ms over and over and notes
  how late it wakes; anything that blocks the loop (reading events, drawing, rendering)
  shows as lateness. p50, p99 and the worst over the window.
  Measured over `--seconds` of load with no key pressed.
- key to screen: then, for another `--seconds`, once a second `up` or `down` moves the runs
  list's selection between the two newest runs; the clock runs from writing the key to the
  pty until both the newly selected run's learning rate (shown only in its Run panel) and
  its first layer's name (in the Gradient norms panel) have come out of the app.

Also prints the app's CPU use over the window and how many epochs the runs really wrote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from figures import Figure  # noqa: E402
from pty_app import FIRST_FRAME, PtyApp  # noqa: E402
from synthetic_runs import grad_marker, run_markers  # noqa: E402

from dmt_tui import rundir  # noqa: E402

BUDGET_LAG_MS, BUDGET_KEY_MS = 50.0, 100.0
PROBE_S = 0.010  # the lag probe's sleep
SETTLE_S = 3.0  # after the first screen, before the window opens


# ---- the app side (run with --app, inside the pty) -----------------------------------------


async def lag_probe(samples: list[tuple[float, float]]) -> None:
    """Sleep PROBE_S again and again on the app's loop; note (when, how late) each time."""
    loop = asyncio.get_running_loop()
    while True:
        began = loop.time()  # time.monotonic(): the same clock as the measuring process
        await asyncio.sleep(PROBE_S)
        samples.append((began, loop.time() - began - PROBE_S))


async def probed_app(runs_dir: Path, lag_file: Path) -> None:
    from dmt_tui.app.app import FREEZE_AFTER_S, DmtApp

    samples: list[tuple[float, float]] = []
    probe = asyncio.create_task(lag_probe(samples))
    try:
        await DmtApp(runs_dir, freeze_after_s=FREEZE_AFTER_S).run_async()  # as `dmt-tui` runs
    finally:
        probe.cancel()
        lag_file.write_text(json.dumps(samples), "utf-8")


# ---- the measuring side -----------------------------------------------------------------------


def start_writer(runs_dir: Path, runs: int, rate: float, seconds: float) -> subprocess.Popen[bytes]:
    writer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "synthetic_runs.py"),
                               "live", str(runs_dir), "--runs", str(runs), "--rate", str(rate),
                               "--seconds", str(seconds)])
    deadline = time.monotonic() + 30
    while sum(1 for _ in rundir.iter_run_dirs(runs_dir)) < runs:
        if time.monotonic() > deadline or writer.poll() is not None:
            writer.kill()
            raise RuntimeError("the writer did not start its runs")
        time.sleep(0.05)
    return writer


def epochs_written(runs_dir: Path) -> int:
    return sum(rundir.read_status(d).get("epoch") or 0 for d in rundir.iter_run_dirs(runs_dir))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lag_figures(samples: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """The lag samples (ms) of the probe sleeps that began between `start` and `end`."""
    return [1000 * lag for began, lag in samples if start <= began <= end]


def measure(args: argparse.Namespace, folder: Path) -> list[Figure]:
    runs_dir, lag_file = folder / "runs", folder / "lag.json"
    writer = start_writer(runs_dir, args.runs, args.rate, 2 * args.seconds + 60)
    newest, previous = args.runs - 1, args.runs - 2
    try:
        app = PtyApp([sys.executable, __file__, "--app", str(runs_dir), str(lag_file)])
        try:
            app.wait_for(FIRST_FRAME, timeout=60)
            app.wait_for(run_markers(newest)[0], grad_marker(newest), timeout=60)
            app.pump(SETTLE_S)
            # Phase 1: the load alone, nobody at the keyboard.
            load_start, cpu_start = time.monotonic(), app.cpu_s()
            written_start = epochs_written(runs_dir)
            app.pump(args.seconds)
            load_end, cpu_end = time.monotonic(), app.cpu_s()
            written = epochs_written(runs_dir) - written_start
            # Phase 2: a key a second, each timed until both the Run panel and the Gradient
            # norms panel show the newly selected run.
            keys_start = time.monotonic()
            keys: list[float] = []
            while time.monotonic() - keys_start < args.seconds:
                key, target = ("up", previous) if len(keys) % 2 == 0 else ("down", newest)
                pressed = time.monotonic()
                since = app.press(key)
                keys.append(1000 * app.wait_for(run_markers(target)[0], grad_marker(target),
                                                since=since, timeout=10))
                app.pump(max(0.0, pressed + 1.0 - time.monotonic()))
            keys_end = time.monotonic()
        finally:
            app.quit()
    finally:
        writer.kill()
        writer.wait()
    samples = json.loads(lag_file.read_text("utf-8"))
    lags = lag_figures(samples, load_start, load_end)
    key_lags = lag_figures(samples, keys_start, keys_end)
    window = load_end - load_start
    print(f"app under load: {args.runs} live runs writing {args.rate:g} epochs/s each, "
          f"120x36 pty, {window:.0f} s of load then {len(keys)} keys")
    print(f"  the runs wrote {written / window / args.runs:.1f} epochs/s each "
          f"({written} epochs); app CPU {100 * (cpu_end - cpu_start) / window:.0f}% of a core")
    figures = [Figure("load: event-loop lag p99", percentile(lags, 0.99), "ms", BUDGET_LAG_MS,
                      f"{args.runs} live runs, {args.rate:g} epochs/s each"),
               Figure("load: key to screen", statistics.median(keys), "ms", BUDGET_KEY_MS,
                      "median, pty")]
    print(figures[0].line())
    print(f"  {'':<56} (p50 {statistics.median(lags):.1f} ms, worst {max(lags):.1f} ms, "
          f"{len(lags)} samples of a {1000 * PROBE_S:g} ms sleep)")
    print(figures[1].line())
    print(f"  {'':<56} (p90 {percentile(keys, 0.9):.1f} ms, worst {max(keys):.1f} ms, "
          f"{len(keys)} presses; lag p99 while pressing {percentile(key_lags, 0.99):.1f} ms)")
    return figures


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="live runs (default 8)")
    parser.add_argument("--rate", type=float, default=20.0, help="epochs a second (default 20)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of load, then of keys (default 20)")
    return parser


def run(args: argparse.Namespace) -> list[Figure]:
    """Measure the app under load; print the figures and return them."""
    with tempfile.TemporaryDirectory() as folder:
        return measure(args, Path(folder))


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--app":
        asyncio.run(probed_app(Path(sys.argv[2]), Path(sys.argv[3])))
        return 0
    run(parser().parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
