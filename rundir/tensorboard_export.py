"""One run as TensorBoard event files, written with the tensorboard package's own writer and
protos: torch's SummaryWriter would load torch into the app, which never imports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from dmt_tui.rundir.record import RunRecord

# Tag per `epoch` event field; TensorBoard groups tags by the part before the slash.
SCALAR_TAGS = {
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_acc": "accuracy/train",
    "val_acc": "accuracy/val",
    "lr": "lr",
    "es_wait": "early_stop/wait",
    "es_best": "early_stop/best_val_loss",
}
EXTRA_TAG = "metrics/{}"  # a script's own scalar (dmt_tui.Run's extra `epoch` keywords)
GRAD_MEAN_TAG = "grad_mean/{}"  # scalar: a layer's mean per-step gradient norm in the epoch
GRAD_HIST_TAG = "grad_norm/{}"  # histogram: that layer's per-step norms over the epoch


def histogram(layer: dict[str, Any]) -> HistogramProto | None:
    """A `grad` event layer as TensorBoard's histogram, or None when it has no finite steps.

    TensorBoard stores only each bucket's right edge, so a first bucket ending at our
    leftmost edge keeps the lower bound; it holds the exact zeros, which a log axis has no
    other place for."""
    counts, edges = layer.get("counts") or [], layer.get("edges") or []
    zeros = int(layer.get("zeros") or 0)
    num = zeros + sum(counts)
    if num == 0 or len(edges) != len(counts) + 1 or layer.get("mean") is None:
        return None
    limits = [float(e) for e in edges]
    # An all-zero layer (binary-step's hidden ones) has min and max 0: that is its value,
    # not a missing one to fill from the placeholder edges (1e-12..1e-11).
    low = float(layer["min"]) if layer.get("min") is not None else limits[0]
    high = float(layer["max"]) if layer.get("max") is not None else limits[-1]
    # Edges are rounded to 6 digits: keep the largest norm inside the last bucket.
    limits[-1] = max(limits[-1], high)
    return HistogramProto(
        min=0.0 if zeros else low,
        max=high,
        num=float(num),
        sum=float(layer["mean"]) * num,
        # The trainer keeps no sum of squares; TensorBoard's charts do not use it.
        sum_squares=0.0,
        bucket_limit=limits,
        bucket=[float(zeros), *(float(c) for c in counts)],
    )


def epoch_summary(epoch: dict[str, Any], grad: dict[str, Any] | None) -> Summary:
    """One epoch's scalars (the script's own ones under `metrics/`) and, when the epoch has a
    `grad` event, its histograms."""
    from dmt_tui.rundir.export import EPOCH_COLUMNS, NOT_METRICS  # export imports this module

    values = [Summary.Value(tag=tag, simple_value=float(epoch[key]))
              for key, tag in SCALAR_TAGS.items() if epoch.get(key) is not None]
    # Every other number of the event is a script's own metric, as in metrics.csv's columns.
    values += [Summary.Value(tag=EXTRA_TAG.format(key), simple_value=float(value))
               for key, value in epoch.items()
               if key not in EPOCH_COLUMNS and key not in NOT_METRICS
               and isinstance(value, int | float) and not isinstance(value, bool)]
    layers = [*grad.get("layers", []), grad.get("total") or {}] if grad else []
    for layer in layers:
        name = layer.get("name")
        if not name:
            continue
        if layer.get("mean") is not None:
            values.append(Summary.Value(tag=GRAD_MEAN_TAG.format(name),
                                        simple_value=float(layer["mean"])))
        histo = histogram(layer)
        if histo is not None:
            values.append(Summary.Value(tag=GRAD_HIST_TAG.format(name), histo=histo))
    return Summary(value=values)


def write_run(record: RunRecord, log_dir: Path) -> Path:
    """Write the run's completed epochs as an event file in `log_dir` and return `log_dir`.

    Earlier exports' event files there are removed first: TensorBoard reads every file in a
    folder, so a re-export would otherwise show each point twice."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("events.out.tfevents.*"):
        old.unlink()
    grads = {g.get("epoch"): g for g in record.grads}
    writer = EventFileWriter(str(log_dir))
    try:
        for epoch in record.epochs:
            step = int(epoch["epoch"])
            writer.add_event(Event(wall_time=float(epoch.get("time") or 0.0), step=step,
                                   summary=epoch_summary(epoch, grads.get(step))))
    finally:
        writer.close()
    return log_dir
