"""`dmt-tui export`: runs as files other tools read (pandas, spreadsheets, TensorBoard).

Torch-free, so the app can call `export_runs` from its own process. pandas, pyarrow and
tensorboard are imported only when a format needs them: `dmt-tui --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmt_tui import rundir
from dmt_tui.rundir.meta import read_meta
from dmt_tui.rundir.record import RunRecord
from dmt_tui.rundir.tables import activation_of

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "jsonl", "parquet", "tensorboard")
DEFAULT_OUT_DIR = Path("exports")
TABLE_NAME = "metrics"  # metrics.csv and metrics.parquet: one table for all exported runs
TENSORBOARD_DIR = "tensorboard"  # one subfolder per run below it: `tensorboard --logdir` it

# Per-epoch columns, straight from the `epoch` events (README, "Run directory").
EPOCH_COLUMNS = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr", "seconds",
                 "es_wait", "es_patience", "es_best", "es_best_epoch")

# Fields of an `epoch` event that are not per-epoch metrics. Any other field is a script's
# own scalar (dmt_tui.Run's extra `epoch` keywords): a column of its own, after these.
NOT_METRICS = ("type", "time", "threads")

# Per-run columns from config.yaml, named so that `df.groupby("activation")` reads naturally.
# The configured learning rate is `base_lr`: `lr` is the per-epoch value a schedule moves.
CONFIG_COLUMNS = (
    ("preset", "name"),
    ("dataset", "data.dataset"),
    ("n_samples", "data.n_samples"),
    ("noise", "data.noise"),
    ("model", "model.kind"),
    ("hidden", "model.hidden"),
    ("activation", "model.activation"),
    ("optimizer", "optimizer.name"),
    ("base_lr", "optimizer.lr"),
    ("momentum", "optimizer.momentum"),
    ("weight_decay", "optimizer.weight_decay"),
    ("schedule", "schedule.name"),
    ("batch_size", "train.batch_size"),
    ("max_epochs", "train.epochs"),
    ("seed", "train.seed"),
)


class ExportError(Exception):
    """A problem the user can fix (a run id, a format, the output folder): one line of text."""


# ---- choosing what to export ---------------------------------------------------------------


def parse_formats(text: str) -> list[str]:
    """`csv,jsonl` to ["csv", "jsonl"], in the order given, each once."""
    formats: list[str] = []
    for name in (part.strip().lower() for part in text.split(",")):
        if name not in FORMATS:
            raise ExportError(f"unknown format {name!r} (choose from {', '.join(FORMATS)}; "
                              "several with commas, e.g. csv,jsonl)")
        if name not in formats:
            formats.append(name)
    return formats


def resolve_runs(runs_dir: Path, run_ids: list[str], all_runs: bool) -> list[Path]:
    """Run folders for ids or unique id prefixes (or every run), each once, in the order given."""
    if all_runs:
        found = list(rundir.iter_run_dirs(runs_dir))
        if not found:
            raise ExportError(f"no runs in {runs_dir} to export")
        return found
    chosen: list[Path] = []
    for run_id in run_ids:
        if not rundir.is_run_name(run_id):
            raise ExportError(f"{run_id!r} is not a run id: give a run's folder name or a "
                              "unique start of it, e.g. 20261126-154230-xor-adam "
                              f"(see: dmt-tui runs --runs-dir {runs_dir})")
        run_dir = rundir.find_run(runs_dir, run_id)
        if run_dir is None:
            matches = [d.name for d in rundir.iter_run_dirs(runs_dir) if d.name.startswith(run_id)]
            if len(matches) > 1:
                raise ExportError(f"run id {run_id!r} matches {len(matches)} runs in {runs_dir} "
                                  f"({', '.join(matches[:3])}{', ...' if len(matches) > 3 else ''}"
                                  "); give more of the id")
            raise ExportError(f"no run {run_id!r} in {runs_dir} (see the run ids with: "
                              f"dmt-tui runs --runs-dir {runs_dir})")
        if run_dir not in chosen:
            chosen.append(run_dir)
    return chosen


def require_modules(formats: list[str]) -> None:
    """Fail before writing anything when a format's optional package is missing."""
    needs = {"parquet": ("pyarrow", "parquet"), "tensorboard": ("tensorboard", "tensorboard")}
    for fmt in formats:
        if fmt not in needs:
            continue
        module, extra = needs[fmt]
        try:
            __import__(module)
        except ImportError:
            raise ExportError(f"the {fmt} format needs the {module} package: "
                              f"pip install 'dmt-tui[{extra}]' (or pip install {module})") from None


