"""An experiment's results as tables: a row per trial, a row per configuration (mean and
spread over seeds), the tidy per-epoch table of `export --experiment`, and the listing of
`dmt-tui experiments`. Torch-free; pandas only for the export."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dmt_tui import rundir
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.experiment import format_value
from dmt_tui.rundir.record import RunRecord

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TrialResult:
    """How one trial went (None where its run has not said yet)."""

    index: int
    label: str
    seed: int
    run_id: str | None
    state: str
    best_val_loss: float | None = None
    best_epoch: int | None = None
    best_val_acc: float | None = None
    epochs: int | None = None
    seconds: float | None = None


def trial_result(runs_dir: Path, trial: dict[str, Any], read_events: bool = True,
                 record: RunRecord | None = None) -> TrialResult:
    """One trial's result, from its run folder: status.json alone (cheap) or its events."""
    result = TrialResult(int(trial["index"]), str(trial.get("label") or ""),
                         int(trial.get("seed") or 0), trial.get("run_id"),
                         str(trial.get("state")))
    if not result.run_id:
        return result
    if record is None and read_events:
        record = RunRecord.load(runs_dir / result.run_id)
    if record is None:
        status = rundir.read_status(runs_dir / result.run_id)
        result.state = manifests.run_state(runs_dir, result.run_id)
        result.best_val_loss, result.best_epoch = status.get("best_val_loss"), \
            status.get("best_epoch")
        result.epochs = status.get("epoch")
        began, last = status.get("started"), status.get("updated")
        if isinstance(began, int | float) and isinstance(last, int | float):
            result.seconds = max(0.0, last - began)
        return result
    result.state = record.state
    result.best_epoch, result.best_val_loss = record.best
    accuracies = [e["val_acc"] for e in record.epochs if e.get("val_acc") is not None]
    result.best_val_acc = max(accuracies) if accuracies else None
    result.epochs = record.epoch
    result.seconds = record.duration
    return result


def trial_results(runs_dir: Path, manifest: dict[str, Any],
                  read_events: bool = True) -> list[TrialResult]:
    return [trial_result(runs_dir, t, read_events) for t in manifest["trials"]]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summary_rows(manifest: dict[str, Any], results: list[TrialResult]) -> list[dict[str, Any]]:
    """A row per configuration, best mean validation loss first: the varied keys, how many
    seeds ended, the mean, spread (sample sd), min and max of the best validation loss,
    the mean best validation accuracy, epochs and seconds."""
    groups: dict[str, list[tuple[dict[str, Any], TrialResult]]] = {}
    for trial, result in zip(manifest["trials"], results, strict=True):
        groups.setdefault(result.label, []).append((trial, result))
    rows = []
    for label, members in groups.items():
        losses = [r.best_val_loss for _, r in members if r.best_val_loss is not None
                  and r.state in manifests.ENDED]
        accs = [r.best_val_acc for _, r in members if r.best_val_acc is not None]
        row: dict[str, Any] = {"group": label}
        for key in manifest.get("varied") or []:
            row[key] = _cell(members[0][0]["group"].get(key))
        row.update(
            runs=len(members), ended=sum(r.state in manifests.ENDED for _, r in members),
            best_val_loss_mean=_mean(losses),
            best_val_loss_sd=statistics.stdev(losses) if len(losses) > 1 else None,
            best_val_loss_min=min(losses) if losses else None,
            best_val_loss_max=max(losses) if losses else None,
            best_val_acc_mean=_mean(accs),
            epochs_mean=_mean([float(r.epochs) for _, r in members if r.epochs is not None]),
            seconds_mean=_mean([r.seconds for _, r in members if r.seconds is not None]),
            states=",".join(sorted({r.state for _, r in members})))
        rows.append(row)
    rows.sort(key=lambda r: (r["best_val_loss_mean"] is None, r["best_val_loss_mean"] or 0.0))
    return rows


def _cell(value: Any) -> Any:
    """A list value (hidden widths) as `16x16`, so a table column stays plain."""
    if isinstance(value, list | tuple):
        return "x".join(str(v) for v in value) or None
    return value


