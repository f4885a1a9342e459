"""T: one training step on a batch of rows, in the way this run trains, decided once.

A step is the course's: rows of the training data, forward, loss, backward, the optimizer's
step. It keeps each step's loss and correct count on the device, and the epoch sums them
(`finish_epoch`), so that the loop reads the device once an epoch. Three ways to run it
keep that contract:

- `EagerStep`: one process; parameters and gradients in one flat buffer (speed.flat).
- `GraphStep`: the eager step's own function, captured once in a CUDA graph and replayed for
  every full batch (speed.graphs); the last, partial batch runs eagerly.
- `DataParallelStep`: with several ranks; each rank trains on its share of every batch, and
  DistributedDataParallel averages the gradients.

`session.choose_mode` picks one per run, once; `loop.prepare` builds the parameters and the
optimizer that mode trains, and the loop's `make_step` call builds its step.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from dmt_tui.trainer import distributed
from dmt_tui.trainer.models import loss_fn_for, parameter_groups
from dmt_tui.trainer.monitor import layer_norms
from dmt_tui.trainer.session import DATA_PARALLEL, EAGER, GRAPH, Session
from dmt_tui.trainer.speed import graphs


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


class EagerStep:
    """One process: the optimizer steps one flat buffer holding every parameter, and with
    `keep_norms` each step's gradient is kept there for the per-layer norms."""

    graphed = False

    def __init__(self, session: Session, keep_norms: bool) -> None:
        assert session.flat is not None
        self.session, self.flat, self.keep = session, session.flat, keep_norms
        self.loss_fn = loss_fn_for(session.data.task)
        self.classify = session.data.task == "classification"
        self.batch_size = session.config["train"]["batch_size"]
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.losses = StepValues()  # per step: the batch's mean loss
        self.correct = StepValues()

    def train(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The step itself: forward, loss, backward, the optimizer's step. Returns the loss
        and the correct count (None for regression) as device tensors. Reads and writes
        device tensors only, so that a CUDA graph can capture it (GraphStep)."""
        out = self.session.model(x)
        loss = self.loss_fn(out, y)
        self.flat.backward(loss, keep=self.keep)  # gradients into the flat buffer
        self.session.optimizer.step()
        return loss.detach(), (out.argmax(1) == y).sum() if self.classify else None

    def __call__(self, rows: torch.Tensor) -> int:
        """Train on these rows of the training data; returns how many this process used."""
        loss, hits = self.train(self.session.x_train[rows], self.session.y_train[rows])
        self.record(loss, hits)
        return len(rows)

    def record(self, loss: torch.Tensor, hits: torch.Tensor | None) -> None:
        self.losses.add((loss,))
        if hits is not None:
            self.correct.add((hits,))

    def finish_epoch(self, steps: int, seen: int, recorded: bool) -> torch.Tensor:
        """The epoch's summed training loss and correct count, float64 on the device; the
        next epoch starts from zero. `recorded`: the epoch's norms are wanted (unused here:
        the flat buffer keeps every step's, and `take_norms` takes as many as asked)."""
        device = self.session.device
        # means of full batches, and of the last, partial one
        sizes = torch.full((steps,), float(self.batch_size), dtype=torch.float64, device=device)
        # fill_, not `sizes[-1] = n`: that copies n from the host, a sync point on CUDA
        sizes[-1:].fill_(seen - self.batch_size * (steps - 1))
        train_sum = torch.dot(self.losses.stacked(), sizes)
        hits = self.correct.stacked().sum() if self.classify else torch.zeros_like(train_sum)
        self._start_epoch()
        return torch.stack([train_sum, hits])

    def take_norms(self, steps: int) -> torch.Tensor:
        """The kept steps' per-layer and total gradient norms, flattened, on the device: the
        first `steps` (rows past them are a stopped epoch's, not recorded)."""
        table = self.flat.take_norms()
        assert table is not None and len(table) >= steps
        return table[:steps].flatten()

    def norm_table(self, values: np.ndarray, layers: int) -> np.ndarray:
        """take_norms' values, read to the host, as (steps, layers + 1)."""
        return values.reshape(-1, layers + 1)


class GraphStep:
    """Full batches replayed from a CUDA graph of the eager step's `train`; the last,
    partial batch (another shape) runs eagerly, and so does every step after a failed
    capture. `capture` makes the replayer (a stand-in on the CPU: tests/test_graphs.py)."""

    def __init__(self, session: Session, keep_norms: bool,
                 capture: Callable[[Callable[[], None], torch.device], graphs.CapturedStep]
                 = graphs.CapturedStep) -> None:
        self.eager = EagerStep(session, keep_norms)
        if keep_norms:  # every step's gradient into a row the device counts (speed.flat)
            self.eager.flat.count_rows_on_device()
        self.index = torch.zeros(self.eager.batch_size, dtype=torch.long, device=session.device)
        self.replayer: graphs.CapturedStep | None = capture(self._body, session.device)
        self._out: tuple[torch.Tensor, torch.Tensor | None] | None = None
        # The eager steps around the graph (warm-up, last batches) use the same capturable
        # optimizer, which warns that such steps are slower: they are few.
        warnings.filterwarnings("ignore", message="This instance was constructed with "
                                "capturable=True")

    @property
    def graphed(self) -> bool:
        """Whether full batches are (still) replayed from a graph."""
        return self.replayer is not None

    def _body(self) -> None:
        """The captured work: the batch's rows by the fixed index buffer, then the eager step."""
        s = self.session
        self._out = self.eager.train(s.x_train.index_select(0, self.index),
                                     s.y_train.index_select(0, self.index))

    @property
    def session(self) -> Session:
        return self.eager.session

    def __call__(self, rows: torch.Tensor) -> int:
        """Train on these rows: replayed for a full batch, else eagerly; returns their count."""
        flat = self.eager.flat
        flat.make_room()  # the host's side of the device-counted rows (speed.flat)
        if self.replayer is None or len(rows) != self.eager.batch_size:
            loss, hits = self.eager.train(self.session.x_train[rows], self.session.y_train[rows])
        else:
            self.index.copy_(rows)  # the graph reads its rows here
            try:
                self.replayer.run()
            except graphs.CaptureFailed as err:
                self.replayer = None
                print(f"dmt-tui: CUDA graph capture failed, training without it: {err}",
                      file=sys.stderr, flush=True)
                return self(rows)
            assert self._out is not None
            loss, hits = self._out  # the graph's own outputs: the next replay overwrites them
            loss, hits = loss.clone(), None if hits is None else hits.clone()
        flat.count_kept_row()
        self.eager.record(loss, hits)
        return len(rows)

    def finish_epoch(self, steps: int, seen: int, recorded: bool) -> torch.Tensor:
        return self.eager.finish_epoch(steps, seen, recorded)

    def take_norms(self, steps: int) -> torch.Tensor:
        return self.eager.take_norms(steps)

    def norm_table(self, values: np.ndarray, layers: int) -> np.ndarray:
        return self.eager.norm_table(values, layers)


class DataParallelStep:
    """With several ranks: every rank draws the same order and trains on its share of each global
    batch; DistributedDataParallel all-reduces the gradients. With `keep_norms`, each step's
    per-parameter gradient norms stay on the device (the same on every rank after the
    all-reduce; rank 0's are recorded)."""

    graphed = False

    def __init__(self, session: Session, keep_norms: bool) -> None:
        self.session, self.keep, self.ranks = session, keep_norms, session.ranks
        self.loss_fn = loss_fn_for(session.data.task)
        self.classify = session.data.task == "classification"
        self.params, self.groups, _ = parameter_groups(session.model)
        self._stacks: list[torch.Tensor] = []  # recorded epochs' norms, waiting for a read
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.losses = StepValues()  # per step: this rank's summed loss
        self.correct = StepValues()
        self.norms = StepValues()  # per step, one 0-d norm per parameter

    def __call__(self, rows: torch.Tensor) -> int:
        """Train on this rank's share of a global batch; returns how many rows it used."""
        s, ranks = self.session, self.ranks
        mine = distributed.share(rows, ranks)  # every rank drew the same order
        x, y = s.x_train[mine], s.y_train[mine]
        assert s.net is not None
        out = s.net(x)
        loss_sum = self.loss_fn(out, y, reduction="sum")
        s.optimizer.zero_grad(set_to_none=True)
        # scaled so that DDP's mean over ranks is the gradient of the whole global batch's
        # mean loss, however unevenly the batch divides among ranks
        (loss_sum * (ranks.world / len(rows))).backward()
        if self.keep:  # after DDP's all-reduce of the gradients
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
            self.norms.add(torch._foreach_norm(grads))  # one multi-tensor kernel; stacked later
        s.optimizer.step()
        self.losses.add((loss_sum.detach(),))
        if self.classify:
            self.correct.add(((out.argmax(1) == y).sum(),))
        return len(mine)

    def finish_epoch(self, steps: int, seen: int, recorded: bool) -> torch.Tensor:
        """This rank's summed training loss and correct count (the loop sums the ranks')."""
        train_sum = self.losses.stacked().sum()
        hits = self.correct.stacked().sum() if self.classify else torch.zeros_like(train_sum)
        if recorded and self.norms:
            self._stacks.append(self.norms.stacked())
        self._start_epoch()
        return torch.stack([train_sum, hits])

    def take_norms(self, steps: int) -> torch.Tensor:
        """The recorded epochs' per-parameter norms, flattened, on the device."""
        stacks, self._stacks = self._stacks, []
        return torch.cat(stacks)

    def norm_table(self, values: np.ndarray, layers: int) -> np.ndarray:
        """Per-parameter norms combined per layer on the host, as (steps, layers + 1)."""
        return layer_norms(values.reshape(-1, len(self.params)), self.groups).reshape(
            -1, layers + 1)


Step = EagerStep | GraphStep | DataParallelStep
STEPS: dict[str, type[EagerStep] | type[GraphStep] | type[DataParallelStep]] = {
    EAGER: EagerStep, GRAPH: GraphStep, DATA_PARALLEL: DataParallelStep}


def make_step(session: Session, keep_norms: bool) -> Step:
    """The step for this run's mode, chosen once by `choose_mode` in `prepare`."""
    return STEPS[session.mode](session, keep_norms)
