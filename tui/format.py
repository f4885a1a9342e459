"""How numbers, durations and gauges read in the panels."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

STATE_STYLES = {
    "starting": "yellow",
    "running": "bold green",
    "not_responding": "bold yellow",
    "finished": "cyan",
    "early_stopped": "cyan",
    "diverged": "bold red",
    "stopped": "magenta",
    "failed": "bold red",
    "crashed": "bold red",
}


def state_text(state: str) -> Text:
    """A run state as the user reads it (`early-stopped`), coloured by how it went."""
    return Text(state.replace("_", "-"), style=STATE_STYLES.get(state, ""))


def number(value: Any, digits: int = 4) -> str:
    """A loss or norm: `0.6931`, `1.2e-05`, or `nan`/`inf`/`-` for what is not finite."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.{max(1, digits - 2)}e}"
    return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"


def percent(value: Any) -> str:
    return "-" if not isinstance(value, int | float) or isinstance(value, bool) \
        else f"{100 * value:.1f}%"


def duration(seconds: float | None) -> str:
    """`0:01:23` (hours:minutes:seconds), or `-` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def gauge(fraction: float, width: int, style: str = "green") -> Text:
    """A bar of `width` cells filled to `fraction` (clamped to 0..1), in eighths of a cell."""
    fraction = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    width = max(1, width)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part and full < width else "")
    return Text.assemble((bar, style), ("·" * (width - len(bar)), "dim"))
