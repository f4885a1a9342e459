"""Which device a run trains on: the README's `train.device` rule."""

from __future__ import annotations

import os

import torch

from dmt_tui.presets.schema import ConfigError
from dmt_tui.trainer.distributed import SINGLE, Ranks


def pick_device(name: str, ranks: Ranks = SINGLE) -> torch.device:
    """`auto` is the first visible CUDA device (CUDA_VISIBLE_DEVICES applies), else the CPU.
    With several ranks, `auto` and `cuda` mean this rank's own GPU, cuda:LOCAL_RANK."""
    if name == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if name in ("auto", "cuda") and ranks.enabled:
        name = f"cuda:{ranks.local_rank}"
    if name == "auto":
        return torch.device("cuda:0")
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
