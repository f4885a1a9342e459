"""Turning run events into points a plot can draw: finite values only, at most a few per
column of the plot, and log axes done by hand so their ticks read as `1e-5`, not `0.00001`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Point = tuple[float, float]
PLOT_LIMIT = 1e100  # plotext scales values by 1e8 when it places ticks: keep far from overflow


def finite(value: Any) -> float | None:
    """The value as a float, or None for null, NaN, inf and anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def points(xs: Sequence[Any], ys: Sequence[Any], *, positive: bool = False) -> list[Point]:
    """Pairs whose x and y are both finite and drawable (and y > 0 when `positive`, for a
    log axis). A diverging run's 1e308 is dropped like an inf: no axis can show both it and
    the losses before it."""
    kept = []
    for x, y in zip(xs, ys, strict=False):
        fx, fy = finite(x), finite(y)
        if fx is None or fy is None or (positive and fy <= 0) or abs(fy) > PLOT_LIMIT:
            continue
        kept.append((fx, fy))
    return kept


def decimate(series: list[Point], buckets: int) -> list[Point]:
    """At most 2 * `buckets` points: each bucket keeps its lowest and highest point, in order,
    so a spike or a dip survives however long the run. Plot width decides `buckets`, so a
    10,000-epoch run costs plotext what a 100-epoch one does."""
    buckets = max(1, buckets)
    if len(series) <= 2 * buckets:
        return list(series)
    kept: list[Point] = []
    size = len(series) / buckets
    for b in range(buckets):
        chunk = series[int(b * size):int((b + 1) * size)]
        if not chunk:
            continue
        low = min(range(len(chunk)), key=lambda i: chunk[i][1])
        high = max(range(len(chunk)), key=lambda i: chunk[i][1])
        for i in sorted({low, high}):
            kept.append(chunk[i])
    return kept


def log10_points(series: list[Point]) -> list[Point]:
    """y to log10(y); callers have already dropped y <= 0."""
    return [(x, math.log10(y)) for x, y in series]


def log_ticks(low: float, high: float, max_ticks: int = 6) -> tuple[list[float], list[str]]:
    """Tick positions (in log10 units) and labels for a log axis spanning 10**low..10**high:
    decades when there are at least two, else 1-2-5 steps, else the two ends; never more
    than `max_ticks`, because plotext thins crowded labels in an order that varies from run
    to run (and snapshots must not)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    if high < low:
        low, high = high, low
    max_ticks = max(2, max_ticks)
    decades = list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))
    if len(decades) >= 2:
        decades = decades[::math.ceil(len(decades) / max_ticks)]
        return [float(d) for d in decades], [f"1e{d}" for d in decades]
    steps = [
        math.log10(m) + d
        for d in range(math.floor(low) - 1, math.ceil(high) + 1)
        for m in (1, 2, 5)
        if low - 1e-9 <= math.log10(m) + d <= high + 1e-9
    ]
    if len(steps) >= 2:
        steps = steps[::math.ceil(len(steps) / max_ticks)]
        return steps, [f"{10 ** s:.2g}" for s in steps]
    return [low, high], [f"{10 ** low:.3g}", f"{10 ** high:.3g}"]
