"""T: the training loop.

`prepare()` is the D and M blocks (device, data, model, optimizer) and raises ConfigError
for a user's mistake before anything is written; `Trainer.epoch()` is one pass of the T
block (engine.run drives the epochs and writes the run directory). The hot loop keeps
losses, correct counts and gradient norms on the device and reads them back once an epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dmt_tui import rundir
from dmt_tui.trainer import distributed, graphs
from dmt_tui.trainer.data import Dataset, load_dataset
from dmt_tui.trainer.device import pick_device
from dmt_tui.trainer.distributed import SINGLE, Ranks
from dmt_tui.trainer.flat import FlatParameters
from dmt_tui.trainer.host import CoreShare, Silent, StopRequest
from dmt_tui.trainer.models import build_model, linear_layers
from dmt_tui.trainer.monitor import layer_norms, norm_histograms
from dmt_tui.trainer.optim import build_optimizer, schedule_fn

PROGRESS_EVERY_S = 0.5  # `progress` events: at most two a second
# Gradient norms stay on the device, and their `grad` events wait, until this long after the
# last batch of them: reading, binning and writing a hundred epochs' histograms costs a few
# times what one epoch's does, which was a tenth of a 5 ms epoch. Every 0.25 s, it still
# cost an 8-layer model 2-3% (its caches cold each time); every 0.5 s, about 1%. An epoch
# longer than this is never held.
GRAD_EVENTS_EVERY_S = 0.5
VAL_CHUNK = 65536  # validation rows per forward pass
STOP_CHECK_STEPS = 32  # ranks agree on a stop request this often


@dataclass
class Session:
    """Everything the T block needs, built by the D and M blocks."""

    config: dict[str, Any]
    device: torch.device
    data: Dataset
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    model: nn.Sequential
    optimizer: torch.optim.Optimizer
    cores: CoreShare
    ranks: Ranks = SINGLE
    net: nn.Module | None = None  # what trains: the model, or its DistributedDataParallel
    flat: FlatParameters | None = None  # one process: parameters and gradients in one buffer

    def __post_init__(self) -> None:
        if self.net is None:
            self.net = self.model


def prepare(config: dict[str, Any], runs_dir: Path | None = None,
            ranks: Ranks = SINGLE) -> Session:
    """D and M: device, data on the device, model and optimizer. Raises ConfigError."""
    train = config["train"]
    device = pick_device(train["device"], ranks)
    distributed.init(ranks, device)
    cores = CoreShare(runs_dir, train["threads"])
    dtype = getattr(torch, train["dtype"])
    data = load_dataset(config["data"], train["seed"])

    def on_device(array: np.ndarray, is_target: bool) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        keep = is_target and data.task == "classification"  # class indices stay int64
        return tensor.to(device=device, dtype=tensor.dtype if keep else dtype)

    torch.manual_seed(train["seed"])
    n_out = data.n_classes if data.task == "classification" else 1
    model = build_model(config["model"], data.n_features, n_out).to(device=device, dtype=dtype)
    net: nn.Module = model
    flat = None
    if ranks.enabled:  # every rank starts from the same seed; DDP also broadcasts rank 0's
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
        optimizer = build_optimizer(model.parameters(), config["optimizer"])
    else:
        params, groups, _ = _parameter_groups(model)
        flat = FlatParameters(params, groups)
        optimizer = build_optimizer([flat.param], config["optimizer"],
                                    capturable=graphs.wanted(config, device, ranks))
    return Session(config, device, data, on_device(data.x_train, False),
                   on_device(data.y_train, True), on_device(data.x_val, False),
                   on_device(data.y_val, True), model, optimizer, cores, ranks, net, flat)


def _loss_fn(task: str) -> Callable[..., torch.Tensor]:
    """Classification: cross-entropy on raw logits. Regression: mean squared error."""
    return nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss


def _parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[list[int]], list[str]]:
    """All parameters (linear layers' first, input to output) and, per linear layer, the
    positions of its weight and bias in that list."""
    params: list[nn.Parameter] = []
    groups, names = [], []
    for name, layer in linear_layers(model):
        own = [p for p in layer.parameters() if p.requires_grad]
        groups.append(list(range(len(params), len(params) + len(own))))
        params.extend(own)
        names.append(name)
    seen = {id(p) for p in params}
    params.extend(p for p in model.parameters() if id(p) not in seen and p.requires_grad)
    return params, groups, names


def evaluate(session: Session) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Summed validation loss and correct count as device tensors, and the rows seen,
    under eval and no_grad. Ranks each take their share of the rows."""
    model, loss_fn, ranks = session.model, _loss_fn(session.data.task), session.ranks
    x_val, y_val = session.x_val, session.y_val
    if ranks.enabled:
        x_val, y_val = x_val[ranks.rank::ranks.world], y_val[ranks.rank::ranks.world]
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


class StepValues:
    """Per-step device scalars for the epoch's one read-back. Stacked every FOLD values, so
    that an epoch of a million steps holds a few hundred tensors, not millions."""

    FOLD = 8192

    def __init__(self) -> None:
        self._pending: list[torch.Tensor] = []
        self._folded: list[torch.Tensor] = []

    def add(self, values: Sequence[torch.Tensor]) -> None:
        self._pending.extend(values)
        if len(self._pending) >= self.FOLD:
            self._folded.append(torch.stack(self._pending).double())
            self._pending = []

    def __bool__(self) -> bool:
        return bool(self._pending or self._folded)

    def stacked(self) -> torch.Tensor:
        """Every value so far, in order, as one float64 vector on the device."""
        tail = [torch.stack(self._pending).double()] if self._pending else []
        return torch.cat(self._folded + tail)


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
        config = session.config
        self.batch_size = config["train"]["batch_size"]
        self.n_train = len(session.x_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.lr_at = schedule_fn(config, self.steps_per_epoch)
        self.step = 0  # optimizer steps so far, all epochs
        self.params, self.groups, self.layer_names = _parameter_groups(session.model)
        # gradients are the same on every rank after DDP's all-reduce: rank 0 watches them
        self.grad_stats = config["train"]["grad_stats"] and session.ranks.main
        self.loss_fn = _loss_fn(session.data.task)
        self.classify = session.data.task == "classification"
        self.shuffle = torch.Generator(device=session.device)
        self.shuffle.manual_seed(config["train"]["seed"] + 1)
        self.base_lr = float(config["optimizer"]["lr"])
        if self.lr_at is not None:
            self._set_lr()
        self._grad_epochs: list[tuple[int, int]] = []  # (epoch, steps) whose norms wait
        self._grad_stacks: list[torch.Tensor] = []  # under DDP, those epochs' norms
        self._grad_read_at = -math.inf  # monotonic time of the last read of norms
        # full batches replayed from a CUDA graph, where the run allows (trainer.graphs)
        self.graph = graphs.StepGraph(session, self.loss_fn, self.classify, self.batch_size,
                                      self.grad_stats) \
            if graphs.wanted(config, session.device, session.ranks) else None

    def _set_lr(self) -> None:
        """Put the schedule's lr for the next step into the optimizer."""
        assert self.lr_at is not None
        lr = self.lr_at(self.step + 1)
        for group in self.session.optimizer.param_groups:
            group["lr"] = lr

    def epoch(self, number: int) -> EpochResult:
        s, ranks = self.session, self.session.ranks
        net, optimizer, loss_fn, flat = s.net, s.optimizer, self.loss_fn, s.flat
        assert net is not None
        losses = StepValues()  # per step: the mean loss (one process) or the sum (ranks)
        correct = StepValues()
        norms = StepValues()  # under DDP, per step, one 0-d norm per parameter
        seen = 0  # training rows this process used
        order = torch.randperm(self.n_train, device=s.device, generator=self.shuffle)
        started = last_progress = time.monotonic()
        stopped = False
        for i, chunk in enumerate(order.split(self.batch_size), 1):
            replayed = self._replay(chunk)
            if replayed is not None:
                losses.add(replayed[:1])
                if self.classify:
                    correct.add(replayed[1:])
                self.step += 1
                seen += len(chunk)
            else:
                # every rank draws the same order; each takes its share of every global batch
                index = chunk[ranks.rank::ranks.world] if ranks.enabled else chunk
                x, y = s.x_train[index], s.y_train[index]
                out = net(x)
                if ranks.enabled:
                    # scaled so that DDP's mean over ranks is the gradient of the whole global
                    # batch's mean loss, however unevenly the batch divides among ranks
                    loss_sum = loss_fn(out, y, reduction="sum")
                    loss = loss_sum * (ranks.world / len(chunk))
                    losses.add((loss_sum.detach(),))
                else:
                    loss = loss_fn(out, y)
                    losses.add((loss.detach(),))
                if flat is not None:
                    flat.backward(loss, keep=self.grad_stats)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                if self.grad_stats and flat is None:  # after DDP's all-reduce of gradients
                    grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                             for p in self.params]
                    # one multi-tensor kernel; stacked later, not here (saves ~2 us/step)
                    norms.add(torch._foreach_norm(grads))
                optimizer.step()
                self.step += 1
                seen += len(index)
                if self.lr_at is not None:
                    self._set_lr()
                if self.classify:
                    correct.add(((out.argmax(1) == y).sum(),))
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                self.events.write("progress", epoch=number, step=i, steps=self.steps_per_epoch,
                                  samples_per_s=round(seen * ranks.world /
                                                      max(now - started, 1e-9), 1))
            if self._stop_now(i):
                stopped = True
                break
        return self._summarise(number, i, losses, correct, norms, seen, stopped)

    def _replay(self, chunk: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """A full batch's step from the CUDA graph: (loss,) or (loss, correct); None when
        the step is to run eagerly (no graph, the last partial batch, a failed capture)."""
        if self.graph is None or len(chunk) != self.batch_size:
            return None
        try:
            loss, hits = self.graph.step(chunk)
        except graphs.CaptureFailed as err:
            self.graph = None
            print(f"dmt-tui: CUDA graph capture failed, training without it: {err}",
                  file=sys.stderr, flush=True)
            return None
        return (loss,) if hits is None else (loss, hits)

    def _stop_now(self, step: int) -> bool:
        """One process stops at once. Ranks must stop at the same step, so they agree on it
        every STOP_CHECK_STEPS steps: a collective, and on CUDA a sync point."""
        ranks = self.session.ranks
        if not ranks.enabled:
            return bool(self.stop)
        if step % STOP_CHECK_STEPS:
            return False
        flag = torch.tensor([1.0 if self.stop else 0.0], device=self.session.device)
        return bool(distributed.all_sum(flag, ranks).item() > 0)  # steers control flow

    def _summarise(self, number: int, steps: int, losses: StepValues, correct: StepValues,
                   norms: StepValues, seen: int, stopped: bool) -> EpochResult:
        s, ranks = self.session, self.session.ranks
        step_losses = losses.stacked()
        if ranks.enabled:
            train_sum = step_losses.sum()
        else:  # means of full batches, and of the last, partial one
            sizes = torch.full((steps,), float(self.batch_size), dtype=torch.float64,
                               device=s.device)
            # fill_, not `sizes[-1] = n`: that copies n from the host, a sync point on CUDA
            sizes[-1:].fill_(seen - self.batch_size * (steps - 1))
            train_sum = torch.dot(step_losses, sizes)
        zero = torch.zeros((), dtype=torch.float64, device=s.device)
        hits = correct.stacked().sum() if self.classify else zero
        val_sum, val_hits, val_rows = evaluate(s)
        sums = torch.stack([train_sum, hits, val_sum, val_hits.double()])
        counts = [float(seen), float(val_rows), 1.0 if self.stop else 0.0]
        if ranks.enabled:  # summed over ranks, and the collective is a sync point anyway
            sums = distributed.all_sum(torch.cat([sums, torch.tensor(
                counts, dtype=torch.float64, device=s.device)]), ranks)
        if self.grad_stats and not stopped:  # a stopped epoch is not recorded
            self._grad_epochs.append((number, steps))
            if norms:
                self._grad_stacks.append(norms.stacked())
        read_norms = bool(self._grad_epochs) and \
            time.monotonic() - self._grad_read_at >= GRAD_EVENTS_EVERY_S
        # The epoch's one device-to-host read (a sync point on CUDA): everything in one copy.
        # (Counts known on the host stay there: sending them would be a second sync.)
        parts = [sums, self._norms_on_device()] if read_norms else [sums]
        host = torch.cat(parts).cpu().numpy()
        if ranks.enabled:
            counts, host = list(host[4:7]), np.concatenate([host[:4], host[7:]])
        train_loss, train_hits, val_loss, val_correct = host[:4]
        n_seen, n_val, stop_votes = counts
        return EpochResult(
            float(train_loss / n_seen),
            float(train_hits / n_seen) if self.classify else None,
            float(val_loss / n_val),
            float(val_correct / n_val) if self.classify else None,
            self._per_epoch(host[4:]) if read_norms else [], steps, stopped,
            stopped or bool(stop_votes > 0))

    def _norms_on_device(self) -> torch.Tensor:
        """The waiting epochs' per-step norms, flattened: (steps, layers + 1) from the flat
        buffer, or under DDP (steps, parameters), combined per layer on the host."""
        self._grad_read_at = time.monotonic()
        steps = sum(n for _, n in self._grad_epochs)
        flat = self.session.flat
        if flat is not None:  # rows past `steps` are a stopped epoch's: not recorded
            table = flat.take_norms()
            assert table is not None and len(table) >= steps
            return table[:steps].flatten()
        stacks, self._grad_stacks = self._grad_stacks, []
        return torch.cat(stacks)

    def _per_epoch(self, values: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Host values from _norms_on_device, cut into each waiting epoch's table."""
        epochs, self._grad_epochs = self._grad_epochs, []
        if self.session.flat is None:
            values = layer_norms(values.reshape(-1, len(self.params)), self.groups)
        table = values.reshape(-1, len(self.groups) + 1)
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
        the columns of one table: a hundred epochs cost about six times what one does."""
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
