"""The Boundary panel, in TensorFlow Playground's manner: the model's output over the plane of
a 2-D run's data, orange for class 0 and blue for class 1 (regression: low and high), the
colour deeper where the model is surer, and the data points over it (● training,
○ validation). Each terminal cell is two grid cells, as a half block `▀` whose top half is
the foreground colour and bottom half the background."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from dmt_tui.rundir.record import RunRecord

CLASS_0, CLASS_1 = (245, 147, 34), (8, 119, 189)  # the Playground's orange and blue
NEUTRAL = (40, 40, 40)  # an unsure cell: near a dark terminal's background
DEEPEST = 0.6  # a sure cell mixes this much of its class colour into the neutral one
TRAIN_MARK, VAL_MARK = "●", "○"
CELLS_PER_MARK = 4
PLANE_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "plane")  # trainer.boundary's

RGB = tuple[int, int, int]


def _mix(a: RGB, b: RGB, share: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * share), round(a[1] + (b[1] - a[1]) * share),
            round(a[2] + (b[2] - a[2]) * share))


def cell_colour(level: float) -> RGB:
    """The colour of a grid cell whose output is `level` in [0, 1] (0.5: undecided)."""
    sure = min(1.0, abs(level - 0.5) * 2)
    return _mix(NEUTRAL, CLASS_1 if level >= 0.5 else CLASS_0, DEEPEST * sure)


def boundary_grid(event: dict[str, Any]) -> list[list[float]] | None:
    """The event's values as rows (top first) of levels in [0, 1], or None if malformed."""
    cols, rows, values = event.get("cols"), event.get("rows"), event.get("values")
    if not (isinstance(cols, int) and isinstance(rows, int) and isinstance(values, str)):
        return None
    if cols < 1 or rows < 1 or len(values) != cols * rows:
        return None
    try:
        levels = [int(c, 16) / 15 for c in values]
    except ValueError:
        return None
    return [levels[r * cols:(r + 1) * cols] for r in range(rows)]


def render_boundary(event: dict[str, Any], width: int, height: int) -> Text:
    """The boundary drawn into width x height cells (2 * height grid rows), points over it."""
    grid = boundary_grid(event)
    extent = event.get("extent")
    if grid is None or not isinstance(extent, list) or len(extent) != 4 or width < 2 \
            or height < 1:
        return Text("no boundary to draw", style="dim")
    # Keep the data's aspect: a half-block pixel is about square, so a square extent
    # takes twice as many columns as rows.
    x_span, y_span = float(extent[1]) - float(extent[0]), float(extent[3]) - float(extent[2])
    aspect = x_span / y_span if x_span > 0 and y_span > 0 else 1.0
    full_width = width
    width = max(2, min(width, round(2 * height * aspect)))
    height = max(1, min(height, round(width / (2 * aspect))))
    indent = " " * ((full_width - width) // 2)
    rows, cols = len(grid), len(grid[0])
    pixels = [[grid[min(rows - 1, r * rows // (2 * height))][min(cols - 1, c * cols // width)]
               for c in range(width)] for r in range(2 * height)]
    marks = _marks(event, extent, width, height)
    styles: dict[tuple[Any, ...], Style] = {}
    text = Text(no_wrap=True, overflow="crop")
    for row in range(height):
        text.append(indent)
        for col in range(width):
            top, bottom = pixels[2 * row][col], pixels[2 * row + 1][col]
            mark = marks.get((row, col))
            if mark is not None:
                char, label = mark
                key: tuple[Any, ...] = ("p", char, label >= 0.5, (top + bottom) / 2)
                if key not in styles:
                    # lighter than any cell, as the Playground rings its points in white
                    colour = _mix(CLASS_1 if label >= 0.5 else CLASS_0, (255, 255, 255), 0.45)
                    styles[key] = Style(color=f"rgb{colour}", bold=True,
                                        bgcolor=f"rgb{cell_colour((top + bottom) / 2)}")
                text.append(char, styles[key])
                continue
            key = (top, bottom)
            if key not in styles:
                styles[key] = Style(color=f"rgb{cell_colour(top)}",
                                    bgcolor=f"rgb{cell_colour(bottom)}")
            text.append("▀", styles[key])
        if row < height - 1:
            text.append("\n")
    return text


def _marks(event: dict[str, Any], extent: list[Any], width: int,
           height: int) -> dict[tuple[int, int], tuple[str, float]]:
    """(row, col) -> (mark, label) of the data points that fall in the drawing; validation
    points drawn after (over) training ones. Regression labels are scaled by low/high."""
    points = event.get("points")
    if not isinstance(points, dict):
        return {}
    x_min, x_max, y_min, y_max = (float(v) for v in extent)
    low, high = float(event.get("low") or 0.0), float(event.get("high") or 1.0)
    span = high - low if high > low else 1.0
    marks: dict[tuple[int, int], tuple[str, float]] = {}
    # at most one point for every CELLS_PER_MARK cells, or the marks hide the colours
    every = max(1, -(-sum(len(points.get(s) or []) for s in ("train", "val")) * CELLS_PER_MARK
                     // (width * height)))
    for split, char in (("train", TRAIN_MARK), ("val", VAL_MARK)):
        for point in (points.get(split) or [])[::every]:
            if not (isinstance(point, list) and len(point) == 3):
                continue
            x, y, label = point
            col = int((x - x_min) / (x_max - x_min) * width) if x_max > x_min else -1
            row = int((y_max - y) / (y_max - y_min) * height) if y_max > y_min else -1
            if 0 <= col < width and 0 <= row < height:
                marks[(row, col)] = (char, (float(label) - low) / span)
    return marks


class BoundaryPanel(Widget):
    """The selected run's latest `boundary` event; says so when the run has none."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Boundary"
        self._event: dict[str, Any] = {}
        self._drawn: tuple[Any, ...] | None = None
        self._note = ""

    def draw(self, record: RunRecord | None) -> None:
        """Repaint when a new boundary arrived, the run changed or the panel was resized."""
        event = record.boundary if record else {}
        key = (record.run_id if record else None, event.get("time"), event.get("epoch"),
               self.size.width, self.size.height)
        if key == self._drawn:
            return
        self._drawn = key
        self._event = event
        if not event:
            dataset = record.setting("data.dataset") if record else None
            self._note = ("no run selected" if record is None else
                          "no boundary yet" if dataset in PLANE_DATASETS else
                          f"no boundary: {dataset} is not a 2-D dataset (circle, xor, "
                          f"gauss, spiral, moons, plane)")
        what = "P(class 1)" if event.get("low") == 0.0 and event.get("high") == 1.0 \
            else f"output {event.get('low')} .. {event.get('high')}"
        self.border_title = (f"Boundary  epoch {event.get('epoch')}  {what}  "
                             f"{TRAIN_MARK} train {VAL_MARK} val") if event else "Boundary"
        self.refresh()

    def render(self) -> RenderResult:
        if not self._event:
            return Text(self._note, style="dim")
        return render_boundary(self._event, self.content_size.width, self.content_size.height)

