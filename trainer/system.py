"""What the trainer's process uses, for its `progress` events: resident memory, CPU time as
a share of the wall clock, and on CUDA the memory torch's allocator holds, all read without
waiting for the device. GPU utilisation and memory come from NVML where `nvidia-ml-py` is
installed (`pip install dmt-tui[gpu]`); without it those fields are left out."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import torch

MB = 2**20
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float | None:
    """The process's resident memory now, in MiB (Linux's /proc); None where unreadable."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return round(int(statm.read().split()[1]) * _PAGE / MB, 1)
    except (OSError, ValueError, IndexError):
        return None


class SystemMetrics:
    """`read()`: the fields a `progress` event carries. CPU use is the process's CPU time
    (all its threads) over the wall time since the last read: 100 is one core busy."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._cpu, self._wall = time.process_time(), time.monotonic()
        self._nvml: Any = _nvml_handle(device) if device.type == "cuda" else None

    def read(self) -> dict[str, Any]:
        cpu, wall = time.process_time(), time.monotonic()
        share = (cpu - self._cpu) / max(wall - self._wall, 1e-9)
        self._cpu, self._wall = cpu, wall
        fields: dict[str, Any] = {"rss_mb": rss_mb(), "cpu_percent": round(100 * share, 1)}
        if self.device.type == "cuda":  # the caching allocator's host-side counters: no sync
            fields.update(
                cuda_allocated_mb=round(torch.cuda.memory_allocated(self.device) / MB, 1),
                cuda_reserved_mb=round(torch.cuda.memory_reserved(self.device) / MB, 1),
                cuda_peak_mb=round(torch.cuda.max_memory_allocated(self.device) / MB, 1))
        if self._nvml is not None:
            fields.update(_nvml_fields(self._nvml))
        return fields


def _nvml_handle(device: torch.device) -> Any:
    """NVML's handle of this CUDA device, found by its UUID (CUDA_VISIBLE_DEVICES renumbers
    devices; NVML does not); None without nvidia-ml-py or without a driver that answers."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        uuid = str(torch.cuda.get_device_properties(device).uuid)
        return pynvml, pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
    except Exception:  # noqa: BLE001 - NVML is optional: no figures rather than no run
        return None


def _nvml_fields(nvml: Any) -> dict[str, Any]:
    pynvml, handle = nvml
    with contextlib.suppress(Exception):
        rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        return {"gpu_util_percent": rates.gpu, "gpu_memory_used_mb": round(memory.used / MB, 1)}
    return {}
