"""Learning-rate schedules as plain formulas: the lr of optimizer step k (k = 1, 2, ...).

Torch-free, so the trainer applies them (trainer.optim.schedule_fn) and the app draws the
very same curve in the new-run form before anything is launched."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any


def noam_lr(k: int, d_model: int, warmup: int, factor: float) -> float:
    """The Transformer's warm-up: factor * d_model^-0.5 * min(k^-0.5, k * warmup^-1.5)."""
    return factor * d_model**-0.5 * min(k**-0.5, k * warmup**-1.5)


def cosine_lr(k: int, base: float, floor: float, total: int) -> float:
    """From `base` at step 1 down to `floor` after `total` steps, along half a cosine."""
    progress = min(k - 1, total) / total
    return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def step_lr(k: int, base: float, gamma: float, every: int) -> float:
    """`base` times gamma once per `every` steps."""
    return base * gamma ** ((k - 1) // every)


def d_model_of(config: Mapping[str, Any]) -> int:
    """Noam's d_model: the schedule's own, else the widest hidden layer (1 with none)."""
    hidden = config["model"]["hidden"]
    return int(config["schedule"]["d_model"] or (max(hidden) if hidden else 1))


def schedule_fn(config: Mapping[str, Any], steps_per_epoch: int) -> Callable[[int], float] | None:
    """lr as a function of the optimizer step k (from 1), or None for a constant lr."""
    sched, base = config["schedule"], float(config["optimizer"]["lr"])
    name = sched["name"]
    if name == "none":
        return None
    if name == "noam":
        d_model, warmup, factor = d_model_of(config), sched["warmup"], sched["factor"]
        return lambda k: noam_lr(k, d_model, warmup, factor)
    if name == "cosine":
        total, floor = max(1, config["train"]["epochs"] * steps_per_epoch), sched["min_lr"]
        return lambda k: cosine_lr(k, base, floor, total)
    if name == "step":
        every, gamma = sched["step_size"] * steps_per_epoch, sched["gamma"]
        return lambda k: step_lr(k, base, gamma, every)
    raise KeyError(name)


def lr_curve(config: dict[str, Any], steps_per_epoch: int,
             points: int = 200) -> tuple[list[int], list[float]]:
    """(steps, lrs) over the whole run, at most `points` evenly spread steps: what the form's
    preview draws."""
    total = max(1, config["train"]["epochs"] * steps_per_epoch)
    fn = schedule_fn(config, steps_per_epoch)
    stride = max(1, total // points)
    steps = [*range(1, total + 1, stride)]
    if steps[-1] != total:
        steps.append(total)
    warmup = config["schedule"]["warmup"]
    if config["schedule"]["name"] == "noam" and warmup <= total and warmup not in steps:
        steps = sorted([*steps, warmup])  # the peak itself, where the warm-up ends
    if fn is None:
        return steps, [float(config["optimizer"]["lr"])] * len(steps)
    return steps, [fn(k) for k in steps]


def steps_per_epoch(config: dict[str, Any], n_rows: int | None = None) -> int:
    """Optimizer steps an epoch: the training rows (generated datasets: n_samples less the
    validation share, as the trainer splits them) over the batch size, rounded up."""
    data = config["data"]
    if n_rows is None:  # as trainer.data.split_indices holds out the validation rows
        n = data["n_samples"]
        n_rows = n - min(max(1, round(n * data["val_fraction"])), n - 1)
    return max(1, math.ceil(n_rows / config["train"]["batch_size"]))
