"""What the trainer's process uses, from its `progress` events: resident memory and CPU, and
on CUDA torch's allocator counters and NVML's view of the GPU. A field the event lacks (no
CUDA, no nvidia-ml-py, an older trainer) is left out, not shown as a dash."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def _number(value: Any) -> float | None:
    """A finite number, or None for what is absent or not a number (a hand-edited file)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def memory(mb: float) -> str:
    """`412M` below a GiB, `1.2G` above (MiB and GiB: the units torch and nvidia-smi use)."""
    return f"{mb:.0f}M" if mb < 1024 else f"{mb / 1024:.1f}G"


def system_lines(progress: dict[str, Any], live: bool) -> list[Text]:
    """`RSS 412M  CPU 98%  GPU 87% 10.3G`, then on CUDA `CUDA alloc 1.2G res 2.0G peak
    1.5G`; none when the event carries none of them. Dim once the run has ended: the last
    reading, not the current one."""
    style = "" if live else "dim"
    host = []
    rss, cpu = _number(progress.get("rss_mb")), _number(progress.get("cpu_percent"))
    if rss is not None:
        host.append(f"RSS {memory(rss)}")
    if cpu is not None:
        host.append(f"CPU {cpu:.0f}%")  # 100% is one core busy, as top says
    util, used = _number(progress.get("gpu_util_percent")), \
        _number(progress.get("gpu_memory_used_mb"))
    if util is not None or used is not None:
        host.append(" ".join(["GPU", *([f"{util:.0f}%"] if util is not None else []),
                              *([memory(used)] if used is not None else [])]))
    cuda = [f"{name} {memory(value)}" for name, key in
            (("alloc", "cuda_allocated_mb"), ("res", "cuda_reserved_mb"), ("peak", "cuda_peak_mb"))
            if (value := _number(progress.get(key))) is not None]
    lines = [Text("  ".join(host), style=style)] if host else []
    if cuda:
        lines.append(Text("CUDA " + " ".join(cuda), style=style))
    return lines


def oom_peak(end_reason: str, progress: dict[str, Any]) -> str:
    """` (peak 10.2G)` after a CUDA out-of-memory reason, from the last progress event's
    peak; '' for any other reason or when no peak was recorded."""
    peak = _number(progress.get("cuda_peak_mb"))
    if peak is None or "out of memory" not in end_reason.lower():
        return ""
    return f" (peak {memory(peak)})"