# ---- the metrics table ---------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Lists (hidden sizes) as `32x32`, so the column stays a plain string in csv and parquet;
    an empty list as missing, which both formats read back alike (csv cannot tell "" apart)."""
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value) or None
    return value


def config_row(record: RunRecord) -> dict[str, Any]:
    """The per-run columns: config settings, where it ran, and how it ended."""
    row = {column: _cell(record.setting(key)) for column, key in CONFIG_COLUMNS}
    row["activation"] = activation_of(record)
    best_epoch, best_loss = record.best
    row.update(device=record.start.get("device"), state=record.state,
               best_epoch=best_epoch, best_val_loss=best_loss)
    # title, note: what the user called it in the app; unset is NaN, as csv and parquet both
    # read an empty column back
    row.update({key: text or math.nan for key, text in read_meta(record.run_dir).items()})
    return row


def grad_column(layer: str) -> str:
    return f"grad_mean_{layer}"


def extra_column(name: str) -> str:
    """A script's own metric as a column; `metric_<name>` where the name is taken."""
    taken = {"run_id", *EPOCH_COLUMNS, *(c for c, _ in CONFIG_COLUMNS), "device", "state",
             "best_epoch", "best_val_loss"}
    return f"metric_{name}" if name in taken or name.startswith("grad_mean_") else name


def metrics_rows(record: RunRecord) -> list[dict[str, Any]]:
    """One dict per completed epoch: the epoch event, mean gradient norms, config columns."""
    grads = {g.get("epoch"): g for g in record.grads}
    per_run = config_row(record)
    rows = []
    for event in record.epochs:
        row: dict[str, Any] = {"run_id": record.run_id}
        row.update({key: event.get(key) for key in EPOCH_COLUMNS})
        row.update({extra_column(key): value for key, value in event.items()
                    if key not in EPOCH_COLUMNS and key not in NOT_METRICS})
        grad = grads.get(event.get("epoch"), {})
        for layer in [*grad.get("layers", []), grad.get("total") or {}]:
            if layer.get("name"):
                row[grad_column(layer["name"])] = layer.get("mean")
        row.update(per_run)
        rows.append(row)
    return rows


def metrics_table(records: list[RunRecord]) -> pd.DataFrame:
    """Every run's epochs in one table; runs with other layers leave those columns empty."""
    import pandas as pd

    rows = [row for record in records for row in metrics_rows(record)]
    grad_columns: list[str] = []  # in layer order, input to output, whole-model total last
    for record in records:
        for name in record.layer_names:
            if grad_column(name) not in grad_columns:
                grad_columns.append(grad_column(name))
    for row in rows:  # layers a start event did not list (an older trainer) still get a column
        grad_columns.extend(c for c in row if c.startswith("grad_mean_") and c not in grad_columns)
    grad_columns = [c for c in grad_columns if c != grad_column("total")] + [grad_column("total")]
    per_run = [c for c, _ in CONFIG_COLUMNS] + ["device", "state", "best_epoch", "best_val_loss",
                                                "title", "note"]
    known = {"run_id", *EPOCH_COLUMNS, *grad_columns, *per_run}
    extras = list(dict.fromkeys(c for row in rows for c in row if c not in known))
    columns = ["run_id", *EPOCH_COLUMNS, *extras, *grad_columns, *per_run]
    return pd.DataFrame(rows, columns=columns)


# ---- writers -------------------------------------------------------------------------------


def write_jsonl(record: RunRecord, out_dir: Path) -> Path:
    """The run's complete events as the trainer wrote them (a torn last line left out)."""
    events, _ = rundir.read_events(record.run_dir)
    path = out_dir / f"{record.run_id}.events.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, separators=(",", ":")) + "\n")
    return path


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder inside a run folder: exports there would mix with the
    trainer's files (and a later export of that run would read them back as its own)."""
    for folder in (out_dir.resolve(), *out_dir.resolve().parents):
        if rundir.is_run_dir(folder):
            raise ExportError(f"-o {out_dir}: inside the run folder {folder}; write exports "
                              f"elsewhere (default: ./{DEFAULT_OUT_DIR})")


