"""A training step replayed from a CUDA graph (one process on a CUDA device).

A small model's training step on a GPU is bound by the host, not the GPU: dozens of kernel
launches, and the Python and autograd bookkeeping around them, take far longer than the
arithmetic. Captured once, the whole step is replayed by one launch (the gain is measured by
`bench/throughput.py --device cuda`, the "no graph" line). What is captured is a function of
device tensors alone: `trainer.steps.GraphStep` hands in the eager step's own function, so
the kernels, and the results, are the eager step's (tests/test_cuda.py).

What a graph cannot follow keeps the eager step for the whole run (`wanted`): a learning-rate
schedule (a graph holds the lr it was captured with), AdaGrad (it counts its steps on the
host), several processes, the CPU, and `train.cuda_graphs: false`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dmt_tui.presets.config_types import RunConfig
from dmt_tui.trainer.distributed import Ranks

GRAPH_OPTIMIZERS = frozenset({"adam", "adamw", "sgd", "rmsprop"})
WARMUP_STEPS = 3  # eager runs on a side stream before the capture, as torch asks


def wanted(config: RunConfig, device: torch.device, ranks: Ranks) -> bool:
    """Whether this run's full-batch steps are to be replayed from a CUDA graph."""
    return bool(config["train"]["cuda_graphs"] and device.type == "cuda" and not ranks.enabled
                and config["schedule"]["name"] == "none"
                and config["optimizer"]["name"] in GRAPH_OPTIMIZERS)


class CaptureFailed(RuntimeError):
    """The step could not be captured; nothing of it ran. Train eagerly instead."""


class CapturedStep:
    """`run()` runs `body`, a function that reads and writes device tensors only: the first
    WARMUP_STEPS times eagerly on a side stream, then it is captured once and replayed."""

    def __init__(self, body: Callable[[], None], device: torch.device) -> None:
        self.body, self.device = body, device
        self.graph: torch.cuda.CUDAGraph | None = None
        self._warm = 0

    @property
    def replaying(self) -> bool:
        """Whether the capture is done and each run is a replay."""
        return self.graph is not None

    def run(self) -> None:
        """The body's work: warm-up on a side stream, then the capture, then replays."""
        if self.graph is None and self._warm < WARMUP_STEPS:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.body()
            torch.cuda.current_stream().wait_stream(side)
            self._warm += 1
            return
        if self.graph is None:
            self.graph = self._capture()
        self.graph.replay()

    def _capture(self) -> torch.cuda.CUDAGraph:
        """Record the body (capture runs none of it); CaptureFailed when an op refuses."""
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.body()
        except RuntimeError as err:
            raise CaptureFailed(str(err).splitlines()[0]) from err
        return graph
