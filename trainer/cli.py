"""`dmt-tui train`: one run, headless. Also `python -m trainer train ...`, which is what the
app launches and what `torchrun -m trainer` runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from presets import load_preset, user_presets_dir
from trainer import rundir
from trainer.config import ConfigError, dump


def add_train_arguments(parser: argparse.ArgumentParser, shared_default: object = None) -> None:
    """The train arguments; `shared_default` is argparse.SUPPRESS where a parent parser
    already defines --runs-dir and --presets-dir (so a subparser default cannot clobber them)."""
    parser.add_argument("preset", help="a built-in or user preset name, or a YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a preset key, e.g. optimizer.lr=1e-3 "
                        "or model.hidden=[64,64] (repeatable)")
    parser.add_argument("--runs-dir", type=Path, default=shared_default,
                        help="where runs are written (default: $DMT_RUNS_DIR or ./runs)")
    parser.add_argument("--presets-dir", default=shared_default,
                        help="a folder of user presets (default: $DMT_PRESETS_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines on stdout")
    parser.add_argument("--run-dir", type=Path, default=None, help=argparse.SUPPRESS)


def fail(message: str, code: int = 2) -> int:
    print(f"dmt-tui: error: {message}", file=sys.stderr)
    return code


class _Echo:
    """Per-epoch lines to stdout (unless quiet) and always to trainer.log."""

    def __init__(self, log: TextIO, quiet: bool) -> None:
        self.log, self.quiet = log, quiet

    def __call__(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()


def train_command(args: argparse.Namespace) -> int:
    """Run one preset to its end; the exit code says how it ended (README, "Exit codes")."""
    try:
        config = load_preset(args.preset, args.overrides, user_presets_dir(args.presets_dir))
    except ConfigError as err:
        return fail(str(err))
    # torch is imported only now that the preset is known to be good: a typo answers fast.
    from trainer import engine, loop

    session = None
    if args.run_dir is not None:  # launched by the app, which made the folder and config.yaml
        run_dir = args.run_dir
        if not run_dir.is_dir():
            return fail(f"{run_dir}: no such run folder")
    else:
        runs_dir = args.runs_dir or rundir.default_runs_dir()
        try:
            session = loop.prepare(config, runs_dir)  # bad data or device: say so before starting
        except ConfigError as err:
            return fail(str(err))
        try:
            run_dir = rundir.create_run_dir(runs_dir, config["name"])
            (run_dir / rundir.CONFIG).write_text(dump(config), encoding="utf-8")
        except OSError as err:
            return fail(str(err))
        if not args.quiet:
            print(f"run {run_dir.name} in {run_dir}", flush=True)
    try:
        log = open(run_dir / rundir.LOG, "a", encoding="utf-8")  # noqa: SIM115
    except OSError as err:
        return fail(f"{run_dir / rundir.LOG}: cannot write: {err.strerror or err}")
    with log:
        end = engine.run(config, run_dir, _Echo(log, args.quiet), session)
    return engine.EXIT_CODES.get(str(end["state"]), 1)


def main(argv: list[str] | None = None) -> int:
    """`python -m trainer train PRESET ...`: the trainer without the app."""
    parser = argparse.ArgumentParser(prog="python -m trainer")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(commands.add_parser("train", help="one run, headless"))
    args = parser.parse_args(argv)
    return train_command(args)
