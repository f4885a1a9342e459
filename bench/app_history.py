"""The app with a long history: 50 finished runs of 2,000 epochs in the runs folder.

    python bench/app_history.py [--repeat 3] [--keys 6] [--runs 50] [--epochs 2000]

Writes the runs once (about a minute; kept in the system temp folder and reused), then
starts `dmt-tui` in a 120x36 pty `--repeat` times and measures

- time to first screen: from spawn until the newest run's Run and Loss panels are on screen
  (and, for reference, until the first frame: the footer);
- peak RSS of the app process (VmHWM), after the selection changes;
- selection redraw: from an up/down key until the newly selected run's Run panel (its lr)
  and Loss panel (its last val loss) are on screen: first `up` to runs not looked at yet
  (the app reads their events from disk), then back and forth between two runs.

Prints medians beside the budgets of issue 5.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402
from pty_app import FIRST_FRAME, PtyApp  # noqa: E402
from synthetic_runs import run_markers, write_finished_runs  # noqa: E402

BUDGET_FIRST_S, BUDGET_RSS_MB, BUDGET_SELECT_S = 2.0, 200.0, 0.5


def history_runs(runs: int, epochs: int, runs_dir: Path | None) -> Path:
    """The runs folder, written unless a complete one from an earlier run of this script is
    there (the marker file is written last, so a half-written folder is written again)."""
    folder = runs_dir or Path(tempfile.gettempdir()) / f"dmt-bench-history-{runs}x{epochs}"
    done = folder.with_name(folder.name + ".complete")
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing {runs} runs of {epochs} epochs to {folder} ...", flush=True)
        began = time.perf_counter()
        write_finished_runs(folder, runs, epochs)
        done.write_text("")
        print(f"  written in {time.perf_counter() - began:.0f} s", flush=True)
    return folder


def measure(runs_dir: Path, runs: int, keys: int) -> tuple[float, float, list[float],
                                                         list[float], float]:
    """One app start: (first frame s, first screen with the newest run s, selection redraw
    times to runs not looked at yet s, to the run looked at before s, peak RSS MB)."""
    app = PtyApp.dmt_tui(runs_dir)
    try:
        first = app.wait_for(FIRST_FRAME, timeout=120)
        full = first + app.wait_for(*run_markers(runs - 1), timeout=120)
        cold, warm = [], []
        for n in range(1, keys + 1):  # up, up, ...: each run is new, its events on disk
            app.drain()  # nothing left of the last frame: the clock times this key only
            since = app.press("up")
            cold.append(app.wait_for(*run_markers(runs - 1 - n), since=since, timeout=30))
        for n in range(keys):  # down, up, ...: back and forth between two runs looked at
            app.drain()
            key, target = ("down", runs - keys) if n % 2 == 0 else ("up", runs - 1 - keys)
            since = app.press(key)
            warm.append(app.wait_for(*run_markers(target), since=since, timeout=30))
        app.drain()
        rss = app.peak_rss_mb()
    finally:
        app.quit()
    return first, full, cold, warm, rss


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="app starts (default 3)")
    parser.add_argument("--keys", type=int, default=6, help="selection changes per start")
    parser.add_argument("--runs", type=int, default=50, help="finished runs (default 50)")
    parser.add_argument("--epochs", type=int, default=2000, help="epochs each (default 2000)")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="where to write the runs (default: the temp folder, reused)")
    return parser


def run(args: argparse.Namespace) -> list[Figure]:
    """Start the app `--repeat` times on the history, print the figures and return them."""
    runs_dir = history_runs(args.runs, args.epochs, args.runs_dir)
    measure(runs_dir, args.runs, 1)  # warm the file cache and bytecode, as any second start is
    firsts, fulls, colds, warms, rss = [], [], [], [], []
    for _ in range(args.repeat):
        first, full, cold, warm, peak = measure(runs_dir, args.runs, args.keys)
        firsts.append(first)
        fulls.append(full)
        colds += cold
        warms += warm
        rss.append(peak)
    print(f"app with history: {args.runs} finished runs of {args.epochs} epochs, "
          f"{args.repeat} starts, 120x36 pty")
    print(f"  {'first frame (the footer drawn)':<56} {statistics.median(firsts):8.3g} s")
    figures = [
        Figure("history: time to first screen (newest run drawn)", statistics.median(fulls),
               "s", BUDGET_FIRST_S, "median, pty"),
        Figure("history: peak RSS of the app", statistics.median(rss), "MB", BUDGET_RSS_MB,
               "VmHWM"),
        Figure("history: selection to redraw, a run not yet seen", statistics.median(colds),
               "s", BUDGET_SELECT_S, "median, read from disk"),
        Figure("history: selection to redraw, the run before", statistics.median(warms), "s",
               BUDGET_SELECT_S, "median"),
    ]
    for figure in figures:
        print(figure.line())
    print(f"  worst: first screen {max(fulls):.3f} s, RSS {max(rss):.0f} MB, selection "
          f"{max(colds):.3f} s (new run, of {len(colds)}), {max(warms):.3f} s (run before, "
          f"of {len(warms)})")
    return figures


def main() -> int:
    run(parser().parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
