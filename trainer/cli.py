"""`dmt-tui train`: one run, headless. Also `python -m dmt_tui.trainer train ...`, which is what the
app launches and what `torchrun -m dmt_tui.trainer` runs."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from dmt_tui import rundir
from dmt_tui.presets import load_preset, user_presets_dir
from dmt_tui.presets.schema import ConfigError, dump
from dmt_tui.rundir.record import RunRecord


def add_train_arguments(parser: argparse.ArgumentParser, shared_default: object = None) -> None:
    """The train arguments; `shared_default` is argparse.SUPPRESS where a parent parser
    already defines --runs-dir and --presets-dir (so a subparser default cannot clobber them)."""
    parser.add_argument("preset", nargs="?", default=None,
                        help="a built-in or user preset name, or a YAML file")
    parser.add_argument("--resume", metavar="RUN_ID", default=None,
                        help="go on with this run from its last.pt, in its own folder "
                        "(no preset; --set train.epochs=N trains it longer)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a preset key, e.g. optimizer.lr=1e-3 "
                        "or model.hidden=[64,64] (repeatable)")
    parser.add_argument("--runs-dir", type=Path, default=shared_default,
                        help="where runs are written (default: $DMT_RUNS_DIR or ./runs)")
    parser.add_argument("--presets-dir", default=shared_default,
                        help="a folder of user presets (default: $DMT_PRESETS_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines on stdout")
    parser.add_argument("--nproc", type=_positive, default=1, metavar="N",
                        help="train as N data-parallel processes through torchrun (default 1)")
    parser.add_argument("--run-dir", type=Path, default=None, help=argparse.SUPPRESS)


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


class _Echo:
    """Per-epoch lines to stdout (unless quiet) and always to trainer.log."""

    def __init__(self, log: TextIO, quiet: bool) -> None:
        self.log, self.quiet = log, quiet

    def __call__(self, line: str) -> None:
        if not self.quiet:
            try:
                print(line, flush=True)
            except OSError:  # the terminal hung up: go on into trainer.log alone
                self.quiet = True
        self.log.write(line + "\n")
        self.log.flush()


def train_command(args: argparse.Namespace) -> int:
    """Run one preset to its end; the exit code says how it ended (README, "Exit codes")."""
    if args.resume is not None:
        from dmt_tui.trainer.resume import resume_command

        return resume_command(args)
    if args.preset is None:
        return fail("train: give a preset (a name or a YAML file), or --resume RUN_ID")
    try:
        config = load_preset(args.preset, args.overrides, user_presets_dir(args.presets_dir))
    except ConfigError as err:
        return fail(str(err))
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _through_torchrun(args, config)
    # torch is imported only now that the preset is known to be good: a typo answers fast.
    from dmt_tui.trainer import distributed, engine, loop

    ranks = distributed.from_env()
    session = None
    if args.run_dir is not None:  # launched: the launcher made the folder and config.yaml
        run_dir = args.run_dir
        if not run_dir.is_dir():
            return fail(f"{run_dir}: no such run folder")
    else:
        runs_dir = args.runs_dir or rundir.default_runs_dir()
        try:
            session = loop.prepare(config, runs_dir, ranks)  # bad data or device: say so now
        except ConfigError as err:
            return fail(str(err))
        name = ""
        if ranks.main:
            try:
                name = _new_run_dir(runs_dir, config).name
            except OSError as err:
                fail(str(err))
        name = distributed.broadcast_object(name, ranks)  # every rank writes to rank 0's run
        if not name:
            return 2
        run_dir = runs_dir / name
        if not args.quiet and ranks.main:
            print(f"run {run_dir.name} in {run_dir}", flush=True)
    if not ranks.main:
        end = engine.run(config, run_dir, print, session, ranks)
    else:
        try:
            log = open(run_dir / rundir.LOG, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as err:
            return fail(f"{run_dir / rundir.LOG}: cannot write: {err.strerror or err}")
        with log:
            end = engine.run(config, run_dir, _Echo(log, args.quiet), session, ranks)
    failed = end["state"] == "failed"
    distributed.close(finished_together=not failed)
    if ranks.enabled:
        # torchrun reads any non-zero exit as a crash and prints a page about it; an orderly
        # end (stopped, diverged, ...) exits 0, and the run's `end` event says how it ended.
        _leave_now(1 if failed else 0)
    return engine.EXIT_CODES.get(str(end["state"]), 1)


def _leave_now(code: int) -> NoReturn:
    """Exit a rank without the interpreter's finalization. DDP keeps the gloo process group
    alive after destroy_process_group, and tearing it down during finalization can abort
    the process ("terminate called without an active exception", SIGABRT; 1 run in about
    13 under load). Everything the run wrote is closed or flushed by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _new_run_dir(runs_dir: Path, config: dict[str, Any]) -> Path:
    run_dir = rundir.create_run_dir(runs_dir, config["name"])
    (run_dir / rundir.CONFIG).write_text(dump(config), encoding="utf-8")
    return run_dir


def _through_torchrun(args: argparse.Namespace, config: dict[str, Any]) -> int:
    """`--nproc N`: the same run as N data-parallel processes under torchrun (one node).
    This process makes the run folder, starts torchrun, passes a stop on to rank 0, and
    answers with the run's end state."""
    from dmt_tui.trainer.data import (
        load_dataset,  # torch-free: a bad CSV is refused before starting
    )

    run_dir = args.run_dir
    if run_dir is None:
        try:
            load_dataset(config["data"], config["train"]["seed"])
            run_dir = _new_run_dir(args.runs_dir or rundir.default_runs_dir(), config)
        except (ConfigError, OSError) as err:
            return fail(str(err))
        if not args.quiet:
            print(f"run {run_dir.name} in {run_dir} ({args.nproc} processes)", flush=True)
    command = [sys.executable, "-P", "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc-per-node={args.nproc}", "-m", "dmt_tui.trainer", "train",
               str(run_dir / rundir.CONFIG), "--run-dir", str(run_dir)]
    # In a session of its own, so the terminal's Ctrl-C reaches this process alone.
    torchrun = subprocess.Popen([*command, *(["--quiet"] if args.quiet else [])],
                                start_new_session=True,
                                env={**os.environ, "PYTHONSAFEPATH": "1"})  # the ranks too

    def pass_on(signum: int, frame: object) -> None:
        # Rank 0 takes the stop request and the ranks agree on it (`end` says `stopped`);
        # before rank 0 is up, torchrun itself is told.
        pid = rundir.read_status(run_dir).get("pid")
        try:
            os.kill(pid if isinstance(pid, int) else torchrun.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, pass_on)
    torchrun.wait()
    from dmt_tui.trainer.engine import EXIT_CODES  # imports torch, but only once training is over

    end = RunRecord.load(run_dir).end
    return EXIT_CODES.get(str(end.get("state")), 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m dmt_tui.trainer train PRESET ...`: the trainer without the app."""
    parser = argparse.ArgumentParser(prog="python -m dmt_tui.trainer")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(commands.add_parser("train", help="one run, headless"))
    args = parser.parse_args(argv)
    return train_command(args)
