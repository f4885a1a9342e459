"""What a run trains with, once the D and M blocks are built (`loop.prepare`), and how its
steps run: the run's mode, decided once."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dmt_tui.presets.config_types import RunConfig
from dmt_tui.trainer.data import Dataset
from dmt_tui.trainer.distributed import SINGLE, Ranks
from dmt_tui.trainer.host import CoreShare
from dmt_tui.trainer.speed import graphs
from dmt_tui.trainer.speed.flat import FlatParameters

# How a run's steps run (trainer.steps has one class for each).
EAGER = "eager"  # one process, parameters in one flat buffer
GRAPH = "graph"  # the same, with full batches replayed from a CUDA graph
DATA_PARALLEL = "data-parallel"  # several ranks, DistributedDataParallel


def choose_mode(config: RunConfig, device: torch.device, ranks: Ranks) -> str:
    """Data-parallel with several ranks; else replayed from a CUDA graph where the run allows
    one (speed.graphs.wanted); else eager."""
    if ranks.enabled:
        return DATA_PARALLEL
    return GRAPH if graphs.wanted(config, device, ranks) else EAGER


@dataclass
class Session:
    """Everything the T block needs, built by the D and M blocks."""

    config: RunConfig
    device: torch.device
    data: Dataset
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    model: nn.Module
    optimizer: torch.optim.Optimizer
    cores: CoreShare
    ranks: Ranks = SINGLE
    net: nn.Module | None = None  # what trains: the model, or its DistributedDataParallel
    flat: FlatParameters | None = None  # one process: parameters and gradients in one buffer
    mode: str = EAGER  # EAGER, GRAPH or DATA_PARALLEL

    def __post_init__(self) -> None:
        if self.net is None:
            self.net = self.model