def plain_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Columns whose values mix types (a config.yaml with `lr: fast` beside runs with
    `lr: 0.01`) as text: parquet wants one type a column; csv writes them alike."""
    from pandas.api.types import is_object_dtype

    for column in table.columns:
        if not is_object_dtype(table[column]):
            continue
        kinds = {type(v) for v in table[column] if v is not None and v == v}
        if len(kinds) > 1 or not kinds <= {str, int, float, bool}:
            table[column] = [None if v is None or v != v else str(v) for v in table[column]]
    return table


def export_runs(records: list[RunRecord], formats: list[str], out_dir: Path,
                say: Callable[[str], None] = print) -> list[Path]:
    """Write the runs in each format under `out_dir`; say where each file went, return them."""
    require_modules(formats)
    check_out_dir(out_dir)
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        table = metrics_table(records) if {"csv", "parquet"} & set(formats) else None
        n_runs = f"{len(records)} run{'s' if len(records) != 1 else ''}"
        for fmt in formats:
            if fmt == "csv" and table is not None:
                path = out_dir / f"{TABLE_NAME}.csv"
                table.to_csv(path, index=False)
                say(f"csv: {path} ({len(table)} rows, {n_runs})")
                written.append(path)
            elif fmt == "parquet" and table is not None:
                path = out_dir / f"{TABLE_NAME}.parquet"
                plain_columns(table).to_parquet(path, engine="pyarrow", index=False)
                say(f"parquet: {path} ({len(table)} rows, {n_runs})")
                written.append(path)
            elif fmt == "jsonl":
                for record in records:
                    path = write_jsonl(record, out_dir)
                    say(f"jsonl: {path}")
                    written.append(path)
            elif fmt == "tensorboard":
                from dmt_tui.rundir.tensorboard_export import write_run

                for record in records:
                    path = write_run(record, out_dir / TENSORBOARD_DIR / record.run_id)
                    say(f"tensorboard: {path}")
                    written.append(path)
                say(f"  view with: tensorboard --logdir {out_dir / TENSORBOARD_DIR}")
    except OSError as err:
        where = err.filename or out_dir
        raise ExportError(f"cannot write the export to {where}: "
                          f"{err.strerror or err}") from None
    return written


# ---- the command ---------------------------------------------------------------------------


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The `dmt-tui export` arguments (--runs-dir is shared with the top-level parser)."""
    parser.add_argument("run_ids", nargs="*", metavar="RUN_ID",
                        help="runs to export, by id or a unique prefix (see: dmt-tui runs)")
    parser.add_argument("--all", action="store_true", help="export every run")
    parser.add_argument("--experiment", default=None, metavar="EXP",
                        help="an experiment's runs as one tidy table and a summary per "
                        "configuration (csv, parquet)")
    parser.add_argument("--format", default="csv", metavar="FORMATS",
                        help=f"comma-separated, from {','.join(FORMATS)} (default: csv)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT_DIR, metavar="DIR",
                        help=f"where the files go (default: ./{DEFAULT_OUT_DIR})")
    parser.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="where runs live (default: $DMT_RUNS_DIR or ./runs)")
    parser.set_defaults(export_parser=parser)


def export_command(args: argparse.Namespace, runs_dir: Path) -> int:
    """Export the chosen runs; notes (a crashed run, a torn line) go to stderr."""
    if args.experiment is not None:
        from dmt_tui.rundir.experiment_table import export_experiment

        if args.run_ids or args.all:
            args.export_parser.error("give --experiment EXP alone, without RUN_IDs or --all")
        try:
            export_experiment(runs_dir, args.experiment, parse_formats(args.format),
                              args.output)
        except ExportError as err:
            print(f"dmt-tui: error: {err}", file=sys.stderr)
            return 2
        return 0
    if bool(args.run_ids) == bool(args.all):
        args.export_parser.error("give one or more RUN_IDs or --all"
                                 + (", not both" if args.all else ""))
    try:
        formats = parse_formats(args.format)
        records = [RunRecord.load(d) for d in resolve_runs(runs_dir, args.run_ids, args.all)]
        for record in records:
            for note in record.notes:
                print(f"note: {note}", file=sys.stderr)
            if record.state == "crashed":
                print(f"note: {record.run_id} crashed; exporting its {len(record.epochs)} "
                      "completed epochs", file=sys.stderr)
        export_runs(records, formats, args.output)
    except ExportError as err:
        print(f"dmt-tui: error: {err}", file=sys.stderr)
        return 2
    return 0
