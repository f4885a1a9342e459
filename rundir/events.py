"""The events of `events.jsonl`, typed: field names are defined here once.

The trainer writes these, and the readers (the app's panels, `dmt-tui runs`, the exports)
and the tests read them. Every event also has `type` and `time` (unix seconds), which
`EventLog` adds. The README's "Run directory" section is the prose of this contract; a
reader ignores event types and fields it does not know, so new ones can be added.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class StartEvent(TypedDict):
    """Once, when the trainer has built the data and the model."""

    run_id: str
    preset: str
    device: str  # "cpu", "cuda:0"
    torch_version: str
    n_params: int
    n_train: int
    n_val: int
    steps_per_epoch: int
    layers: list[str]  # the linear layers' names, input to output
    pid: int
    task: Literal["classification", "regression"]
    n_classes: int | None
    features: list[str]
    classes: list[str] | None
    threads: int | None
    dtype: str
    world_size: int
    ranks: list[dict[str, Any]]
    cuda_graphs: bool  # full batches replayed from a CUDA graph


class ProgressEvent(TypedDict):
    """Within an epoch, at most two a second, with what the trainer's process uses."""

    epoch: int
    step: int
    steps: int
    samples_per_s: float
    rss_mb: float | None  # resident memory, MiB (null where /proc cannot be read)
    cpu_percent: float  # CPU time over wall time since the last one: 100 is one core busy
    # CUDA only: torch's allocator counters, read without a sync
    cuda_allocated_mb: NotRequired[float]
    cuda_reserved_mb: NotRequired[float]
    cuda_peak_mb: NotRequired[float]
    # CUDA with nvidia-ml-py installed (the [gpu] extra): NVML's view of the whole GPU
    gpu_util_percent: NotRequired[int]
    gpu_memory_used_mb: NotRequired[float]


class EpochEvent(TypedDict):
    """After each epoch; epochs count from 1; NaN and infinity are written as null."""

    epoch: int
    train_loss: float | None
    val_loss: float | None
    train_acc: float | None  # null for regression
    val_acc: float | None
    lr: float  # the lr of the epoch's last step
    seconds: float
    es_wait: int
    es_patience: int
    es_best: float | None
    es_best_epoch: int | None
    threads: int | None


class LayerHistogram(TypedDict):
    """One layer's per-step L2 gradient norms over an epoch's steps."""

    name: str
    mean: float | None
    min: float | None
    max: float | None
    counts: list[int]
    edges: list[float]  # log-spaced, len(counts) + 1
    zeros: int  # steps whose norm was exactly 0 (a log axis cannot hold them)
    nonfinite: int


class GradEvent(TypedDict):
    """An epoch's histograms, after its `epoch` event (up to 0.5 s later, in epoch order)."""

    epoch: int
    layers: list[LayerHistogram]  # in `start.layers` order
    total: LayerHistogram  # the whole model's norm


class ResumeEvent(TypedDict):
    """`dmt-tui train --resume`: the seam. Training goes on from the checkpoint's `epoch`;
    `epoch` and `grad` events after that epoch, from before the seam, are replaced by those
    that follow it. Written instead of a second `start`, after the run's earlier `end`."""

    epoch: int
    epochs: int  # the run's total from here (a --set may raise it)
    pid: int
    device: str


EndState = Literal["finished", "early_stopped", "diverged", "stopped", "failed"]


class EndEvent(TypedDict, total=False):
    """Last: how the run ended. `error` only for `failed`."""

    state: EndState
    reason: str
    epochs: int
    best_epoch: int | None
    best_val_loss: float | None
    error: str


def fields_of(event: type) -> tuple[str, ...]:
    """The field names of an event type, in the order written (exports use it for columns)."""
    return tuple(event.__annotations__)


# The per-epoch metrics columns of an export: every `epoch` field, in order.
EPOCH_FIELDS = fields_of(EpochEvent)
