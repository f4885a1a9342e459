"""T: the training loop, writing the run directory as it goes.

`prepare()` is the D and M blocks (device, data, model, optimizer) and raises ConfigError
for a user's mistake before anything is written; `run()` is the T block. The hot loop keeps
losses, correct counts and gradient norms on the device and reads them back once an epoch.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from torch import nn

from trainer import rundir
from trainer.config import ConfigError
from trainer.data import Dataset, load_dataset
from trainer.models import build_model, linear_layers
from trainer.monitor import EarlyStopping, layer_norms, norm_histogram
from trainer.optim import build_optimizer, schedule_fn

PROGRESS_EVERY_S = 0.5  # `progress` events: at most two a second
VAL_CHUNK = 65536  # validation rows per forward pass


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


def pick_device(name: str) -> torch.device:
    """`auto` is the first visible CUDA device (CUDA_VISIBLE_DEVICES applies), else the CPU."""
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    shown = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
    if not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name} was asked for, but no CUDA device is "
                          f"visible{shown}; use auto or cpu")
    index = int(name.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(f"train.device: {name} was asked for, but {torch.cuda.device_count()} "
                          f"CUDA device(s) are visible{shown}: cuda:0 to "
                          f"cuda:{torch.cuda.device_count() - 1}")
    return torch.device("cuda", index)


def share_of_cores(runs_dir: Path | None) -> int:
    """Threads for a CPU run: the cores divided among the runs training now, this one too,
    so that N concurrent runs do not oversubscribe the machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    live = 1
    if runs_dir is not None:
        for run_dir in rundir.iter_run_dirs(runs_dir):
            status = rundir.read_status(run_dir)
            if status.get("pid") != os.getpid() and \
                    rundir.effective_state(status) in rundir.LIVE_STATES:
                live += 1
    return max(1, (cores or 1) // live)


class CoreShare:
    """Re-divides the cores among live runs every few seconds: runs that start together
    cannot see each other at start-up, and a run that ends frees its share."""

    EVERY_S = 5.0

    def __init__(self, runs_dir: Path | None, fixed: int | None) -> None:
        self.runs_dir, self.fixed = runs_dir, fixed
        self.threads = fixed or share_of_cores(runs_dir)
        self._next = time.monotonic() + self.EVERY_S
        torch.set_num_threads(self.threads)

    def rebalance(self) -> int:
        now = time.monotonic()
        if self.fixed is None and now >= self._next:
            self._next = now + self.EVERY_S
            threads = share_of_cores(self.runs_dir)
            if threads != self.threads:
                self.threads = threads
                torch.set_num_threads(threads)
        return self.threads


def prepare(config: dict[str, Any], runs_dir: Path | None = None) -> Session:
    """D and M: device, data on the device, model and optimizer. Raises ConfigError."""
    train = config["train"]
    device = pick_device(train["device"])
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
    optimizer = build_optimizer(model.parameters(), config["optimizer"])
    return Session(config, device, data, on_device(data.x_train, False),
                   on_device(data.y_train, True), on_device(data.x_val, False),
                   on_device(data.y_val, True), model, optimizer, cores)


class StopRequest:
    """Set by SIGTERM (and SIGINT); the loop finishes its step and ends `stopped`."""

    def __init__(self) -> None:
        self.signal_name = ""

    def __bool__(self) -> bool:
        return bool(self.signal_name)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name


class Heartbeat:
    """Keeps status.json fresh from a daemon thread, so a long epoch is not taken for a
    crash; the loop calls `update()` with new summary fields."""

    def __init__(self, run_dir: Path, **fields: Any) -> None:
        self.run_dir, self.fields = run_dir, dict(fields)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.update()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.fields.update(fields)
            rundir.write_status(self.run_dir, **self.fields)

    def _beat(self) -> None:
        while not self._done.wait(rundir.HEARTBEAT_S):
            try:
                self.update()
            except OSError:
                pass  # a full disk shows up in the loop's own writes

    def close(self, **fields: Any) -> None:
        self._done.set()
        self.update(**fields)


def _loss_fn(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
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


def evaluate(session: Session) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed validation loss and correct count as device tensors, under eval and no_grad."""
    model, loss_fn = session.model, _loss_fn(session.data.task)
    model.eval()
    loss_sum = torch.zeros((), device=session.device, dtype=torch.float64)
    correct = torch.zeros((), device=session.device, dtype=torch.int64)
    with torch.no_grad():
        for x, y in zip(session.x_val.split(VAL_CHUNK), session.y_val.split(VAL_CHUNK),
                        strict=True):
            out = model(x)
            loss_sum += loss_fn(out, y, reduction="sum").double()
            if session.data.task == "classification":
                correct += (out.argmax(1) == y).sum()
    model.train()
    return loss_sum, correct


@dataclass
class EpochResult:
    train_loss: float
    train_acc: float | None
    val_loss: float
    val_acc: float | None
    norms: np.ndarray | None  # (steps, layers + 1) per-step gradient norms, total last
    steps: int  # optimizer steps taken this epoch
    stopped: bool  # a stop request arrived mid-epoch


class Trainer:
    """The T block for one session: epochs of shuffled mini-batches, writing events."""

    def __init__(self, session: Session, events: rundir.EventLog, stop: StopRequest) -> None:
        self.session, self.events, self.stop = session, events, stop
        config = session.config
        self.batch_size = config["train"]["batch_size"]
        self.n_train = len(session.x_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.lr_at = schedule_fn(config, self.steps_per_epoch)
        self.step = 0  # optimizer steps so far, all epochs
        self.params, self.groups, self.layer_names = _parameter_groups(session.model)
        self.grad_stats = config["train"]["grad_stats"]
        self.loss_fn = _loss_fn(session.data.task)
        self.classify = session.data.task == "classification"
        self.shuffle = torch.Generator(device=session.device)
        self.shuffle.manual_seed(config["train"]["seed"] + 1)
        self.base_lr = float(config["optimizer"]["lr"])
        if self.lr_at is not None:
            self._set_lr()

    def _set_lr(self) -> None:
        """Put the schedule's lr for the next step into the optimizer."""
        assert self.lr_at is not None
        lr = self.lr_at(self.step + 1)
        for group in self.session.optimizer.param_groups:
            group["lr"] = lr

    def epoch(self, number: int) -> EpochResult:
        s = self.session
        model, optimizer, loss_fn = s.model, s.optimizer, self.loss_fn
        losses: list[torch.Tensor] = []
        correct: list[torch.Tensor] = []
        norm_rows: list[list[torch.Tensor]] = []  # per step, one 0-d norm per parameter
        order = torch.randperm(self.n_train, device=s.device, generator=self.shuffle)
        started = last_progress = time.monotonic()
        stopped = False
        for i, index in enumerate(order.split(self.batch_size), 1):
            x, y = s.x_train[index], s.y_train[index]
            out = model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_stats:
                grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                         for p in self.params]
                # one multi-tensor kernel; stacked once an epoch, not here (saves ~2 us/step)
                norm_rows.append(torch._foreach_norm(grads))
            optimizer.step()
            self.step += 1
            if self.lr_at is not None:
                self._set_lr()
            losses.append(loss.detach())
            if self.classify:
                correct.append((out.argmax(1) == y).sum())
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                done = min(i * self.batch_size, self.n_train)
                self.events.write("progress", epoch=number, step=i, steps=self.steps_per_epoch,
                                  samples_per_s=round(done / max(now - started, 1e-9), 1))
            if self.stop:
                stopped = True
                break
        steps = len(losses)
        val_loss_sum, val_correct = evaluate(s)
        # The epoch's one device-to-host read (a sync point on CUDA): everything in one copy.
        sizes = torch.full((steps,), float(self.batch_size), dtype=torch.float64)
        if not stopped:
            sizes[-1] = self.n_train - self.batch_size * (steps - 1)
        parts = [torch.stack(losses).double(), val_loss_sum.reshape(1),
                 val_correct.double().reshape(1)]
        if self.classify:
            parts.append(torch.stack(correct).double())
        if norm_rows:
            parts.append(torch.stack([n for row in norm_rows for n in row]).double())
        host = torch.cat(parts).cpu().numpy()
        step_losses, val_loss, val_hits = host[:steps], host[steps], host[steps + 1]
        rest = host[steps + 2:]
        seen = float(sizes.sum())
        train_acc = val_acc = None
        if self.classify:
            train_acc, rest = float(rest[:steps].sum() / seen), rest[steps:]
            val_acc = float(val_hits / len(s.x_val))
        norms = None
        if norm_rows:
            norms = layer_norms(rest.reshape(steps, len(self.params)), self.groups)
        return EpochResult(float(np.dot(step_losses, sizes.numpy()) / seen), train_acc,
                           float(val_loss / len(s.x_val)), val_acc, norms, steps, stopped)

    def grad_event(self, number: int, norms: np.ndarray) -> None:
        bins = self.session.config["train"]["hist_bins"]
        layers = [norm_histogram(norms[:, i], bins, name)
                  for i, name in enumerate(self.layer_names)]
        self.events.write("grad", epoch=number, layers=layers,
                          total=norm_histogram(norms[:, -1], bins, "total"))


def save_checkpoint(model: nn.Module, path: Path) -> None:
    """Write the state_dict to a temporary file, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A best.pt state_dict. weights_only: a checkpoint is data, and unpickling arbitrary
    objects from a shared runs folder would run whatever code they name."""
    return torch.load(path, map_location="cpu", weights_only=True)


def epoch_line(number: int, total: int, r: EpochResult, es: EarlyStopping, lr: float,
               seconds: float) -> str:
    def acc(value: float | None) -> str:
        return "" if value is None else f" acc {value * 100:5.1f}%"

    width = len(str(total))
    return (f"epoch {number:>{width}}/{total}  train {r.train_loss:.4g}{acc(r.train_acc)}  "
            f"val {r.val_loss:.4g}{acc(r.val_acc)}  early-stop {es.wait}/{es.patience}  "
            f"lr {lr:.3g}  {seconds:.2f}s")
