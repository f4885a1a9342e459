"""Full-batch training steps replayed from a CUDA graph (one process on a CUDA device).

A small model's training step on a GPU is bound by the host, not the GPU: some 35 kernel
launches and the Python and autograd bookkeeping around them took 1.1 ms a step on an H200,
where the arithmetic takes microseconds. Captured once, the whole step (rows gathered by
index, forward, loss, backward into the flat gradient, the optimizer's step, the step's
loss and correct count) is replayed by one launch. Each step copies its slice of the
epoch's permutation into a fixed index buffer that the graph reads, so every replay trains
on its own batch; the last, partial batch has another shape and runs eagerly.

What a graph cannot follow keeps the eager step for the whole run: a learning-rate schedule
(a graph holds the lr it was captured with), AdaGrad (it counts its steps on the host),
several processes, the CPU, and `train.cuda_graphs: false`. The graph's kernels are the
eager step's, so the results match it to rounding (tests/test_cuda.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from dmt_tui.trainer.distributed import Ranks

if TYPE_CHECKING:
    from dmt_tui.trainer.loop import Session

GRAPH_OPTIMIZERS = frozenset({"adam", "adamw", "sgd", "rmsprop"})
WARMUP_STEPS = 3  # eager steps on a side stream before the capture, as torch asks


def wanted(config: dict[str, Any], device: torch.device, ranks: Ranks) -> bool:
    """Whether this run's full-batch steps are to be replayed from a CUDA graph."""
    return bool(config["train"]["cuda_graphs"] and device.type == "cuda" and not ranks.enabled
                and config["schedule"]["name"] == "none"
                and config["optimizer"]["name"] in GRAPH_OPTIMIZERS)


class CaptureFailed(RuntimeError):
    """The step could not be captured; nothing of it ran. Train eagerly instead."""


class StepGraph:
    """`step(rows)` trains on one full batch: the first WARMUP_STEPS eagerly on a side stream,
    then the step is captured once and replayed. Returns the step's loss and correct count
    (None for regression), copies on the device that the next step leaves alone."""

    def __init__(self, session: Session, loss_fn: Callable[..., torch.Tensor], classify: bool,
                 batch_size: int, keep: bool) -> None:
        assert session.flat is not None
        self.session, self.loss_fn, self.classify = session, loss_fn, classify
        self.keep = keep  # gradient statistics: each step's gradient into the block
        if keep:
            session.flat.count_rows_on_device()
        self.index = torch.zeros(batch_size, dtype=torch.long, device=session.device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self._warm = 0
        self._loss: torch.Tensor | None = None
        self._hits: torch.Tensor | None = None
        # The eager steps around the graph (warm-up, last batches) use the same capturable
        # optimizer, which warns that such steps are slower: they are few.
        warnings.filterwarnings("ignore", message="This instance was constructed with "
                                "capturable=True")

    def _body(self) -> None:
        s = self.session
        assert s.flat is not None
        x = s.x_train.index_select(0, self.index)
        y = s.y_train.index_select(0, self.index)
        out = s.model(x)
        loss = self.loss_fn(out, y)
        s.flat.backward(loss, keep=False)  # into the flat gradient buffer, the same each step
        if self.keep:
            s.flat.keep_in_graph()
        s.optimizer.step()
        self._loss = loss.detach()
        self._hits = (out.argmax(1) == y).sum() if self.classify else None

    def step(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        flat = self.session.flat
        assert flat is not None
        if self.keep:
            flat.make_room()
        self.index.copy_(rows)
        self._run()
        if self.keep:
            flat.kept_in_graph()
        assert self._loss is not None
        return self._loss.clone(), None if self._hits is None else self._hits.clone()

    def _run(self) -> None:
        """The step's work: warm-up on a side stream, then the capture, then replays."""
        if self.graph is None and self._warm < WARMUP_STEPS:
            side = torch.cuda.Stream(self.session.device)
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._body()
            torch.cuda.current_stream().wait_stream(side)
            self._warm += 1
            return
        if self.graph is None:
            self.graph = self._capture()
        self.graph.replay()

    def _capture(self) -> torch.cuda.CUDAGraph:
        """Record the step (capture runs none of it); CaptureFailed when an op refuses."""
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._body()
        except RuntimeError as err:
            raise CaptureFailed(str(err).splitlines()[0]) from err
        return graph
