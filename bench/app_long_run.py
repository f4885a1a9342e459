"""The app on long histories: one run of 100,000 epochs, finished or live, and a runs
folder of 1,000 runs (issue 18, "Long histories").

    python bench/app_long_run.py [--epochs 100000] [--repeat 3] [--seconds 20] [--runs 1000]

Writes the runs once through the trainer's own writers (bench/synthetic_runs.py: 4 layers,
24 bins, about 2.7 kB of events an epoch; kept in the system temp folder and reused), then
starts `dmt-tui` in a 120x36 pty and measures:

- finished run: from spawn until its Loss panel is drawn with the whole history (the
  subtitle names the last epoch's val loss, and the panel draws a run only once all its
  epochs are read) and its Run panel shows it; then the app's peak RSS (VmHWM);
- live run: the same run with its `end` taken off and a writer appending 20 epochs a second
  from epoch 100,001 on (status.json heartbeat with the writer's live pid), watched by the
  app with a probe on its event loop (as bench/app_load.py): the loop lag p99 over
  `--seconds`, from the first screen on, so the first read of the history counts;
- runs list: `--runs` finished runs of 20 epochs; from spawn until the newest run is drawn,
  and the peak RSS.

Prints the figures beside the budgets, and beside the first two the same run at 100 epochs
measured alike, as this machine's reference for a short run under its present load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app_load import lag_figures, percentile  # noqa: E402
from figures import Figure  # noqa: E402
from pty_app import FIRST_FRAME, PtyApp  # noqa: E402
from synthetic_runs import (  # noqa: E402
    epoch_fields,
    grad_fields,
    run_markers,
    write_finished_runs,
)

from dmt_tui import rundir  # noqa: E402

BUDGET_OPEN_S, BUDGET_RSS_MB, BUDGET_LAG_MS = 1.0, 200.0, 50.0
BUDGET_LIST_S, BUDGET_LIST_RSS_MB = 1.0, 250.0
LIVE_RATE = 20.0  # epochs a second, as bench/app_load.py's runs


def written_once(name: str, runs: int, epochs: int) -> Path:
    """A runs folder of `runs` finished runs of `epochs` epochs, written unless a complete
    one is in the temp folder (its marker file is written last)."""
    folder = Path(tempfile.gettempdir()) / f"dmt-bench-{name}-{runs}x{epochs}"
    done = folder.with_name(folder.name + ".complete")
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing {runs} runs of {epochs} epochs to {folder} ...", flush=True)
        began = time.perf_counter()
        write_finished_runs(folder, runs, epochs)
        done.write_text("")
        print(f"  written in {time.perf_counter() - began:.0f} s", flush=True)
    return folder


def open_finished(runs_dir: Path) -> tuple[float, float]:
    """One start on a folder whose newest run is run 0: (seconds to it drawn, peak RSS MB)."""
    app = PtyApp.dmt_tui(runs_dir)
    try:
        drawn = app.wait_for(*run_markers(0), timeout=300)
        app.drain()
        rss = app.peak_rss_mb()
    finally:
        app.quit()
    return drawn, rss


def open_list(runs_dir: Path, runs: int) -> tuple[float, float]:
    """One start on the runs folder: (seconds to the newest run drawn, peak RSS MB)."""
    app = PtyApp.dmt_tui(runs_dir)
    try:
        drawn = app.wait_for(FIRST_FRAME, *run_markers(runs - 1), timeout=300)
        app.drain()
        rss = app.peak_rss_mb()
    finally:
        app.quit()
    return drawn, rss


# ---- the live run ------------------------------------------------------------------------------


def make_live(finished: Path, folder: Path) -> Path:
    """A copy of the finished long run without its `end` event: a run still training."""
    (source,) = rundir.iter_run_dirs(finished)
    run_dir = folder / source.name
    run_dir.mkdir(parents=True)
    shutil.copy(source / rundir.CONFIG, run_dir / rundir.CONFIG)
    with open(source / rundir.EVENTS, "rb") as old, open(run_dir / rundir.EVENTS, "wb") as new:
        shutil.copyfileobj(old, new)
        new.seek(0, os.SEEK_END)
        size = new.tell()
        old.seek(max(0, size - 4096))
        tail = old.read()
        cut = tail.rstrip(b"\n").rfind(b"\n") + 1  # the last line is `end`
        new.truncate(size - (len(tail) - cut))
    return run_dir


def keep_writing(run_dir: Path, rate: float, seconds: float) -> None:
    """Append epochs from where the run is, `rate` a second, with a heartbeat every second;
    run as a process of its own (`--writer`), as a trainer is."""
    status = rundir.read_status(run_dir)
    epochs, epoch = int(status.get("epochs") or 0), int(status.get("epoch") or 0)
    log = rundir.EventLog(run_dir)
    rng = random.Random(0)
    began, beat, tick = time.monotonic(), 0.0, 0
    while time.monotonic() - began < seconds:
        tick += 1
        epoch += 1
        log.write("epoch", **epoch_fields(0, epoch, epochs, rng))
        log.write("grad", **grad_fields(0, epoch, rng))
        if time.monotonic() - beat >= 1.0:
            beat = time.monotonic()
            rundir.write_status(run_dir, **{**status, "state": "running", "pid": os.getpid(),
                                            "epoch": epoch})
        time.sleep(max(0.0, began + tick / rate - time.monotonic()))


def live_lag(finished: Path, seconds: float) -> tuple[list[float], bool]:
    """The loop lag samples (ms) of an app watching the long run while it keeps training,
    from its first screen on, and whether the run was drawn in that window."""
    with tempfile.TemporaryDirectory() as folder:
        runs_dir, lag_file = Path(folder) / "runs", Path(folder) / "lag.json"
        run_dir = make_live(finished, runs_dir)
        status = rundir.read_status(next(rundir.iter_run_dirs(finished)))
        rundir.write_status(run_dir, **{**status, "state": "running", "pid": os.getpid()})
        writer = subprocess.Popen([sys.executable, __file__, "--writer", str(run_dir),
                                   str(seconds + 120)])
        try:
            app_load = Path(__file__).parent / "app_load.py"
            app = PtyApp([sys.executable, str(app_load), "--app", str(runs_dir), str(lag_file)])
            try:
                app.wait_for(FIRST_FRAME, timeout=120)
                start = time.monotonic()
                app.pump(seconds)
                end = time.monotonic()
                shown = run_markers(0)[0] in app.seen
            finally:
                app.quit()
        finally:
            writer.kill()
            writer.wait()
        return lag_figures(json.loads(lag_file.read_text("utf-8")), start, end), shown


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100_000, help="the long run's epochs")
    parser.add_argument("--repeat", type=int, default=3, help="app starts per figure")
    parser.add_argument("--seconds", type=float, default=20.0, help="live window (default 20)")
    parser.add_argument("--runs", type=int, default=1000, help="runs in the list (default 1000)")
    return parser


def run(args: argparse.Namespace) -> list[Figure]:
    """Measure all three; print the figures as they come and return them."""
    long_run = written_once("long", 1, args.epochs)
    size = (next(rundir.iter_run_dirs(long_run)) / rundir.EVENTS).stat().st_size
    many = written_once("list", args.runs, 20)
    print(f"long histories: one run of {args.epochs} epochs ({size / 1e6:.0f} MB of events), "
          f"{args.runs} runs in a list; 120x36 pty, {args.repeat} starts each", flush=True)
    # The same run at 100 epochs, measured alike: what this machine, loaded as it is now,
    # takes to open and watch a short run. What the long run adds is the difference.
    short_run = written_once("long", 1, 100)
    open_finished(long_run)  # warm the file cache and bytecode, as any second start is
    opened = [open_finished(long_run) for _ in range(args.repeat)]
    short = statistics.median(open_finished(short_run)[0] for _ in range(args.repeat))
    figures = [
        Figure(f"long run: open to a drawn loss plot, {args.epochs} epochs",
               statistics.median(t for t, _ in opened), "s", BUDGET_OPEN_S, "median, pty"),
        Figure("long run: peak RSS of the app", statistics.median(r for _, r in opened), "MB",
               BUDGET_RSS_MB, "VmHWM")]
    say(figures, f"worst {max(t for t, _ in opened):.2f} s, {max(r for _, r in opened):.0f} MB;"
        f" the same run at 100 epochs: {short:.2f} s")
    lags, shown = live_lag(long_run, args.seconds)
    short_lags, _ = live_lag(short_run, args.seconds)
    figures.append(Figure("long run, live: event-loop lag p99", percentile(lags, 0.99), "ms",
                          BUDGET_LAG_MS, f"{LIVE_RATE:g} epochs/s, from the first frame"))
    say(figures[-1:], f"p50 {statistics.median(lags):.1f} ms, worst {max(lags):.0f} ms, "
        f"{len(lags)} samples; the same run at 100 epochs: p99 "
        f"{percentile(short_lags, 0.99):.1f} ms" + ("" if shown else
                                  f"; THE RUN WAS NOT DRAWN in {args.seconds:g} s"))
    open_list(many, args.runs)
    listed = [open_list(many, args.runs) for _ in range(args.repeat)]
    figures += [
        Figure(f"runs list: open to the newest run drawn, {args.runs} runs",
               statistics.median(t for t, _ in listed), "s", BUDGET_LIST_S, "median, pty"),
        Figure("runs list: peak RSS of the app", statistics.median(r for _, r in listed), "MB",
               BUDGET_LIST_RSS_MB, "VmHWM")]
    say(figures[-2:], f"worst {max(t for t, _ in listed):.2f} s, "
        f"{max(r for _, r in listed):.0f} MB")
    return figures


def say(figures: list[Figure], worst: str) -> None:
    for figure in figures:
        print(figure.line())
    print(f"  {'':<56} ({worst})", flush=True)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--writer":
        keep_writing(Path(sys.argv[2]), LIVE_RATE, float(sys.argv[3]))
        return 0
    run(parser().parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
