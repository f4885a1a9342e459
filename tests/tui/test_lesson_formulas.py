"""The app's pure pieces behind the lesson views: ticks, TensorBoard's smoothing, the
boundary's cells, the heatmap and the dead-layer check."""

from __future__ import annotations

import math

import pytest

from dmt_tui.app.boundary_panel import CLASS_0, CLASS_1, NEUTRAL, cell_colour, render_boundary
from dmt_tui.app.grad_heatmap import dead_layers, heatmap_range, render_heatmap
from dmt_tui.app.series import smoothed
from dmt_tui.app.ticks import compact, linear_ticks, whole_ticks


def test_compact_labels() -> None:
    assert compact(3841462615.4) == "3.8e9"  # the example
    assert compact(3841462615.4, step=1e8) == "3.8e9"
    assert compact(0.25, step=0.05) == "0.25"
    assert compact(120.0, step=20) == "120"
    assert compact(0.0) == "0"
    assert compact(2e-5, step=1e-5) == "2e-5"


def test_linear_ticks_are_round_and_inside() -> None:
    values, labels = linear_ticks(0.682, 0.751, 5)
    assert values == pytest.approx([0.7, 0.72, 0.74])
    assert labels == ["0.70", "0.72", "0.74"]
    values, labels = linear_ticks(1e9, 4.2e9, 5)
    assert labels == ["1e9", "2e9", "3e9", "4e9"]


def test_epoch_ticks_are_whole_numbers() -> None:
    for low, high, most in [(1, 3, 6), (1, 25, 6), (1, 7, 10), (1, 10_000, 8)]:
        values, labels = whole_ticks(low, high, most)
        assert values and all(v == int(v) and low <= v <= high for v in values)
        assert all("." not in label for label in labels) and len(values) <= most
    assert whole_ticks(1, 3, 6)[1] == ["1", "2", "3"]


def test_smoothing_is_tensorboards_debiased_average() -> None:
    series = [(1.0, 4.0), (2.0, 2.0), (3.0, 8.0)]
    w = 0.6
    # TensorBoard: last = last * w + (1 - w) * y; shown = last / (1 - w ** n)
    first = 0.4 * 4.0
    second = first * w + 0.4 * 2.0
    third = second * w + 0.4 * 8.0
    expected = [first / (1 - w), second / (1 - w**2), third / (1 - w**3)]
    assert [y for _, y in smoothed(series, w)] == pytest.approx(expected)
    assert smoothed(series, 0.0) == series
    assert [y for _, y in smoothed([(1, 5.0)] * 4, 0.99)] == pytest.approx([5.0] * 4)


def test_boundary_cells_shade_by_confidence() -> None:
    assert cell_colour(0.5) == NEUTRAL
    assert cell_colour(1.0) != cell_colour(0.75) != NEUTRAL
    sure_1, sure_0 = cell_colour(1.0), cell_colour(0.0)
    assert sure_1[2] > sure_1[0] and sure_0[0] > sure_0[2]  # blue for 1, orange for 0
    assert CLASS_1[2] > CLASS_0[2]


def test_boundary_draws_half_blocks_and_points_in_their_cells() -> None:
    # 4 x 2 grid: left half class 0 (digit 0), right half class 1 (digit f)
    event = {"cols": 4, "rows": 2, "values": "00ff00ff", "extent": [0, 4, 0, 2],
             "low": 0.0, "high": 1.0,
             "points": {"train": [[0.5, 1.5, 0]], "val": [[3.5, 0.5, 1]]}}
    text = render_boundary(event, 4, 1)
    assert text.plain == "●▀▀○"
    spans = {text.plain[s.start:s.end]: s.style for s in text.spans}
    assert "rgb" in str(spans["●"])


def test_a_malformed_boundary_says_so() -> None:
    assert render_boundary({"cols": 4, "rows": 2, "values": "0f"}, 10, 5).plain == \
        "no boundary to draw"


def _grad(epoch: int, means: list[float], zero_layers: int = 0) -> dict:
    layers = [{"name": f"fc{i + 1}", "mean": m, "counts": [0, 0] if i < zero_layers else [3, 1],
               "zeros": 4 if i < zero_layers else 0, "nonfinite": 0}
              for i, m in enumerate(means)]
    return {"type": "grad", "epoch": epoch, "layers": layers}


def test_heatmap_rows_are_layers_and_columns_epochs() -> None:
    grads = [_grad(1, [1e-6, 1e-2]), _grad(2, [1e-7, 1e-1]), {"epoch": 3, "means": [0.0, 1.0]}]
    assert heatmap_range(grads) == (-7.0, 0.0)
    text = render_heatmap(grads, ["fc1", "fc2"], 6 + 3, 5)
    rows = text.plain.split("\n")
    assert rows == ["fc1   ██·", "fc2   ███"]


def test_dead_layers_are_those_with_zero_norm_at_every_step() -> None:
    assert dead_layers(_grad(5, [0.0, 0.0, 0.3], zero_layers=2)) == ["fc1", "fc2"]
    assert dead_layers(_grad(5, [0.1, 0.3])) == []
    assert dead_layers({"epoch": 1, "means": [0.0]}) == []  # slimmed: no step counts
    assert not math.isnan(heatmap_range([_grad(1, [1.0])])[0])  # type: ignore[index]
