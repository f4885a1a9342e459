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
from torch.optim.optimizer import register_optimizer_step_post_hook

FOLD = 4096  # 0-d norms held as separate tensors before they are stacked into one
# A model whose gradient fits BLOCK_ROWS times in BLOCK_BYTES has each step's gradient copied
# into the next row of a block (one kernel), and the block's per-parameter norms taken every
# BLOCK_ROWS steps: on a small model's CPU step that is 7 us where a norm per parameter
# tensor (one _foreach_norm call, then a stack of thousands of 0-d results) is 12 us, against
# a 450 us step (bench/api_overhead.py).
BLOCK_BYTES = 32 << 20  # 16,384 float32 parameters
BLOCK_ROWS = 512


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
            self._flat_zeros: dict[int, torch.Tensor] = {}
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
        """Queue this step's norms, or its gradient for them: one kernel, no read from the
        device."""
        if self._block is not None:
            torch.cat([p.grad.view(-1) if p.grad is not None else self._flat_zero(i, p)
                       for i, p in enumerate(self.params)], out=self._rows[self._row])
            self._row += 1
            self.steps += 1
            if self._row == BLOCK_ROWS:
                self._reduce_block()
            return
        grads = [p.grad if p.grad is not None else self._zero(p) for p in self.params]
        self._pending.extend(torch._foreach_norm(grads, 2, dtype=torch.float32))
        self.steps += 1
        if len(self._pending) >= FOLD:
            self._fold()

    def _flat_zero(self, index: int, param: nn.Parameter) -> torch.Tensor:
        zero = self._flat_zeros.get(index)
        if zero is None:
            zero = self._flat_zeros[index] = torch.zeros(param.numel(), device=param.device,
                                                         dtype=param.dtype)
        return zero

    def _reduce_block(self) -> None:
        """The block's filled rows to per-parameter norms, (rows, parameters), on the device."""
        assert self._block is not None
        squares = self._block[:self._row].float().square()
        sums = torch.stack([squares[:, a:b].sum(1) for a, b in self._slices], 1)
        self._folded.append(sums.sqrt().flatten())
        self._row = 0

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
        if self._block is not None and self._row:
            self._reduce_block()
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
