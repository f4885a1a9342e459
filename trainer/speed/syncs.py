"""Counting the calls that move data between host and device, for the tests and benchmarks.

On CUDA each of these waits for the GPU to finish what was queued before it (a read of a
device value, or a copy of Python data from pageable memory), so their count is the count
of synchronisations. A TorchFunctionMode sees the same calls on every device, so the count
is checked on the CPU too."""

from __future__ import annotations

from collections import Counter
from typing import Any

from torch import Tensor
from torch.overrides import TorchFunctionMode

SYNCING = frozenset({"cpu", "item", "tolist", "__bool__", "__float__", "__int__", "__index__",
                     "tensor", "as_tensor"})


class CountSyncs(TorchFunctionMode):
    """`with CountSyncs() as syncs:` ... `syncs.calls`: how often each syncing call ran."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_function__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in SYNCING or (name == "__setitem__" and _from_host(args)):
            self.calls[name] += 1
        return func(*args, **(kwargs or {}))


def _from_host(args: Any) -> bool:
    """`t[i] = value` with a Python number as the value (or a CPU tensor into a device
    tensor): on a CUDA tensor that is a blocking copy from the host, as torch makes the
    number a CPU tensor first. `t[i].fill_(number)` passes the number in the kernel's
    arguments instead."""
    target, value = args[0], args[2] if len(args) > 2 else None
    if not isinstance(value, Tensor):
        return True
    return value.device.type == "cpu" and target.device.type != "cpu"
