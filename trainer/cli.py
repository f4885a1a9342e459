"""`dmt-tui train`: one run, headless. Also `python -m dmt_tui.trainer train ...`, which is what the
app launches, what each rank of `--nproc N` runs, and what a user's own torchrun runs."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from dmt_tui import rundir
from dmt_tui.presets import load_preset, user_presets_dir
from dmt_tui.presets.schema import ConfigError, dump
from dmt_tui.rundir.record import RunRecord
from dmt_tui.trainer.stop import StopRequest


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
    parser.add_argument("--nproc", type=_nproc, default=1, metavar="N",
                        help="train as N data-parallel processes on this machine (default 1)")
    parser.add_argument("--run-dir", type=Path, default=None, help=argparse.SUPPRESS)


def _nproc(text: str) -> int:
    """--nproc: 1 to the CPU cores this process may use (each rank is a process of its own;
    a thousand of them would bring the machine down before the first step)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    most = max(1, cores or 1)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {most} (the CPU "
                                         f"cores here), got {text!r}")
    return value


def fail(message: str, code: int = 2) -> int:
    print(f"dmt-tui: error: {message}", file=sys.stderr)
    return code


class _Echo:
    """Per-epoch lines to stdout (unless quiet) and always to trainer.log. The last line of
    a failed run goes to stderr, quiet or not. A log that cannot be written (a full disk)
    is given up: the run's own files say what went wrong."""

    def __init__(self, log: TextIO | None, quiet: bool) -> None:
        self.log, self.quiet = log, quiet

    def __call__(self, line: str) -> None:
        failed = line.startswith("failed: ")
        if failed or not self.quiet:
            try:
                if failed:
                    print(f"dmt-tui: error: run {line}", file=sys.stderr, flush=True)
                else:
                    print(line, flush=True)
            except OSError:  # the terminal hung up: go on into trainer.log alone
                self.quiet = True
        if self.log is not None:
            try:
                self.log.write(line + "\n")
                self.log.flush()
            except OSError:
                self.log = None


def train_command(args: argparse.Namespace, stop: StopRequest | None = None) -> int:
    """Run one preset to its end; the exit code says how it ended (README, "Exit codes").
    The stop signals are taken first (by the caller where it has, else here), before torch
    is imported: a Ctrl-C at any moment is a stop request, never a KeyboardInterrupt."""
    if stop is None:
        stop = StopRequest()
        stop.install()
    try:
        return _train(args, stop)
    finally:
        stop.restore()


def _train(args: argparse.Namespace, stop: StopRequest) -> int:
    if args.resume is not None:
        from dmt_tui.trainer.resume import resume_command

        return resume_command(args, stop)
    if args.preset is None:
        return fail("train: give a preset (a name or a YAML file), or --resume RUN_ID")
    launched = args.run_dir  # by the app or as a rank: the folder and config.yaml exist
    if launched is not None:
        if not launched.is_dir():
            return fail(f"{launched}: no such run folder")
        if "WORLD_SIZE" not in os.environ or os.environ.get("RANK") == "0":
            _claim(launched)
    try:
        config = load_preset(args.preset, args.overrides, user_presets_dir(args.presets_dir))
    except ConfigError as err:
        return _failed_before_start(launched, str(err), 2)
    if stop:
        return _stopped_before_start(launched, stop)
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _as_ranks(args, config, stop)
    try:
        # torch is imported only now that the preset is known to be good: a typo answers fast.
        from dmt_tui.trainer import distributed, engine, loop
    except Exception as err:  # noqa: BLE001 - a broken install: say so where the app looks
        return _failed_before_start(launched, f"cannot load the trainer: "
                                    f"{type(err).__name__}: {err}", 1)
    ranks = distributed.from_env()
    session = None
    if launched is not None:
        run_dir = launched
    else:
        runs_dir = args.runs_dir or rundir.default_runs_dir()
        try:
            session = loop.prepare(config, runs_dir, ranks)  # bad data or device: say so now
        except ConfigError as err:
            return fail(str(err))
        if stop:
            return _stopped_before_start(None, stop)
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
        end = engine.run(config, run_dir, print, session, ranks, stop)
    else:
        try:
            log: TextIO | None = open(run_dir / rundir.LOG, "a", encoding="utf-8")  # noqa: SIM115
        except OSError:
            log = None  # the run's own files will say what is wrong with the folder
        try:
            end = engine.run(config, run_dir, _Echo(log, args.quiet), session, ranks, stop)
        finally:
            if log is not None:
                with contextlib.suppress(OSError):
                    log.close()
    failed = end["state"] == "failed"
    distributed.close(finished_together=not failed)
    if ranks.enabled:
        # The rank launcher (and a user's torchrun) reads a non-zero exit as a crash and ends
        # the other ranks; an orderly end (stopped, diverged, ...) exits 0, and the run's
        # `end` event says how it ended.
        _leave_now(1 if failed else 0)
    return engine.EXIT_CODES.get(str(end["state"]), 1)


