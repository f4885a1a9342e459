"""Turning run events into points a plot can draw: finite values only, at most a few per
column of the plot, and log axes done by hand so their ticks read as `1e-5`, not `0.00001`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import methodcaller
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
    # Runs over every epoch of every series when a run is first drawn (300,000 pairs for a
    # 100,000-epoch run; bench/app_long_run.py). The usual case, whole epochs and float
    # values, is one comprehension whose bounds also drop NaN and infinity (every
    # comparison with NaN is false); anything else is checked pair by pair below.
    if set(map(type, xs)) <= {int} and set(map(type, ys)) <= {float}:
        low = 0.0 if positive else -PLOT_LIMIT
        # x stays an int: it equals its float, and plotext takes either
        return [(x, y) for x, y in zip(xs, ys, strict=False)
                if low <= y <= PLOT_LIMIT and (y > 0.0 or not positive)]
    kept = []
    isfinite = math.isfinite
    for x, y in zip(xs, ys, strict=False):
        tx, ty = type(x), type(y)
        if (tx is float or tx is int) and (ty is float or ty is int):
            if not (isfinite(x) and isfinite(y)):
                continue
            fx, fy = float(x), float(y)
        else:
            gx, gy = finite(x), finite(y)
            if gx is None or gy is None:
                continue
            fx, fy = gx, gy
        if (positive and fy <= 0) or fy > PLOT_LIMIT or fy < -PLOT_LIMIT:
            continue
        kept.append((fx, fy))
    return kept


def decimate(series: list[Point], buckets: int) -> list[Point]:
    """At most 2 * `buckets` points: each bucket keeps its lowest and highest point, in order,
    so a spike or a dip survives however long the run. Plot width decides `buckets`, so a
    10,000-epoch run costs plotext what a 100-epoch one does. A panel that redraws a growing
    series keeps a `Decimator`, which does the same in time proportional to the new points."""
    return Decimator()(series, buckets)


class Decimator:
    """`decimate` for one series that only grows between calls (an `EventPoints` list).

    The points are cut into aligned fine buckets of a power-of-two size, as few as leave at
    least `buckets` of them, and each full one's lowest and highest point are remembered;
    when the series outgrows them, pairs merge (a pair's lowest is the lower of the two).
    A call scans only the points since the last one, then joins the fine buckets into
    `buckets` groups: every group's lowest and highest point are still exact, and groups
    differ in length by at most one fine bucket. A 10,000-point series decimated to 100
    buckets costs 0.06 ms a call this way against 1 ms from scratch.
    """

    def __init__(self) -> None:
        self._series: list[Point] | None = None
        self._buckets = 0
        self._size = 1  # points in a fine bucket
        self._lows: list[int] = []  # index of each full fine bucket's first lowest point
        self._highs: list[int] = []  # and of its first highest

    def __call__(self, series: list[Point], buckets: int) -> list[Point]:
        buckets = max(1, buckets)
        n = len(series)
        if n <= 2 * buckets:
            return list(series)
        # Another list (the run or its axis changed), fewer points, or a new width: start over.
        full = len(self._lows) * self._size
        if series is not self._series or buckets != self._buckets or n < full:
            self._series, self._buckets, self._size = series, buckets, 1
            self._lows, self._highs = [], []
        while -(-n // self._size) > 2 * buckets:  # too many fine buckets: merge pairs
            self._merge_pairs(series)
        size, lows, highs = self._size, self._lows, self._highs
        for start in range(len(lows) * size, n - size + 1, size):
            low, high = _extremes(series, start, start + size)
            lows.append(low)
            highs.append(high)
        fine_lows, fine_highs = lows, highs
        if len(lows) * size < n:  # the last bucket, not full yet: scanned anew each call
            low, high = _extremes(series, len(lows) * size, n)
            fine_lows, fine_highs = [*lows, low], [*highs, high]
        return _grouped(series, fine_lows, fine_highs, buckets)

    def _merge_pairs(self, series: list[Point]) -> None:
        """Double the fine bucket size; an odd last bucket rejoins the unfinished tail."""
        pairs = len(self._lows) // 2
        lows, highs = self._lows, self._highs
        self._lows = [_lower(series, lows[2 * i], lows[2 * i + 1]) for i in range(pairs)]
        self._highs = [_higher(series, highs[2 * i], highs[2 * i + 1]) for i in range(pairs)]
        self._size *= 2


def _extremes(series: list[Point], start: int, stop: int) -> tuple[int, int]:
    """Indices of the first lowest and the first highest point in series[start:stop]."""
    ys = [y for _, y in series[start:stop]]
    return start + ys.index(min(ys)), start + ys.index(max(ys))


def _lower(series: list[Point], a: int, b: int) -> int:
    return b if series[b][1] < series[a][1] else a  # a comes first: ties keep it


def _higher(series: list[Point], a: int, b: int) -> int:
    return b if series[b][1] > series[a][1] else a


def _grouped(series: list[Point], lows: list[int], highs: list[int],
             buckets: int) -> list[Point]:
    """Fine buckets joined into `buckets` groups, each giving its lowest and highest point in
    order."""
    kept: list[Point] = []
    count = len(lows)
    for g in range(buckets):
        start, stop = g * count // buckets, (g + 1) * count // buckets
        if start >= stop:
            continue
        low, high = lows[start], highs[start]
        for i in range(start + 1, stop):
            low, high = _lower(series, low, lows[i]), _higher(series, high, highs[i])
        for i in sorted({low, high}):
            kept.append(series[i])
    return kept


@dataclass
class _Run:
    """What EventPoints holds of one run on one axis."""

    first: dict[str, Any] | None  # the run's first event: which run this is
    positive: frozenset[str]
    read: int = 0  # events already in `points`
    points: dict[str, list[Point]] = field(default_factory=dict)
    decimators: dict[str, Decimator] = field(default_factory=dict)


class EventPoints:
    """Points of some fields of a growing list of events (`epoch` or `grad`), extended by the
    events that arrived since the last call: a redraw of a 10,000-epoch run would otherwise
    check every value of every series four times a second. The last KEEP_RUNS runs shown
    are kept, so going back to one (the selection moving up and down the runs list) costs
    nothing either."""

    KEEP_RUNS = 4

    def __init__(self, fields: Mapping[str, Callable[[dict[str, Any]], Any]],
                 x: Callable[[dict[str, Any]], Any] = methodcaller("get", "epoch")) -> None:
        self.fields, self.x = dict(fields), x
        self._runs: list[_Run] = [self._new(None, frozenset())]  # the current run first

    def _new(self, first: dict[str, Any] | None, positive: frozenset[str]) -> _Run:
        return _Run(first, positive, 0, {name: [] for name in self.fields},
                    {name: Decimator() for name in self.fields})

    def update(self, events: list[dict[str, Any]],
               positive: Iterable[str] = ()) -> dict[str, list[Point]]:
        """Each field's points (see `points`); the fields in `positive` keep only y > 0."""
        wanted = frozenset(positive)
        first = events[0] if events else None
        # The run is known by its first event object, held here so that its id cannot be
        # reused; the history read again from disk is a new object, and starts over.
        run = next((r for r in self._runs if r.first is first and r.positive == wanted
                    and r.read <= len(events)), None)
        if run is None:
            run = self._new(first, wanted)
        self._runs = [run, *[r for r in self._runs if r is not run]][:self.KEEP_RUNS]
        new = events[run.read:]
        xs = list(map(self.x, new))  # map: C calls the getters, not a Python loop
        for name, y in self.fields.items():
            run.points[name] += points(xs, list(map(y, new)), positive=name in wanted)
        run.read = len(events)
        return run.points

    def decimated(self, name: str, buckets: int) -> list[Point]:
        """`decimate(points, buckets)` of a field as of the last `update`, kept up as the
        series grows."""
        run = self._runs[0]
        return run.decimators[name](run.points.get(name, []), buckets)


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


def smoothed(series: list[Point], weight: float) -> list[Point]:
    """TensorBoard's scalar smoothing: an exponential moving average, debiased so that the
    first points are not pulled toward zero (`last / (1 - weight**n)`)."""
    if weight <= 0:
        return series
    last, kept = 0.0, []
    for n, (x, y) in enumerate(series, 1):
        last = last * weight + (1 - weight) * y
        kept.append((x, last / (1 - weight**n)))
    return kept