def _number(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def summary_text(manifest: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The summary as a text table, best configuration first."""
    varied = list(manifest.get("varied") or [])
    head = [*varied, "seeds", "best val loss", "best val acc", "epochs", "time"]
    body = []
    for row in rows:
        loss = _number(row["best_val_loss_mean"])
        if row["best_val_loss_sd"] is not None:
            loss += f" ± {row['best_val_loss_sd']:.2g}"
        acc = row["best_val_acc_mean"]
        body.append([*(format_value(row[k]) if row[k] is not None else "-" for k in varied),
                     f"{row['ended']}/{row['runs']}", loss,
                     "-" if acc is None else f"{acc * 100:.1f}%",
                     _number(row["epochs_mean"], ".0f"), _number(row["seconds_mean"], ".1f")
                     + ("s" if row["seconds_mean"] is not None else "")])
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(head)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in body]
    return "\n".join(lines)


# ---- export --experiment ---------------------------------------------------------------------


def tidy_table(runs_dir: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """A row per run and epoch: experiment, group, seed, the varied keys as columns, then
    the columns of `dmt-tui export`'s metrics table."""
    import pandas as pd

    from dmt_tui.rundir.export import metrics_table

    started = [t for t in manifest["trials"] if t.get("run_id")]
    records = [RunRecord.load(runs_dir / t["run_id"]) for t in started]
    metrics = metrics_table(records)
    front = []
    for trial, record in zip(started, records, strict=True):
        row: dict[str, Any] = {"run_id": record.run_id, "experiment": manifest["id"],
                               "group": trial["label"]}
        row.update({key: _cell(trial["group"].get(key)) for key in manifest.get("varied") or []})
        front.append(row)
    per_run = pd.DataFrame(front, columns=["run_id", "experiment", "group",
                                           *(manifest.get("varied") or [])])
    table = per_run.merge(metrics, on="run_id", how="inner")
    first = ["run_id", "experiment", "group", "seed", *(manifest.get("varied") or [])]
    return table[first + [c for c in table.columns if c not in first]]


def summary_table(runs_dir: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    rows = summary_rows(manifest, trial_results(runs_dir, manifest))
    return pd.DataFrame(rows)


def export_experiment(runs_dir: Path, experiment_id: str, formats: list[str],
                      out_dir: Path) -> list[Path]:
    """`dmt-tui export --experiment`: `<out>/<id>/metrics.<fmt>` (a row per run and epoch)
    and `<out>/<id>/summary.<fmt>` (a row per configuration). Raises ExportError."""
    from dmt_tui.rundir.export import ExportError, require_modules

    manifest = manifests.find(runs_dir, experiment_id)
    if manifest is None:
        raise ExportError(f"no experiment {experiment_id!r} in {runs_dir} (see: dmt-tui "
                          f"experiments --runs-dir {runs_dir})")
    other = [f for f in formats if f not in ("csv", "parquet")]
    if other:
        raise ExportError(f"an experiment exports as csv or parquet, not {other[0]} (export "
                          "its runs by id for jsonl or tensorboard)")
    require_modules(formats)
    folder = out_dir / manifest["id"]
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tables = {"metrics": tidy_table(runs_dir, manifest),
                  "summary": summary_table(runs_dir, manifest)}
        for fmt in formats:
            for name, table in tables.items():
                path = folder / f"{name}.{fmt}"
                if fmt == "csv":
                    table.to_csv(path, index=False)
                else:
                    table.to_parquet(path, engine="pyarrow", index=False)
                print(f"{fmt}: {path} ({len(table)} rows)")
                written.append(path)
    except OSError as err:
        raise ExportError(f"cannot write the export to {err.filename or folder}: "
                          f"{err.strerror or err}") from None
    return written


# ---- dmt-tui experiments ---------------------------------------------------------------------


def experiment_row(runs_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """What `dmt-tui experiments` shows of one experiment (read from status files only)."""
    results = trial_results(runs_dir, manifest, read_events=False)
    states = [r.state for r in results]
    rows = summary_rows(manifest, results)
    best = rows[0] if rows and rows[0]["best_val_loss_mean"] is not None else None
    return {"id": manifest["id"], "preset": manifest.get("preset"),
            "state": manifests.experiment_state(manifest, states),
            **manifests.progress(states),
            "best": best["group"] if best else None,
            "best_val_loss": best["best_val_loss_mean"] if best else None,
            "created": manifest.get("created"),
            "trials": [asdict(r) for r in results]}


def experiments_listing(runs_dir: Path, as_json: bool) -> int:
    """Print every experiment under `runs_dir`, oldest first."""
    rows = [experiment_row(runs_dir, m) for m in manifests.list_experiments(runs_dir)]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no experiments in {runs_dir}")
        return 0
    head = ["id", "preset", "state", "queued", "running", "ended", "best configuration",
            "best val loss", "created"]
    body = [[r["id"], str(r["preset"]), r["state"], str(r["queued"]), str(r["running"]),
             f"{r['ended']}/{r['total']}", r["best"] or "-", _number(r["best_val_loss"]),
             time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created"] or 0))]
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip())
    return 0
