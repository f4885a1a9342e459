"""`dmt-tui train --resume RUN_ID`: go on with a stopped, crashed, failed or finished run, in
its own folder, from its last.pt. Its events go on in the same events.jsonl after a `resume`
event, which names the checkpoint's epoch: what the run recorded after that epoch (a crash
can leave last.pt a few seconds behind) is trained again and recorded anew.

Every refusal (a live run, no last.pt, a --set that would change the model or its data)
comes before anything is written, and before torch is imported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmt_tui import rundir
from dmt_tui.presets.schema import ConfigError, dump, load_file

if TYPE_CHECKING:
    from dmt_tui.trainer.host import StopRequest

# What a resumed run keeps: its checkpoint holds this model, trained on these data, with the
# state of this optimizer, in this dtype.
KEPT_SECTIONS = ("data", "model")
KEPT_KEYS = (("optimizer", "name"), ("train", "dtype"))


def fail(message: str) -> int:
    print(f"dmt-tui: error: {message}", file=sys.stderr, flush=True)
    return 2


def changed_keys(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The dotted keys a resumed run may not change that `wanted` changes."""
    keys = [(section, key) for section in KEPT_SECTIONS for key in saved[section]]
    return [f"{section}.{key}" for section, key in [*keys, *KEPT_KEYS]
            if saved[section].get(key) != wanted[section].get(key)]


def resume_command(args: argparse.Namespace, stop: StopRequest | None = None) -> int:
    """Check the run and the overrides, then train on from last.pt; the exit code says how
    the run ended (README, "Exit codes"), or 2 for a refusal."""
    if args.preset is not None:
        return fail(f"--resume {args.resume}: the run keeps its own config; give no preset "
                    f"(change a key with --set, e.g. --set train.epochs=200)")
    if args.nproc > 1:
        return fail("--resume trains in one process; --nproc is not available with it")
    runs_dir = args.runs_dir or rundir.default_runs_dir()
    run_dir = rundir.find_run(runs_dir, args.resume)
    if run_dir is None:
        return fail(f"--resume {args.resume}: no such run in {runs_dir}")
    status = rundir.read_status(run_dir)
    state = rundir.effective_state(status) if status else "crashed"
    if state in rundir.LIVE_STATES:
        return fail(f"{run_dir.name} is still {state} (pid {status.get('pid')}); stop it "
                    f"before resuming it")
    last_path = run_dir / rundir.LAST
    if not last_path.is_file():
        return fail(f"{run_dir.name} has no {rundir.LAST} to resume from (it ended before "
                    f"its first checkpoint, or was trained before runs kept one)")
    world = status.get("world_size")
    if isinstance(world, int) and world > 1:  # its optimizer state is kept per parameter
        return fail(f"{run_dir.name} was trained in {world} processes (--nproc); resuming "
                    f"such a run is not available: start a new run")
    try:
        saved = load_file(run_dir / rundir.CONFIG)
        config = load_file(run_dir / rundir.CONFIG, args.overrides)
    except ConfigError as err:
        return fail(str(err))
    changed = changed_keys(saved, config)
    if changed:
        return fail(f"--set {changed[0]}: a resumed run keeps its model, its data, its "
                    f"optimizer and its dtype (data.*, model.*, optimizer.name, train.dtype); "
                    f"start a new run to change them")
    return _train_on(args, run_dir, config, saved, stop)


def _train_on(args: argparse.Namespace, run_dir: Path, config: dict[str, Any],
              saved: dict[str, Any], stop: StopRequest | None) -> int:
    # torch is imported only now that the request is known to be good
    from dmt_tui.trainer import engine, loop
    from dmt_tui.trainer.checkpoint import load_last
    from dmt_tui.trainer.cli import _Echo

    last_path = run_dir / rundir.LAST
    try:
        state = load_last(last_path)
        epoch = int(state["epoch"])
    except Exception as err:  # noqa: BLE001 - a torn or foreign file: say so, write nothing
        return fail(f"{last_path}: cannot read it as a checkpoint: "
                    f"{str(err).splitlines()[0] if str(err) else type(err).__name__}")
    epochs = config["train"]["epochs"]
    if epoch >= epochs:
        return fail(f"{run_dir.name} has trained {epoch} of its {epochs} epochs; give it more "
                    f"with --set train.epochs=N (N > {epoch})")
    try:
        session = loop.prepare(config, run_dir.parent)
        session.model.load_state_dict(state["model"])  # restored again when training starts
        session.optimizer.load_state_dict(state["optimizer"])
    except ConfigError as err:
        return fail(str(err))
    except (RuntimeError, KeyError, ValueError) as err:
        return fail(f"{last_path} does not fit this run's model or optimizer: "
                    f"{str(err).splitlines()[0]}")
    if config != saved:  # the run's config.yaml says what it trains on from here
        (run_dir / rundir.CONFIG).write_text(dump(config), encoding="utf-8")
    if not args.quiet:
        print(f"run {run_dir.name} resumes after epoch {epoch} of {epochs}", flush=True)
    with open(run_dir / rundir.LOG, "a", encoding="utf-8") as log:
        end = engine.run(config, run_dir, _Echo(log, args.quiet), session, stop=stop,
                         resume=state)
    return engine.EXIT_CODES.get(str(end["state"]), 1)
