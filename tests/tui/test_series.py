"""What reaches plotext: only drawable points, few enough for the plot's width, with log
ticks that read as powers of ten."""

from __future__ import annotations

import math
import random

from rich.text import Text

from dmt_tui.app.format import duration, gauge, number
from dmt_tui.app.series import Decimator, EventPoints, decimate, log_ticks, points


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


def test_a_decimator_kept_across_redraws_gives_what_decimate_gives_from_scratch() -> None:
    rng = random.Random(5)
    for buckets in (1, 3, 40, 100):
        decimator, grown = Decimator(), []
        for n in range(1, 3_000):
            # few distinct values, so ties between equal lows and highs are common
            grown.append((float(n), rng.choice([rng.random(), 0.5, 0.25])))
            if rng.random() < 0.1 or n == 2_999:
                kept = decimator(grown, buckets)
                assert kept == decimate(grown, buckets), (buckets, n)
                assert len(kept) <= 2 * buckets
                assert min(grown, key=lambda p: p[1]) in kept
                assert max(grown, key=lambda p: p[1]) in kept
        assert decimator(grown, buckets + 7) == decimate(grown, buckets + 7)  # plot resized
        assert decimator(grown[:500], buckets) == decimate(grown[:500], buckets)  # another run


def test_event_points_decimate_each_field_as_it_grows_and_start_over_for_another_run() -> None:
    run = [{"epoch": n, "loss": 1.0 / n} for n in range(1, 1_001)]
    run[600]["loss"] = 9.0  # a spike
    series = EventPoints({"loss": lambda e: e.get("loss")})
    for stop in (300, 700, 1_000):
        series.update(run[:stop])
        assert series.decimated("loss", 50) == decimate(points(
            [e["epoch"] for e in run[:stop]], [e["loss"] for e in run[:stop]]), 50)
    assert (601.0, 9.0) in series.decimated("loss", 50)
    other = [{"epoch": n, "loss": float(n)} for n in range(1, 201)]
    series.update(other)  # another run: its own points, not the first run's
    assert series.decimated("loss", 50) == decimate([(float(n), float(n)) for n in
                                                     range(1, 201)], 50)


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


def test_whole_epochs_and_floats_keep_exactly_what_pair_by_pair_keeps() -> None:
    """The quick path (int epochs, float values) against the same numbers checked pair by
    pair (a float epoch sends them there)."""
    rng = random.Random(3)
    ys = [rng.choice([rng.uniform(-2, 2), 0.0, math.nan, math.inf, -math.inf, 1e300, 1e-300])
          for _ in range(2_000)]
    xs = list(range(1, 2_001))
    for positive in (False, True):
        quick = points(xs, ys, positive=positive)
        checked = points([float(x) for x in xs], ys, positive=positive)
        assert quick == checked and len(quick) > 100