def _claim(run_dir: Path) -> None:
    """A launched trainer puts its pid in status.json at once: if it dies before its
    `start` (a broken install, a kill), readers see a dead pid, not `starting` for ever."""
    status = rundir.read_status(run_dir)
    if status.get("state", "starting") == "starting":
        with contextlib.suppress(OSError):
            rundir.write_status(run_dir, **{**status, "state": "starting", "pid": os.getpid()})


def _failed_before_start(run_dir: Path | None, reason: str, code: int) -> int:
    """One line on stderr; a launched run's folder also says `failed` and why, so that the
    app shows the reason instead of a run `starting` for ever."""
    if run_dir is not None:
        rundir.record_end(run_dir, state="failed", reason=reason, error=reason)
    return fail(reason, code)


def _stopped_before_start(run_dir: Path | None, stop: StopRequest) -> int:
    reason = f"stopped by {stop.signal_name} before training started"
    if run_dir is not None:
        rundir.record_end(run_dir, state="stopped", reason=reason)
    print(f"dmt-tui: {reason}; no run was started" if run_dir is None else
          f"dmt-tui: {reason}", file=sys.stderr)
    return 4


def _leave_now(code: int) -> NoReturn:
    """Exit a rank without the interpreter's finalization. DDP keeps the gloo process group
    alive after destroy_process_group, and tearing it down during finalization can abort
    the process ("terminate called without an active exception", SIGABRT; 1 run in about
    13 under load). Everything the run wrote is closed or flushed by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _new_run_dir(runs_dir: Path, config: dict[str, Any]) -> Path:
    """The run folder with its config.yaml; on failure (a full disk) none is left behind."""
    run_dir = rundir.create_run_dir(runs_dir, config["name"])
    try:
        rundir.write_config(run_dir, dump(config))
    except OSError as err:
        rundir.remove_unstarted(run_dir)
        raise rundir.RunDirError(f"{err.filename}: cannot write: {err.strerror or err}; "
                                 f"nothing was started") from None
    return run_dir


def _as_ranks(args: argparse.Namespace, config: dict[str, Any], stop: StopRequest) -> int:
    """`--nproc N`: the same run as N data-parallel processes on this machine (see
    trainer/local_ranks.py for why not torchrun). This process makes the run folder, starts
    the ranks, passes a stop on to rank 0, and answers with the run's end state in one line;
    the ranks' own stderr (a killed rank's tracebacks) goes to trainer.log."""
    from dmt_tui.trainer.data import (
        load_dataset,  # torch-free: a bad CSV is refused before starting
    )
    from dmt_tui.trainer.local_ranks import run_ranks

    run_dir = args.run_dir
    if run_dir is None:
        try:
            load_dataset(config["data"], config["train"]["seed"])
            run_dir = _new_run_dir(args.runs_dir or rundir.default_runs_dir(), config)
        except (ConfigError, OSError) as err:
            return fail(str(err))
        if not args.quiet:
            print(f"run {run_dir.name} in {run_dir} ({args.nproc} processes)", flush=True)
    try:
        outcome = run_ranks(run_dir, args.nproc, args.quiet, stop)
    except OSError as err:  # trainer.log or the rendezvous folder cannot be made
        reason = f"{err.filename or run_dir}: {err.strerror or err}; no rank was started"
        return _failed_before_start(run_dir, reason, 1)
    record = RunRecord.load(run_dir)
    end = record.end
    if not end and outcome.stopped_by and not record.start:
        # a stop before rank 0 took the signals ends it by SIGTERM's default: still a stop
        stop.signal_name = stop.signal_name or outcome.stopped_by
        return _stopped_before_start(run_dir, stop)
    if not end:
        reason = f"{outcome.died or 'the ranks exited'} before the run ended"
        rundir.record_end(run_dir, state="failed", reason=reason, error=reason)
        end = {"state": "failed", "reason": reason}
    if end.get("state") == "failed":  # rank 0's own line went to trainer.log with its stderr
        print(f"dmt-tui: error: run failed: {end.get('reason')} (details in "
              f"{run_dir / rundir.LOG})", file=sys.stderr)
    # any other end: rank 0 printed its line on the stdout it shares with this process
    from dmt_tui.trainer.engine import EXIT_CODES  # imports torch, but only once training is over

    return EXIT_CODES.get(str(end.get("state")), 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m dmt_tui.trainer train PRESET ...`: the trainer without the app."""
    parser = argparse.ArgumentParser(prog="python -m dmt_tui.trainer")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(commands.add_parser("train", help="one run, headless"))
    args = parser.parse_args(argv)
    return train_command(args)
