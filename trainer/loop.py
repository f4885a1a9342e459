"""The training loop, as the course writes it: D (the data, on the device), M (the model, its
loss and the optimizer), T (epochs of shuffled mini-batches, then validation).

`prepare()` builds D and M and raises ConfigError for a user's mistake before anything is
written; `Trainer.epoch()` is one pass of T (engine.run drives the epochs and writes the run
directory). How a step runs (eagerly, replayed from a CUDA graph, or data-parallel) is
decided once, in `prepare`, and lives in trainer.steps, so the loop below is the same for
all three. It reads the device once an epoch: losses, correct counts and gradient norms
stay there until then (tests/test_host_reads.py counts the reads).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dmt_tui import rundir
from dmt_tui.presets.config_types import typed
from dmt_tui.trainer import distributed
from dmt_tui.trainer.data import load_dataset
from dmt_tui.trainer.device import pick_device
from dmt_tui.trainer.distributed import SINGLE, Ranks
from dmt_tui.trainer.host import CoreShare, Silent, StopRequest
from dmt_tui.trainer.models import build_model, loss_fn_for, parameter_groups
from dmt_tui.trainer.monitor import norm_histograms
from dmt_tui.trainer.optim import build_optimizer, schedule_fn
from dmt_tui.trainer.session import DATA_PARALLEL, GRAPH, Session, choose_mode
from dmt_tui.trainer.speed.flat import FlatParameters
from dmt_tui.trainer.steps import make_step
from dmt_tui.trainer.system import SystemMetrics

__all__ = ["SINGLE", "EpochResult", "Session", "Trainer", "evaluate", "prepare"]

PROGRESS_EVERY_S = 0.5  # `progress` events: at most two a second
# Gradient norms, and their `grad` events, wait on the device until this long after their
# last read: reading, binning and writing many epochs' histograms in one go costs a few
# times what one epoch's does, and reading them more often showed as overhead on small
# models (bench/throughput.py, its overhead column). An epoch longer than this never waits.
GRAD_EVENTS_EVERY_S = 0.5
VAL_CHUNK = 65536  # validation rows per forward pass


def prepare(config: dict[str, Any], runs_dir: Path | None = None,
            ranks: Ranks = SINGLE) -> Session:
    """D and M: device, data on the device, model and optimizer. Raises ConfigError."""
    run = typed(config)
    train = run["train"]
    device = pick_device(train["device"], ranks)
    distributed.init(ranks, device)
    cores = CoreShare(runs_dir, train["threads"])
    dtype = getattr(torch, train["dtype"])
    mode = choose_mode(run, device, ranks)  # how every step of this run runs, decided once

    # D: the data, moved to the device once
    data = load_dataset(run["data"], train["seed"])

    def on_device(array: np.ndarray, is_target: bool) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        keep = is_target and data.task == "classification"  # class indices stay int64
        return tensor.to(device=device, dtype=tensor.dtype if keep else dtype)

    # M: the model, where its parameters live while it trains, and the optimizer
    torch.manual_seed(train["seed"])
    n_out = data.n_classes if data.task == "classification" else 1
    model = build_model(run["model"], data.n_features, n_out, config).to(device=device,
                                                                          dtype=dtype)
    net: nn.Module = model
    flat = None
    if mode == DATA_PARALLEL:  # every rank starts from the same seed; DDP also broadcasts rank 0's
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
        trained = list(model.parameters())
    else:  # one process: every parameter a view into one flat buffer (speed.flat)
        params, groups, _ = parameter_groups(model)
        flat = FlatParameters(params, groups)
        trained = [flat.param]
    optimizer = build_optimizer(trained, run["optimizer"], capturable=mode == GRAPH)
    return Session(run, device, data, on_device(data.x_train, False),
                   on_device(data.y_train, True), on_device(data.x_val, False),
                   on_device(data.y_val, True), model, optimizer, cores, ranks, net, flat, mode)


def evaluate(session: Session) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Summed validation loss and correct count as device tensors, and the rows seen,
    under eval and no_grad. Ranks each take their share of the rows."""
    model, loss_fn = session.model, loss_fn_for(session.data.task)
    x_val = distributed.share(session.x_val, session.ranks)
    y_val = distributed.share(session.y_val, session.ranks)
    model.eval()
    loss_sum = torch.zeros((), device=session.device, dtype=torch.float64)
    correct = torch.zeros((), device=session.device, dtype=torch.int64)
    with torch.no_grad():
        for x, y in zip(x_val.split(VAL_CHUNK), y_val.split(VAL_CHUNK), strict=True):
            out = model(x)
            loss_sum += loss_fn(out, y, reduction="sum").double()
            if session.data.task == "classification":
                correct += (out.argmax(1) == y).sum()
    model.train()
    return loss_sum, correct, len(x_val)


@dataclass
class EpochResult:
    train_loss: float
    train_acc: float | None
    val_loss: float
    val_acc: float | None
    # epochs whose per-step gradient norms came back with this epoch's read: (epoch,
    # (steps, layers + 1) norms, total last), oldest first; often none (GRAD_EVENTS_EVERY_S)
    grads: list[tuple[int, np.ndarray]]
    steps: int  # optimizer steps taken this epoch
    stopped: bool  # a stop request arrived mid-epoch: the epoch is incomplete
    stop_after: bool  # a stop was requested (on any rank): end after this epoch


