"""M: optimizers and learning-rate schedules.

Schedules are plain functions of the optimizer step, `lr_at(k)` for k = 1, 2, ...: the loop
writes the value into the optimizer's param groups itself, which costs a dict store per step
instead of an LRScheduler call.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from dmt_tui.presets.config_types import OptimizerConfig, RunConfig


def _kwargs(opt: dict[str, Any], *names: str) -> dict[str, Any]:
    """The preset's values for these optimizer arguments (eps: null keeps PyTorch's default),
    and the implementation build_optimizer chose."""
    return {**{n: opt[n] for n in names if opt.get(n) is not None},
            **opt.get("_implementation", {})}


# name -> constructor; PyTorch's defaults apply to everything the preset leaves unset.
OPTIMIZERS: dict[str, Callable[[Iterable[nn.Parameter], dict[str, Any]], torch.optim.Optimizer]] = {
    "sgd": lambda p, o: torch.optim.SGD(
        p, **_kwargs(o, "lr", "momentum", "nesterov", "weight_decay")),
    "adam": lambda p, o: torch.optim.Adam(
        p, betas=tuple(o["betas"]), **_kwargs(o, "lr", "eps", "weight_decay")),
    "adamw": lambda p, o: torch.optim.AdamW(
        p, betas=tuple(o["betas"]), **_kwargs(o, "lr", "eps", "weight_decay")),
    "adagrad": lambda p, o: torch.optim.Adagrad(p, **_kwargs(o, "lr", "eps", "weight_decay")),
    "rmsprop": lambda p, o: torch.optim.RMSprop(
        p, **_kwargs(o, "lr", "alpha", "eps", "momentum", "weight_decay")),
}


CAPTURABLE = frozenset({"adam", "adamw", "rmsprop"})  # take capturable=True


def build_optimizer(params: Iterable[nn.Parameter], opt: OptimizerConfig,
                    capturable: bool = False) -> torch.optim.Optimizer:
    """The preset's optimizer, as one fused kernel where this torch and device have it.

    A small model's step is dominated by per-tensor dispatch, and the fused (else
    multi-tensor) implementation launches one kernel for all tensors; the course's loop in
    bench/throughput.py (its "plain" column) keeps the default one. The maths is PyTorch's,
    so results match the default implementation to rounding. `capturable`: its steps will
    be captured in a CUDA graph (speed.graphs), which Adam, AdamW and RMSprop must be told."""
    params = list(params)
    make = OPTIMIZERS[opt["name"]]
    extra = {"capturable": True} if capturable and opt["name"] in CAPTURABLE else {}
    for implementation in ({"fused": True, **extra}, {"foreach": True, **extra}):
        chosen: dict[str, Any] = {**opt, "_implementation": implementation}
        if _steps(make, chosen, params[0]):
            return make(params, chosen)
    return make(params, dict(opt))


def _steps(make: Callable[[Iterable[nn.Parameter], dict[str, Any]], torch.optim.Optimizer],
           opt: dict[str, Any], like: torch.Tensor) -> bool:
    """Whether this implementation builds and takes a step for a parameter on `like`'s
    device and dtype. Some refuse only at the first step: torch's fused AdaGrad builds on
    CUDA, then fails every run at its first step, as its kernel is CPU-only."""
    probe = nn.Parameter(torch.zeros(1, device=like.device, dtype=like.dtype))
    probe.grad = torch.zeros_like(probe)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a capturable one warns when stepped uncaptured
            make([probe], opt).step()
    except (RuntimeError, TypeError, ValueError):
        return False  # this torch or device has no such implementation of it
    return True


def noam_lr(k: int, d_model: int, warmup: int, factor: float) -> float:
    """The Transformer's warm-up: factor * d_model^-0.5 * min(k^-0.5, k * warmup^-1.5)."""
    return factor * d_model**-0.5 * min(k**-0.5, k * warmup**-1.5)


def schedule_fn(config: RunConfig, steps_per_epoch: int) -> Callable[[int], float] | None:
    """lr as a function of the optimizer step k (from 1), or None for a constant lr."""
    sched, base = config["schedule"], config["optimizer"]["lr"]
    name = sched["name"]
    if name == "none":
        return None
    if name == "noam":
        hidden = config["model"]["hidden"]
        d_model = sched["d_model"] or (max(hidden) if hidden else 1)
        return lambda k: noam_lr(k, d_model, sched["warmup"], sched["factor"])
    if name == "cosine":
        total = max(1, config["train"]["epochs"] * steps_per_epoch)
        floor = sched["min_lr"]

        def cosine(k: int) -> float:
            progress = min(k - 1, total) / total
            return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return cosine
    if name == "step":
        size = sched["step_size"] * steps_per_epoch
        return lambda k: base * sched["gamma"] ** ((k - 1) // size)
    raise KeyError(name)
