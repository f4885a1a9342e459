"""Per-step gradient norms of a user's model for `Run.watch`: one multi-tensor norm after each
optimizer step, kept on the model's device until the epoch's single read.

This is the torch half of `dmt_tui.api`, imported only once a model has been passed."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch._utils import _flatten_dense_tensors
from torch.optim.optimizer import register_optimizer_step_post_hook

FOLD = 4096  # 0-d norms held as separate tensors before they are stacked into one
# A model whose gradient fits BLOCK_ROWS times in BLOCK_BYTES has its norms taken every few
# steps (HOLD_ROWS, or BLOCK_ROWS when copied), from those steps' gradients at once. Until
# then each step's gradient tensors are held as they are, since a loop that zeroes with
# `zero_grad()` (set_to_none, the default) gets new ones from every backward: a list append,
# where copying them into a block row is a kernel and a norm per tensor (one _foreach_norm,
# then a stack of thousands of 0-d results) several more (bench/api_overhead.py). A loop that
# keeps its gradient tensors (zero_grad(set_to_none=False), or gradients that are views of one
# buffer) would overwrite what is held, so the second step decides: the same storage as the
# first step's, and every step is copied into a row.
BLOCK_BYTES = 32 << 20  # 16,384 float32 parameters
BLOCK_ROWS = 512
# Held gradients are reduced every HOLD_ROWS steps: few enough that the memory they hold stays
# in the CPU's cache for the backward passes that follow (a small model's step cost +2-3% at
# 64, +3-5% at 16 or 256 in a side-by-side loop), many enough that each reduction's fixed cost
# is spread thin.
HOLD_ROWS = 64


def parameterised_layers(model: nn.Module) -> tuple[list[str], list[nn.Parameter],
                                                    list[list[int]]]:
    """Every module that owns trainable parameters, named by its module path (`encoder.0`;
    the model itself by its class name), in registration order: (names, parameters, and per
    layer the positions of its parameters). A parameter shared by two modules counts once,
    for the first."""
    names: list[str] = []
    params: list[nn.Parameter] = []
    groups: list[list[int]] = []
    seen: set[int] = set()
    for path, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if p.requires_grad and id(p) not in seen]
        if not own:
            continue
        seen.update(id(p) for p in own)
        groups.append(list(range(len(params), len(params) + len(own))))
        params.extend(own)
        names.append(path or type(module).__name__)
    return names, params, groups


class GradWatch:
    """Collects each optimizer step's per-parameter L2 gradient norms on the device.

    With `hook`, a global optimizer step post-hook records after every `optimizer.step()` of
    an optimizer that holds the model's parameters (after, not before: Lightning and LBFGS
    compute the gradients inside `step` through a closure). Without it, the caller calls
    `record()` (the Lightning callback does, from `on_before_optimizer_step`)."""

    def __init__(self, model: nn.Module, on_step: Callable[[], None] | None = None,
                 hook: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"watch() takes a torch.nn.Module, not {type(model).__name__}")
        self.names, self.params, self.groups = parameterised_layers(model)
        if not self.params:
            raise ValueError(f"watch({type(model).__name__}): the model has no parameters that "
                             "require gradients, so it has no gradient norms to watch")
        self.device = self.params[0].device
        self.n_params = sum(p.numel() for p in self.params)
        self._mixed = any(p.device != self.device for p in self.params)  # model parallel
        self._ids = {id(p) for p in self.params}
        self._zeros: dict[torch.device, torch.Tensor] = {}  # stands in for a missing grad
        self._block: torch.Tensor | None = None
        dtypes = {p.dtype for p in self.params}
        if not self._mixed and len(dtypes) == 1 and \
                self.n_params * BLOCK_ROWS * self.params[0].element_size() <= BLOCK_BYTES:
            self._block = torch.empty(BLOCK_ROWS, self.n_params, device=self.device,
                                      dtype=self.params[0].dtype)
            self._rows = list(self._block)  # each step's row, as views made once
            self._row = 0
            ends = np.cumsum([p.numel() for p in self.params]).tolist()
            self._slices = list(zip([0, *ends[:-1]], ends, strict=True))
            self._zeros_like: dict[int, torch.Tensor] = {}
            self._held: list[list[torch.Tensor]] = []  # steps' gradients, while holding
            self._hold: bool | None = None  # decided by the second step: hold, or copy
            self._guard = 0  # a parameter whose gradient storage must change every step
            self._first: list[torch.Tensor] | None = None  # the first step's, until the second
        self._pending: list[torch.Tensor] = []
        self._folded: list[torch.Tensor] = []
        self.steps = 0  # steps recorded since the last take()
        self._on_step = on_step
        self._mine: weakref.WeakKeyDictionary[torch.optim.Optimizer, bool] = \
            weakref.WeakKeyDictionary()
        # the optimizer that stepped the model last (held until close())
        self._last: torch.optim.Optimizer | None = None
        self._handle = register_optimizer_step_post_hook(self._after_step) if hook else None

    def _after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if optimizer is not self._last:  # the same optimizer as last time: the usual case
            mine = self._mine.get(optimizer)
            if mine is None:  # once per optimizer: does it step this model?
                mine = any(id(p) in self._ids for group in optimizer.param_groups
                           for p in group["params"])
                self._mine[optimizer] = mine
            if not mine:
                return
            self._last = optimizer
        self.record()
        if self._on_step is not None:
            self._on_step()

    def _zero(self, param: nn.Parameter) -> torch.Tensor:
        zero = self._zeros.get(param.device)
        if zero is None:
            zero = self._zeros[param.device] = torch.zeros((), device=param.device)
        return zero

    def record(self) -> None:
        """Keep this step's gradient for its norms: no kernel when its tensors can be held,
        and never a read from the device."""
        if self._block is not None:
            grads = [p.grad if p.grad is not None else self._zero_like(i, p)
                     for i, p in enumerate(self.params)]
            self.steps += 1
            if self._hold:
                last = self._held[-1] if self._held else None
                if last is None or grads[self._guard].data_ptr() != last[self._guard].data_ptr():
                    self._held.append(grads)
                    if len(self._held) == HOLD_ROWS:
                        self._reduce_held()
                    return
                self._reduce_held()  # the loop began to keep its tensors: copy from now on
                self._hold = False
            elif self._hold is None and self._first is not None:
                self._decide(grads)
                if self._hold:
                    self._reduce_block()
                    self._held.append(grads)
                    return
            self._copy(grads)
            return
        grads = [p.grad if p.grad is not None else self._zero(p) for p in self.params]
        self._pending.extend(torch._foreach_norm(grads, 2, dtype=torch.float32))
        self.steps += 1
        if len(self._pending) >= FOLD:
            self._fold()

    def _decide(self, grads: list[torch.Tensor]) -> None:
        """Hold gradient tensors from the second step on unless one of them shares its
        storage with the first step's (kept by `_copy` for this)."""
        assert self._first is not None
        pairs = [(i, now.data_ptr(), then.data_ptr())
                 for i, (p, now, then) in enumerate(zip(self.params, grads, self._first,
                                                        strict=True))
                 if p.grad is not None and now.numel()]  # stand-ins and empty tensors aside
        self._first = None
        self._hold = bool(pairs) and all(now != then for _, now, then in pairs)
        if self._hold:
            self._guard = pairs[0][0]

    def _copy(self, grads: list[torch.Tensor]) -> None:
        """This step's gradient into the block's next row: one C++ flatten and a copy."""
        if self._hold is None:
            self._first = grads  # for the second step's decision
        # flattened in C++ (views and cat in one call): 4.8 us against 6.8 for a Python
        # list of views into torch.cat, on the small model of bench/api_overhead.py
        self._rows[self._row].copy_(_flatten_dense_tensors(grads))
        self._row += 1
        if self._row == BLOCK_ROWS:
            self._reduce_block()

    def _zero_like(self, index: int, param: nn.Parameter) -> torch.Tensor:
        zero = self._zeros_like.get(index)
        if zero is None:
            zero = self._zeros_like[index] = torch.zeros_like(param, requires_grad=False)
        return zero

    def _reduce_block(self) -> None:
        """The block's filled rows to per-parameter norms, (rows, parameters), on the device."""
        assert self._block is not None
        if self._row:
            self._reduce(self._block[:self._row])
        self._row = 0

    def _reduce_held(self) -> None:
        """The held steps' gradients to norms: a stack of each parameter's over the steps
        (0.5 ms for 512 steps of the small model, where one flatten of all 4,096 tensors is
        3.8 ms: bench/api_overhead.py's case)."""
        if self._held:
            steps = len(self._held)
            norms = [torch.linalg.vector_norm(
                torch.stack([step[i] for step in self._held]).reshape(steps, p.numel()),
                dim=1, dtype=torch.float32) for i, p in enumerate(self.params)]
            self._folded.append(torch.stack(norms, 1).flatten())
        self._held = []

    def _reduce(self, rows: torch.Tensor) -> None:
        squares = rows.float().square()
        sums = torch.stack([squares[:, a:b].sum(1) for a, b in self._slices], 1)
        self._folded.append(sums.sqrt().flatten())

    def _fold(self) -> None:
        pending = [t.to(self.device) for t in self._pending] if self._mixed else self._pending
        self._folded.append(torch.stack(pending))
        self._pending = []

    def take(self) -> np.ndarray:
        """The norms since the last call, (steps, parameters) in float64: one copy from the
        device, the epoch's sync point on CUDA."""
        steps, self.steps = self.steps, 0
        if not steps:
            return np.zeros((0, len(self.params)))
        if self._pending:
            self._fold()
        if self._block is not None:
            self._reduce_block()
            self._reduce_held()
        folded, self._folded = self._folded, []
        stacked = folded[0] if len(folded) == 1 else torch.cat(folded)
        return stacked.cpu().numpy().astype(np.float64).reshape(steps, len(self.params))

    def lr(self) -> float | None:
        """The first parameter group's learning rate of the optimizer that stepped last."""
        optimizer = self._last
        if optimizer is None:
            return None
        lr: Any = optimizer.param_groups[0].get("lr")
        try:
            return float(lr)  # a tensor lr is read here, once an epoch
        except (TypeError, ValueError):
            return None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self._last = None
