"""The app with one experiment of 200 finished runs in its runs folder (issue 15's budgets):
first screen <= 1 s, the experiment view drawn <= 0.5 s after `x`, RSS <= 250 MB (and,
this project's own budget, its plots of all 200 trials within 1 s).

    python bench/app_experiment.py [--configurations 20] [--seeds 10] [--epochs 100]

The experiment is planned as `dmt-tui sweep` plans one (xor-adam, 20 learning rates x 10
seeds) and its manifest written as the scheduler writes it; each trial's run folder is a
contract-true finished run (bench/synthetic_runs.py: start, epoch and grad events of 4
layers, end, status.json) whose config.yaml has the scheduler's `experiment` section. The
app is the real `dmt-tui` in a 120x36 pty. The clocks stop when the screen shows the runs
(the experiment's one row: `200/200 done`) and, after `x`, when the experiment view's header
shows every trial ended and its leaderboard's rows are drawn, and again when its plots are
(the trials' events are read in a thread: the view does not wait for them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from figures import Figure  # noqa: E402
from pty_app import FIRST_FRAME, PtyApp  # noqa: E402
from synthetic_runs import SyntheticRun  # noqa: E402

from dmt_tui.rundir import experiment, manifest  # noqa: E402


def lrs(count: int) -> list[str]:
    return [f"{10 ** (-4 + 3 * i / max(1, count - 1)):.3g}" for i in range(count)]


def write_experiment(runs_dir: Path, configurations: int, seeds: int, epochs: int) -> str:
    """The manifest and every trial's finished run folder; returns the experiment's id."""
    plan = experiment.plan_from("xor-adam", [f"optimizer.lr={','.join(lrs(configurations))}"],
                                [], str(seeds))
    written = manifest.create(runs_dir, plan, "bench-200", parallel=2)
    for index, trial in enumerate(written["trials"]):
        run = SyntheticRun(runs_dir, index, epochs)
        for _ in range(epochs):
            run.epoch(progress=False)
        run.finish()
        with (run.run_dir / "config.yaml").open("a", encoding="utf-8") as config:
            # what the scheduler adds to a trial's config: the runs list groups it by this
            config.write(f"experiment: {{id: {written['id']}, group: {{optimizer.lr: "
                         f"{trial['group']['optimizer.lr']}}}, trial: {index}}}\n")
        trial.update(run_id=run.run_dir.name, state="finished")
    written["state"] = "finished"
    manifest.write(runs_dir, written)
    return str(written["id"])


def measure(runs_dir: Path, trials: int) -> tuple[float, float, float, float]:
    """Seconds to the first screen with the runs, seconds from `x` to the drawn experiment
    view (header and leaderboard) and to its plots of every trial (the depth plot's points),
    and the app's peak RSS in MB."""
    app = PtyApp.dmt_tui(runs_dir)
    try:  # the trials list as the experiment's one row, its progress counted
        app.wait_for(FIRST_FRAME, f"{trials}/{trials} done".encode())
        first = time.perf_counter() - app.began
        app.drain()
        since = app.press("x")
        began = time.perf_counter()
        app.wait_for(f"{trials}/{trials}".encode(), b"ended", b"optimizer.lr=", since=since)
        view = time.perf_counter() - began
        app.wait_for("●".encode(), since=since)
        plots = time.perf_counter() - began
        app.drain()
        return first, view, plots, app.peak_rss_mb()
    finally:
        app.quit()


def first_screen_empty(runs_dir: Path) -> float:
    """Seconds to the first screen of the app on an empty runs folder: the machine's own
    start-up cost at this moment, beside the figure with 200 runs."""
    runs_dir.mkdir(exist_ok=True)
    app = PtyApp.dmt_tui(runs_dir)
    try:
        app.wait_for(FIRST_FRAME, b"No runs yet")
        return time.perf_counter() - app.began
    finally:
        app.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configurations", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    trials = args.configurations * args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        write_experiment(runs_dir, args.configurations, args.seeds, args.epochs)
        measure(runs_dir, trials)  # warm the file cache and bytecode, as any second start is
        results, empty = [], []
        for _ in range(args.repeats):  # interleaved with the app on an empty folder
            results.append(measure(runs_dir, trials))
            empty.append(first_screen_empty(Path(tmp) / "empty"))
    load = os.getloadavg()[0]
    print(f"one experiment of {trials} finished runs ({args.epochs} epochs, 4 layers each), "
          f"median of {args.repeats} starts, load {load:.1f}; the app on an empty folder "
          f"draws its first screen in {statistics.median(empty):.2f} s beside it")
    figures = [
        Figure("first screen with the runs listed", statistics.median(r[0] for r in results),
               "s", 1.0),
        Figure("experiment view drawn after x", statistics.median(r[1] for r in results),
               "s", 0.5),
        Figure("experiment view's plots of every trial drawn after x",
               statistics.median(r[2] for r in results), "s", 1.0),
        Figure("app peak RSS", max(r[3] for r in results), "MB", 250.0),
    ]
    for figure in figures:
        print(figure.line())
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
