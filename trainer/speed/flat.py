"""One buffer for all parameters and one for all gradients (single-process runs).

A small model's step is dispatch-bound: eight tensors cost eight kernel launches in every
optimizer step and in every gradient-norm reading. Here every parameter is a view into one
flat buffer, so the optimizer steps one tensor, and a step's gradients are gathered by one
kernel into one flat gradient. With gradient statistics on, that gradient is the next row of
a block, and the rows are reduced to per-layer norms a few hundred steps at a time: keeping
a step's gradient for the norms costs no kernel at all. The arithmetic per element is
unchanged, so results match the per-tensor loop.
"""

from __future__ import annotations

import torch
from torch import nn

BLOCK_BYTES = 4 * 2**20  # kept gradients between reductions, at most


class FlatParameters:
    """`param` holds every parameter, and the model's own parameters are views into it;
    after `backward`, `param.grad` holds every gradient. `groups` lists each linear layer's
    parameter positions in `params`."""

    def __init__(self, params: list[nn.Parameter], groups: list[list[int]]) -> None:
        self.params = params
        sizes = [p.numel() for p in params]
        self.param = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        for p, start, size in zip(params, starts, sizes, strict=True):
            p.data = self.param.data[start:start + size].view_as(p)
        # Each linear layer's weight and bias lie side by side: its segment of the buffer.
        # Parameters outside linear layers come last, in the total's segment alone.
        bounds = [0] + [starts[g[-1]] + sizes[g[-1]] for g in groups]
        assert all(starts[g[0]] == bounds[k] for k, g in enumerate(groups)), groups
        self._lengths = [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self._lengths.append(len(self.param) - bounds[-1])
        self._grad = torch.zeros_like(self.param)  # where gradients go when not kept
        self.param.grad = self._grad
        # Kept gradients: a row per step, in the model's dtype, in a block made when first
        # needed. The squares are taken in float64 at reduction, as a vanishing gradient's
        # elements (1e-20 and less) square to nothing in float32 and would show as zeros.
        self._block = torch.empty(0)
        self._rows: list[torch.Tensor] = []
        self._filled = 0
        self._row_index: torch.Tensor | None = None  # the row count on the device, if kept
        self._reduced: list[torch.Tensor] = []

    def backward(self, loss: torch.Tensor, keep: bool) -> None:
        """Gradients of `loss` into `param.grad`, gathered by one kernel. With `keep`, also
        into the block's next row, where they stay for the layer norms."""
        grads = torch.autograd.grad(loss, self.params, allow_unused=True,
                                    materialize_grads=True)
        if keep and self._row_index is None:  # the host counts the rows: gather into the row
            row = self._next_row()
            torch.cat([g.reshape(-1) for g in grads], out=row)
            self.param.grad = row
            self._filled += 1
            return
        torch.cat([g.reshape(-1) for g in grads], out=self._grad)
        if self.param.grad is not self._grad:
            self.param.grad = self._grad
        row_index = self._row_index
        if keep and row_index is not None:  # into the row the device's counter names
            self._block.index_copy_(0, row_index, self._grad.unsqueeze(0))
            row_index.add_(1)

    # A step replayed from a CUDA graph (speed.graphs) cannot ask the host which row is next:
    # the graph holds the block's address and a counter on the device names the row. Every
    # step of such a run, replayed or eager, keeps its gradient that way, and the host
    # counts the same rows around the step (`make_room`, `count_kept_row`) to know when the
    # block is full. Until `count_rows_on_device`, those two do nothing.

    def count_rows_on_device(self) -> None:
        """Make the block now (a graph holds its address) and count its rows on the device."""
        if not self._rows:
            self._make_block()
        self._row_index = torch.zeros(1, dtype=torch.long, device=self.param.device)

    def make_room(self) -> None:
        """Before a step whose rows the device counts: reduce a full block."""
        if self._row_index is not None and self._filled == len(self._rows):
            self._reduce()

    def count_kept_row(self) -> None:
        """After a step whose rows the device counts: the host's count of its row."""
        if self._row_index is not None:
            self._filled += 1

    def _next_row(self) -> torch.Tensor:
        if not self._rows:
            self._make_block()
        elif self._filled == len(self._rows):
            self._reduce()
        return self._rows[self._filled]

    def _make_block(self) -> None:
        n = len(self.param)
        rows = max(1, min(256, BLOCK_BYTES // (n * self.param.element_size())))
        self._block = torch.empty(rows, n, dtype=self.param.dtype, device=self.param.device)
        self._rows = list(self._block.unbind(0))  # views made once, not per step

    def _reduce(self) -> None:
        """Sum the kept rows' squares per layer and in all, in float64: a sum per segment,
        which costs a third of a (rows, P) x (P, layers + 1) product with its thin right side."""
        if self._filled:
            # a copy, except in a float64 model, whose rows' gradients have been used by now
            squares = self._block[:self._filled].double().square_()
            segments = torch.stack([s.sum(1) for s in squares.split(self._lengths, 1)], 1)
            self._reduced.append(torch.cat([segments[:, :-1],
                                            segments.sum(1, keepdim=True)], 1))
            self._filled = 0
            if self._row_index is not None:
                self._row_index.zero_()

    def take_norms(self) -> torch.Tensor | None:
        """(steps, layers + 1) L2 norms of the steps kept since the last call, in float64
        on the device; None when none were kept."""
        self._reduce()
        if not self._reduced:
            return None
        reduced, self._reduced = self._reduced, []
        squares = reduced[0] if len(reduced) == 1 else torch.cat(reduced)
        return squares.sqrt_()  # sums of squares: never negative
