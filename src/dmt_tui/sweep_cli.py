"""`dmt-tui sweep` and `dmt-tui experiments`: grids and seeds launched in one go.

`sweep` checks every trial's config, writes the experiment's manifest, starts its scheduler
in a session of its own, and (unless `--detach`) follows the manifest: a line per trial as
it ends, then a table per configuration. Ctrl-C asks the scheduler to stop; a dropped
terminal leaves it running. Torch-free, like the scheduler.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from dmt_tui.presets import user_presets_dir
from dmt_tui.presets.schema import ConfigError
from dmt_tui.rundir import RunDirError
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.experiment import MAX_WITHOUT_YES, plan_from
from dmt_tui.rundir.experiment_table import (
    experiments_listing,
    summary_rows,
    summary_text,
    trial_result,
    trial_results,
)
from dmt_tui.rundir.scheduler import default_parallel, start

FOLLOW_S = 0.3  # how often a foreground sweep reads the manifest


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preset", nargs="?", metavar="PRESET|LESSON",
                        help="a preset (name or YAML file) or a lesson (see: dmt-tui presets)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="values of one key to try, e.g. optimizer.lr=0.1,0.01 or "
                        "model.hidden=[16],[16,16]; several --grid are crossed")
    parser.add_argument("--variant", action="append", default=[], metavar='"K=V K2=V2"',
                        help="settings that go together, one configuration each; crossed "
                        "with the grids")
    parser.add_argument("--seeds", default=None, metavar="N|S1,S2,...",
                        help="N seeds (0..N-1) or a list such as 0,3,7 (default: the "
                        "preset's seed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="change the base preset for every trial")
    parser.add_argument("--parallel", type=_positive, default=None, metavar="K",
                        help="trials at once (default: one per GPU on CUDA, else the cores)")
    parser.add_argument("--name", default=None, help="the experiment's name (default: the "
                        "preset's or lesson's)")
    parser.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="where runs live (default: $DMT_RUNS_DIR or ./runs)")
    parser.add_argument("--presets-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--detach", action="store_true",
                        help="return at once with the experiment's id")
    parser.add_argument("--yes", action="store_true",
                        help=f"start more than {MAX_WITHOUT_YES} trials")
    parser.add_argument("--resume", default=None, metavar="EXPERIMENT",
                        help="start the trials of an interrupted experiment that never started")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def fail(message: str, code: int = 2) -> int:
    print(f"dmt-tui: error: {message}", file=sys.stderr)
    return code


def sweep_command(args: argparse.Namespace, runs_dir: Path) -> int:
    """Plan, check, start; then follow unless detached. Exit 0 when every trial ended
    finished or early-stopped, 4 when stopped, 1 otherwise, 2 for bad input."""
    if args.resume:
        if args.preset or args.grid or args.variant or args.seeds or args.overrides:
            return fail("--resume EXPERIMENT takes no preset, --grid, --variant, --seeds or "
                        "--set: the experiment's manifest holds them")
        found = manifests.find(runs_dir, args.resume)
        if found is None:
            return fail(f"no experiment {args.resume!r} in {runs_dir} (see: dmt-tui "
                        f"experiments --runs-dir {runs_dir})")
        if manifests.scheduler_alive(found):
            return fail(f"experiment {found['id']} is running (scheduler pid "
                        f"{found['scheduler']['pid']}); nothing to resume")
        manifest = found
        left = sum(not t.get("run_id") for t in manifest["trials"])
        print(f"experiment {manifest['id']}: resuming, {left} trial(s) never started")
    else:
        if not args.preset:
            return fail("give a PRESET or LESSON to sweep (see: dmt-tui presets), or "
                        "--resume EXPERIMENT")
        try:
            plan = plan_from(args.preset, args.grid, args.variant, args.seeds, args.overrides,
                             user_presets_dir(args.presets_dir))
        except ConfigError as err:
            return fail(str(err))
        if len(plan.trials) > MAX_WITHOUT_YES and not args.yes:
            return fail(f"that makes {len(plan.trials)} trials ({plan.configurations} "
                        f"configurations x {len(plan.seeds)} seeds), more than "
                        f"{MAX_WITHOUT_YES}; add --yes to start them")
        parallel = args.parallel or default_parallel(plan.base)
        name = args.name or Path(args.preset).stem
        try:
            manifest = manifests.create(runs_dir, plan, name, parallel)
        except RunDirError as err:
            return fail(str(err))
        print(f"experiment {manifest['id']}: {len(plan.trials)} trials "
              f"({plan.configurations} configurations x {len(plan.seeds)} seeds), "
              f"{parallel} at a time")
        if plan.description:
            print(f"look for: {plan.description}")
    try:
        scheduler = start(runs_dir, manifest["id"])
    except OSError as err:
        return fail(f"cannot start the scheduler: {err}")
    if args.detach:
        print(f"{manifest['id']} (scheduler pid {scheduler.pid}); follow with: dmt-tui "
              f"experiments; stop with: kill {scheduler.pid}")
        return 0
    return follow(runs_dir, manifest["id"], scheduler)


def follow(runs_dir: Path, experiment_id: str, scheduler: subprocess.Popen[bytes]) -> int:
    """Print each trial as it ends, then the summary; Ctrl-C (or SIGTERM) stops the sweep."""
    asked: list[str] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if not asked:
            print("stopping: running trials end `stopped`, queued ones are cancelled "
                  "(Ctrl-C again leaves them to it)", flush=True)
            scheduler.send_signal(signal.SIGTERM)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        asked.append(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    path = manifests.path_of(runs_dir, experiment_id)
    printed: set[int] = set()
    manifest: dict[str, Any] | None = None
    while True:
        done = scheduler.poll() is not None  # read the manifest after: then it is final
        manifest = manifests.read(path) or manifest
        if manifest is not None:
            _print_ended(runs_dir, manifest, printed)
        if done:
            break
        time.sleep(FOLLOW_S)
    if manifest is None:
        return fail(f"{path}: the experiment's manifest cannot be read", 1)
    if manifest.get("state") not in ("ended", "stopped"):
        print(f"the scheduler ended unexpectedly (see {manifests.log_path(runs_dir, experiment_id)}"
              f"); start the rest with: dmt-tui sweep --resume {experiment_id}")
    results = trial_results(runs_dir, manifest)
    print()
    print(summary_text(manifest, summary_rows(manifest, results)))
    states = [r.state for r in results]
    if all(s in manifests.GOOD_ENDS for s in states):
        return 0
    return 4 if asked or manifest.get("state") == "stopped" else 1


def _print_ended(runs_dir: Path, manifest: dict[str, Any], printed: set[int]) -> None:
    trials = manifest["trials"]
    for trial in trials:
        if trial["index"] in printed or trial.get("state") not in manifests.ENDED:
            continue
        printed.add(trial["index"])
        r = trial_result(runs_dir, trial)
        if not r.run_id:
            print(f"[{len(printed)}/{len(trials)}] {r.state:<13} {r.label} seed {r.seed}",
                  flush=True)
            continue
        loss = "-" if r.best_val_loss is None else f"{r.best_val_loss:.4g} @{r.best_epoch}"
        acc = "" if r.best_val_acc is None else f"  acc {r.best_val_acc * 100:.1f}%"
        took = "" if r.seconds is None else f"  {r.seconds:.1f}s"
        print(f"[{len(printed)}/{len(trials)}] {r.state:<13} {r.label} seed {r.seed}  "
              f"best val {loss}{acc}{took}  {r.run_id}", flush=True)


def add_experiments_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="where runs live (default: $DMT_RUNS_DIR or ./runs)")
    parser.add_argument("--json", action="store_true", help="one JSON object per experiment")


def experiments_command(args: argparse.Namespace, runs_dir: Path) -> int:
    return experiments_listing(runs_dir, args.json)