class Trainer:
    """The T block for one session: epochs of shuffled mini-batches, writing events."""

    def __init__(self, session: Session, events: rundir.EventLog | Silent,
                 stop: StopRequest) -> None:
        self.session, self.events, self.stop = session, events, stop
        train = session.config["train"]
        self.batch_size = train["batch_size"]
        self.n_train = len(session.x_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.lr_at = schedule_fn(session.config, self.steps_per_epoch)
        self.base_lr = float(session.config["optimizer"]["lr"])
        self.step = 0  # optimizer steps so far, all epochs
        if self.lr_at is not None:
            self.set_lr()
        self.layer_names = parameter_groups(session.model)[2]
        # gradients are the same on every rank after DDP's all-reduce: rank 0 watches them
        self.grad_stats = train["grad_stats"] and session.ranks.main
        self.shuffle = torch.Generator(device=session.device)
        self.shuffle.manual_seed(train["seed"] + 1)
        self.train_step = make_step(session, keep_norms=self.grad_stats)
        self.system = SystemMetrics(session.device)  # memory and CPU use, in `progress`
        self._grad_epochs: list[tuple[int, int]] = []  # (epoch, steps) whose norms wait
        self._grad_read_at = -math.inf  # monotonic time of the last read of norms

    def set_lr(self) -> None:
        """Put the lr for the next step into the optimizer: the schedule's, or the config's."""
        lr = self.lr_at(self.step + 1) if self.lr_at is not None else self.base_lr
        for group in self.session.optimizer.param_groups:
            group["lr"] = lr

    def epoch(self, number: int) -> EpochResult:
        """One pass over the training rows in a new shuffled order, then validation."""
        s = self.session
        order = torch.randperm(self.n_train, device=s.device, generator=self.shuffle)
        seen = 0  # training rows this process used
        started = last_progress = time.monotonic()
        stopped = False
        for i, batch in enumerate(order.split(self.batch_size), 1):
            seen += self.train_step(batch)  # forward, loss, backward, the optimizer's step
            self.step += 1
            if self.lr_at is not None:
                self.set_lr()
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                rate = round(seen * s.ranks.world / max(now - started, 1e-9), 1)
                self.events.write("progress", epoch=number, step=i, steps=self.steps_per_epoch,
                                  samples_per_s=rate, **self.system.read())
            if distributed.agree_to_stop(bool(self.stop), i, s.ranks, s.device):
                stopped = True
                break
        return self._summarise(number, i, seen, stopped)

    def _summarise(self, number: int, steps: int, seen: int, stopped: bool) -> EpochResult:
        s = self.session
        recorded = self.grad_stats and not stopped  # a stopped epoch is not recorded
        train_sums = self.train_step.finish_epoch(steps, seen, recorded)
        val_sum, val_hits, val_rows = evaluate(s)
        counts = _filled(s.device, seen, val_rows, 1.0 if self.stop else 0.0)
        # summed over ranks (a collective, and on CUDA a sync point: it comes with the read)
        totals = distributed.all_sum(
            torch.cat([train_sums, torch.stack([val_sum, val_hits.double()]), counts]), s.ranks)
        if recorded:
            self._grad_epochs.append((number, steps))
        read_norms = bool(self._grad_epochs) and \
            time.monotonic() - self._grad_read_at >= GRAD_EVENTS_EVERY_S
        # The epoch's one device-to-host read (a sync point on CUDA): everything in one copy.
        parts = [totals, self._norms_on_device()] if read_norms else [totals]
        host = torch.cat(parts).cpu().numpy()
        train_loss, train_hits, val_loss, val_correct, n_seen, n_val, stop_votes = host[:7]
        classify = s.data.task == "classification"
        return EpochResult(
            float(train_loss / n_seen),
            float(train_hits / n_seen) if classify else None,
            float(val_loss / n_val),
            float(val_correct / n_val) if classify else None,
            self._per_epoch(host[7:]) if read_norms else [], steps, stopped,
            stopped or bool(stop_votes > 0))

    def _norms_on_device(self) -> torch.Tensor:
        """The waiting epochs' per-step norms, flattened, on the device."""
        self._grad_read_at = time.monotonic()
        return self.train_step.take_norms(sum(n for _, n in self._grad_epochs))

    def _per_epoch(self, values: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Host values from _norms_on_device, cut into each waiting epoch's table."""
        epochs, self._grad_epochs = self._grad_epochs, []
        table = self.train_step.norm_table(values, len(self.layer_names))
        grads, start = [], 0
        for number, steps in epochs:
            grads.append((number, table[start:start + steps]))
            start += steps
        return grads

    def take_grads(self) -> list[tuple[int, np.ndarray]]:
        """At the end of a run: the norms of the epochs still waiting (one read)."""
        if not self._grad_epochs:
            return []
        return self._per_epoch(self._norms_on_device().cpu().numpy())

    def grad_events(self, grads: list[tuple[int, np.ndarray]]) -> None:
        """One `grad` event per epoch. Epochs with as many steps are binned in one call, as
        the columns of one table, which costs far less than binning each alone."""
        if not grads:
            return
        bins = self.session.config["train"]["hist_bins"]
        names = [*self.layer_names, "total"]
        by_steps: dict[int, list[tuple[int, np.ndarray]]] = {}
        for number, table in grads:
            by_steps.setdefault(len(table), []).append((number, table))
        summaries = {}
        for same in by_steps.values():
            columns = norm_histograms(np.hstack([table for _, table in same]), bins,
                                      names * len(same))
            for k, (number, _) in enumerate(same):
                summaries[number] = columns[k * len(names):(k + 1) * len(names)]
        self.events.write_many("grad", [
            {"epoch": number, "layers": summaries[number][:-1], "total": summaries[number][-1]}
            for number, _ in grads])


def _filled(device: torch.device, *values: float) -> torch.Tensor:
    """Host numbers in a float64 device vector, each passed in a fill kernel's arguments:
    `torch.tensor(values, device=...)` would copy them from the host, a sync point on CUDA."""
    out = torch.empty(len(values), dtype=torch.float64, device=device)
    for k, value in enumerate(values):
        out[k:k + 1].fill_(value)
    return out
