"""What reaches plotext: only drawable points, few enough for the plot's width, with log
ticks that read as powers of ten."""

from __future__ import annotations

import math

from rich.text import Text

from tui.format import duration, gauge, number
from tui.series import decimate, log_ticks, points


def test_points_drop_what_no_axis_can_show() -> None:
    xs = [1, 2, 3, 4, 5, 6, 7]
    ys = [0.5, None, math.nan, math.inf, 1e308, -0.1, 0.0]
    assert points(xs, ys) == [(1.0, 0.5), (6.0, -0.1), (7.0, 0.0)]
    assert points(xs, ys, positive=True) == [(1.0, 0.5)]  # a log axis: y > 0 only
    assert points([None, True], [1.0, 1.0]) == []


def test_decimate_keeps_at_most_two_points_per_bucket_and_every_spike() -> None:
    series = [(float(n), 1.0 / n) for n in range(1, 10_001)]
    series[5_000] = (5_001.0, 50.0)  # one spike in a long run
    kept = decimate(series, 80)
    assert len(kept) <= 160
    assert (5_001.0, 50.0) in kept and series[-1] in kept and series[0] in kept
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)
    short = series[:100]
    assert decimate(short, 80) == short  # already small: untouched


def test_log_ticks_read_as_powers_of_ten_and_stay_few() -> None:
    assert log_ticks(-7.2, -0.8) == ([-7.0, -5.0, -3.0, -1.0], ["1e-7", "1e-5", "1e-3", "1e-1"])
    positions, labels = log_ticks(-7.2, -0.8, max_ticks=2)
    assert len(positions) <= 2 and labels[0] == "1e-7"
    positions, labels = log_ticks(math.log10(0.68), math.log10(0.75))  # within a decade
    assert len(positions) == 2 and labels == ["0.68", "0.75"]
    assert log_ticks(-8.4, -7.8)[1] == ["5e-09", "1e-08"]  # 1-2-5 steps inside
    assert log_ticks(math.nan, 1.0) == ([], [])


def test_numbers_and_gauges_as_the_panels_print_them() -> None:
    assert number(0.69314) == "0.6931"
    assert number(1.7e-8) == "1.70e-08"
    assert number(None) == "-" and number(math.nan) == "nan" and number(math.inf) == "inf"
    assert duration(3725.9) == "1:02:05" and duration(None) == "-"
    bar = gauge(0.5, 10)
    assert isinstance(bar, Text) and bar.plain == "█████·····"
    assert gauge(2.0, 4).plain == "████" and gauge(math.nan, 4).plain == "····"
