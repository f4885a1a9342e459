"""One buffer for all parameters and one for all gradients (single-process runs).

A small model's step is dispatch-bound: eight tensors cost eight kernel launches in every
optimizer step and in every gradient-norm reading. With every parameter and gradient a view
into one flat buffer, the optimizer steps one tensor, and the per-step layer norms cost one
elementwise kernel into a block that is reduced by one matrix product every few hundred
steps. The arithmetic per element is unchanged, so results match the per-tensor loop.
"""

from __future__ import annotations

import torch
from torch import nn

BLOCK_BYTES = 16 * 2**20  # squared gradients kept between reductions, at most


class FlatParameters:
    """`param` holds every parameter, `grad` every gradient; the model's own parameters
    become views into them. `groups` lists each linear layer's parameter positions."""

    def __init__(self, params: list[nn.Parameter], groups: list[list[int]]) -> None:
        sizes = [p.numel() for p in params]
        self.param = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
        self.grad = torch.zeros_like(self.param)
        self.param.grad = self.grad
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        for p, start, size in zip(params, starts, sizes, strict=True):
            p.data = self.param.data[start:start + size].view_as(p)
            # autograd adds into an existing .grad in place, so it fills the flat buffer
            p.grad = self.grad[start:start + size].view_as(p)
        # (layers + 1, P): a row per linear layer over its weight and bias, then the total
        self.segments = torch.zeros(len(groups) + 1, len(self.param), dtype=torch.float64,
                                    device=self.param.device)
        for row, group in enumerate(groups):
            for i in group:
                self.segments[row, starts[i]:starts[i] + sizes[i]] = 1.0
        self.segments[-1] = 1.0
        # Per step the block keeps |gradient| in the model's dtype (one exact kernel); the
        # squares are taken in float64 at reduction, as a vanishing gradient's elements
        # (1e-20 and less) square to nothing in float32 and would show as exact zeros.
        rows = max(1, min(256, BLOCK_BYTES // (len(self.param) * self.param.element_size())))
        self._block = torch.empty(rows, len(self.param), dtype=self.param.dtype,
                                  device=self.param.device)
        self._rows = list(self._block.unbind(0))  # views made once, not per step
        self._filled = 0
        self._reduced: list[torch.Tensor] = []

    def zero_grad(self) -> None:
        self.grad.zero_()

    def record_norms(self) -> None:
        """Keep this step's gradient magnitudes for the layer norms (one kernel)."""
        torch.abs(self.grad, out=self._rows[self._filled])
        self._filled += 1
        if self._filled == len(self._rows):
            self._reduce()

    def _reduce(self) -> None:
        if self._filled:
            magnitudes = self._block[:self._filled].double()
            self._reduced.append((magnitudes * magnitudes) @ self.segments.T)
            self._filled = 0

    def take_norms(self) -> torch.Tensor | None:
        """(steps, layers + 1) L2 norms of the steps recorded since the last call, on the
        device; None when none were recorded."""
        self._reduce()
        if not self._reduced:
            return None
        squares, self._reduced = torch.cat(self._reduced), []
        return squares.clamp_(min=0).sqrt_()
