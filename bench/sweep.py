"""Twelve trials of a small built-in preset through `dmt-tui sweep --parallel 2` against the
same twelve with `--parallel 1` (one after another), end to end: planning, the scheduler,
twelve trainer processes, the summary. Budget: parallel <= 0.65 of one after another.

    python bench/sweep.py [--repeats 1] [--parallel 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# xor-adam, 6 learning rates x 2 seeds, 15 epochs of 1,600 rows: a trial trains about as
# long as a trainer takes to start, as in a course's comparisons.
SWEEP = ["xor-adam", "--grid", "optimizer.lr=0.001,0.003,0.01,0.02,0.05,0.1", "--seeds", "2",
         "--set", "train.epochs=15", "--set", "early_stopping.patience=0",
         "--set", "train.device=cpu"]
BUDGET = 0.65


def sweep(runs_dir: str, parallel: int, extra: tuple[str, ...] = ()) -> float:
    """Seconds for the whole foreground sweep."""
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "dmt_tui.cli", "sweep", *SWEEP, *extra,
                           "--parallel", str(parallel), "--runs-dir", runs_dir],
                          capture_output=True, text=True)
    took = time.monotonic() - began
    if done.returncode != 0:
        sys.exit(f"the sweep failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    # Two baselines: `--parallel 1` as a user gets it (each trial takes every core: cores/K
    # threads), and one after another at one thread each, the control that leaves only the
    # overlap of the trials to measure: on a loaded machine two spinning threads are slower
    # than one, which would flatter the parallel sweep. The budget holds against the control.
    one, one_thread, many = [], [], []
    for _ in range(args.repeats):  # alternating, so a change in the machine's load hits all
        with tempfile.TemporaryDirectory() as tmp:
            one.append(sweep(os.path.join(tmp, "one"), 1))
            one_thread.append(sweep(os.path.join(tmp, "one-thread"), 1,
                                    ("--set", "train.threads=1")))
            many.append(sweep(os.path.join(tmp, "many"), args.parallel))
    ratio = statistics.median(m / o for m, o in zip(many, one_thread, strict=True))
    user_ratio = statistics.median(m / o for m, o in zip(many, one, strict=True))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"12 trials on {os.cpu_count()} cores (load {load:.1f}): --parallel "
          f"{args.parallel} {statistics.median(many):.1f} s; one after another "
          f"{statistics.median(one):.1f} s (ratio {user_ratio:.2f}), one after another at one "
          f"thread {statistics.median(one_thread):.1f} s (ratio {ratio:.2f}, budget <= "
          f"{BUDGET:.2f}) {'pass' if ratio <= BUDGET else 'MISS'}")
    return 0 if ratio <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
