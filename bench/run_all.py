"""Every app benchmark of issue 5 in one run, then one table: figure, measured, budget.

    python bench/run_all.py [--quick]

Runs, one after another on the same machine: time to first screen against importing torch
(bench/first_screen.py), plot redraw (bench/plot_redraw.py), the app under load
(bench/app_load.py), with history (bench/app_history.py) and with long histories
(bench/app_long_run.py), each with its defaults
(`--quick`: fewer repeats, shorter windows). Each prints its own details as it goes; the
table at the end is Markdown, with the date, the machine and its load. The trainer's rows
(throughput, memory, concurrency) have their own scripts.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import app_history  # noqa: E402
import app_load  # noqa: E402
import app_long_run  # noqa: E402
import first_screen  # noqa: E402
import plot_redraw  # noqa: E402
from figures import Figure  # noqa: E402


def first_screen_figure(repeat: int) -> Figure:
    """dmt-tui with the recorded run, to the run on screen, against `import torch` (the
    budget is half the torch import, measured in the same run)."""
    first_screen.time_app(first_screen.RECORDED)  # warm, as first_screen.py does
    apps, torches = [], []
    for _ in range(repeat):
        apps.append(first_screen.time_app(first_screen.RECORDED)[1])
        torches.append(first_screen.time_torch_import())
    torch_s = statistics.median(torches)
    figure = Figure("time to first screen (a run drawn)", statistics.median(apps), "s",
                    torch_s / 2, f"median, pty; budget is half of import torch, {torch_s:.2f} s")
    print("time to first screen (bench/first_screen.py)")
    print(figure.line())
    return figure


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter windows")
    args = parser.parse_args()
    began, load_before = time.time(), load()
    redraw = plot_redraw.parser().parse_args(["--repeat", "15"] if args.quick else [])
    under_load = app_load.parser().parse_args(["--seconds", "10"] if args.quick else [])
    history = app_history.parser().parse_args(["--repeat", "1"] if args.quick else [])
    long_run = app_long_run.parser().parse_args(["--repeat", "1", "--seconds", "10"]
                                                if args.quick else [])
    figures = [first_screen_figure(2 if args.quick else 5)]
    for name, step in (("plot redraw", lambda: plot_redraw.run(redraw)),
                       ("app under load", lambda: app_load.run(under_load)),
                       ("app with history", lambda: app_history.run(history)),
                       ("long histories", lambda: app_long_run.run(long_run))):
        print(f"\n--- {name}", flush=True)
        figures += step()
    print(f"\n{time.strftime('%Y-%m-%d %H:%M', time.localtime(began))}, {machine()}")
    print(f"machine load: {load_before} before, {load()} after "
          f"({time.time() - began:.0f} s in all)\n")
    print("| figure | measured | budget | |")
    print("|---|---|---|---|")
    for figure in figures:
        print(figure.row())
    missed = [f.name for f in figures if not f.passed]
    print(f"\n{len(figures) - len(missed)} of {len(figures)} within budget"
          + (f"; missed: {', '.join(missed)}" if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
