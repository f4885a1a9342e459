"""The `dmt-tui` command. Each subcommand imports only what it needs: `train` loads torch
but not Textual or pandas, the app loads Textual but never torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dmt_tui import __version__


def _runs_dir(args: argparse.Namespace) -> Path:
    from dmt_tui.rundir import default_runs_dir

    return args.runs_dir or default_runs_dir()


def presets_command(args: argparse.Namespace) -> int:
    from dmt_tui.presets import list_presets, user_presets_dir

    if args.schema:
        from dmt_tui.presets.schema import schema_lines

        print("\n".join(schema_lines()))
        return 0
    found = list_presets(user_presets_dir(args.presets_dir))
    width = max(len(p.name) for p in found)
    for info in found:
        where = "" if info.source == "built-in" else f"  [{info.path}]"
        print(f"{info.name:<{width}}  {info.description}{where}")
    return 0


def runs_command(args: argparse.Namespace) -> int:
    from dmt_tui.rundir.tables import runs_table

    return runs_table(_runs_dir(args), as_json=args.json)


def export_command(args: argparse.Namespace) -> int:
    from dmt_tui.rundir.export import export_command as export

    return export(args, _runs_dir(args))


def app_command(args: argparse.Namespace) -> int:
    from dmt_tui.app.app import run_app

    return run_app(_runs_dir(args), args.presets_dir)


def build_parser() -> argparse.ArgumentParser:
    from dmt_tui.rundir.export import add_export_arguments
    from dmt_tui.trainer.cli import add_train_arguments

    parser = argparse.ArgumentParser(
        prog="dmt-tui", description="Train small PyTorch models and watch them learn.")
    parser.add_argument("--version", action="version", version=f"dmt-tui {__version__}")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="where runs live (default: $DMT_RUNS_DIR or ./runs)")
    parser.add_argument("--presets-dir", default=None,
                        help="a folder of user presets (default: $DMT_PRESETS_DIR)")
    parser.set_defaults(handler=app_command)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    train = commands.add_parser("train", help="one run, headless, a line per epoch")
    add_train_arguments(train, argparse.SUPPRESS)
    train.set_defaults(handler=None)
    listing = commands.add_parser("presets", help="built-in and user presets")
    listing.add_argument("--presets-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    listing.add_argument("--schema", action="store_true",
                         help="every preset key with its default and what it allows")
    listing.set_defaults(handler=presets_command)
    runs = commands.add_parser("runs", help="a table of runs and their states")
    runs.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS,
                      help=argparse.SUPPRESS)
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    runs.set_defaults(handler=runs_command)
    export = commands.add_parser("export", help="runs as csv, jsonl, parquet or tensorboard files")
    add_export_arguments(export)
    export.set_defaults(handler=export_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    # First thing, before any heavy import: a Ctrl-C while modules load (torch takes a
    # second or two) is a stop request, never a KeyboardInterrupt traceback mid-import.
    from dmt_tui.trainer.stop import StopRequest

    stop = StopRequest()
    stop.install()
    try:
        args = build_parser().parse_args(argv)
    except BaseException:
        stop.restore()
        raise
    if args.command == "train":
        from dmt_tui.trainer.cli import train_command

        return train_command(args, stop)
    stop.restore()  # the other commands take Ctrl-C as usual (the app handles its own keys)
    if stop:
        return 130
    if args.handler in (app_command, presets_command):
        from dmt_tui.presets import user_presets_dir
        from dmt_tui.presets.schema import ConfigError

        try:
            user_presets_dir(args.presets_dir)  # a file there: say so, not list nothing
        except ConfigError as err:
            print(f"dmt-tui: error: {err}", file=sys.stderr)
            return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
