"""Will the run fit in memory? An estimate from the config alone, checked before anything
starts, so that `model.hidden: [1000000, 1000000]` (a trillion parameters, 4 TB) is
refused with the key named instead of dying in an allocation minutes later.

Torch-free: the app's form runs the same check. The estimate is generous on purpose (it
refuses only what cannot fit even on an idle machine): it is compared with the machine's
physical memory (or the container's limit), not with what happens to be free now."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dmt_tui.presets.yaml_io import ConfigError

# Features of the built-in datasets; a CSV's are known only once the file is read.
FEATURES = {"circle": 2, "xor": 2, "gauss": 2, "spiral": 2, "moons": 2, "plane": 2,
            "wine": 13, "diabetes": 10}
ROWS = {"wine": 178, "diabetes": 442}
# Copies of each parameter alive at once: weights, gradients, two optimizer moments
# (Adam), the best epoch's weights, and the flat buffer's gradient block.
PARAMETER_COPIES = 6
VAL_CHUNK = 65536  # validation rows per forward pass (as trainer/loop.py)


def memory_limit() -> int | None:
    """Bytes this process may use at most: physical memory, or a cgroup's limit if lower."""
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            limit = min(limit, int(text))
    except OSError:
        pass
    return limit


def human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f}"


def estimate(config: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Bytes needed by each part of a run, keyed by the preset key that sizes it, with what
    the part is: the model's parameters, the data, and one batch's activations."""
    data, model, train = config["data"], config["model"], config["train"]
    n_in = FEATURES.get(data["dataset"], len(data["features"] or []) or 1)
    rows = ROWS.get(data["dataset"], data["n_samples"])
    widths = [n_in, *model["hidden"], 2]  # at least two outputs for a classification
    params = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    size = 8 if train["dtype"] == "float64" else 4
    batch = min(train["batch_size"], rows) + min(VAL_CHUNK, rows)
    parts = {
        "model.hidden": (params * size * PARAMETER_COPIES,
                         f"a model of {params:,} parameters (weights, gradients, optimizer "
                         f"state)"),
        # generated in float64, split, then copied to the device
        "data.n_samples": (rows * (n_in + 1) * (8 * 3 + size), f"{rows:,} rows of data"),
        "train.batch_size": (batch * sum(widths) * size * 3,
                             f"the activations of a batch of {min(train['batch_size'], rows):,}"),
    }
    return parts


def check_memory(config: dict[str, Any], where: str, origins: dict[str, str]) -> None:
    """Refuse a config whose estimate exceeds the machine's memory, naming the key."""
    limit = memory_limit()
    if limit is None:
        return
    parts = estimate(config)
    total = sum(n for n, _ in parts.values())
    if total <= limit:
        return
    key = max(parts, key=lambda k: parts[k][0])
    need, what = parts[key]
    shown = origins.get(key, where)
    raise ConfigError(f"{shown}: {key}: {what} needs about {human(need)} of memory, more than "
                      f"this machine's {human(limit)}; make it smaller")
