"""Gradients over time: every layer's mean gradient norm in every epoch as one heatmap
(layers down, epochs across, a log colour scale), so vanishing toward the input and how it
changes over training show at once; and the dead-unit check (layers whose gradient was
exactly zero at every step of the latest epoch)."""

from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from dmt_tui.app.store import layer_means

# A perceptual dark-to-bright scale (viridis' ends and middle), small norms dark.
SCALE = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
ZERO_STYLE = Style(color="grey50")
ZERO_MARK = "·"  # a norm of exactly 0: no colour on a log scale holds it
LABEL_WIDTH = 6


def _colour(share: float) -> tuple[int, int, int]:
    share = min(1.0, max(0.0, share)) * (len(SCALE) - 1)
    i = min(len(SCALE) - 2, int(share))
    a, b, t = SCALE[i], SCALE[i + 1], share - i
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


def heatmap_range(grads: list[dict[str, Any]]) -> tuple[float, float] | None:
    """The whole decades (log10) that hold every positive finite mean, or None."""
    logs = [math.log10(m) for g in grads for m in layer_means(g)
            if isinstance(m, int | float) and math.isfinite(m) and m > 0]
    if not logs:
        return None
    return float(math.floor(min(logs))), float(max(math.ceil(max(logs)), math.floor(min(logs))
                                                   + 1))


def render_heatmap(grads: list[dict[str, Any]], names: list[str], width: int,
                   height: int) -> Text:
    """Layers (input at the top) by epochs, the epochs binned to fit `width` columns; each
    cell is the geometric mean of its epochs' mean norms."""
    span = heatmap_range(grads)
    if span is None or not names:
        return Text("no gradient statistics yet", style="dim")
    low, high = span
    means = [layer_means(g) for g in grads]
    columns = max(1, width - LABEL_WIDTH)
    n = len(grads)
    # each column the epochs it covers; fewer epochs than columns: each spans several
    bins = [(c * n // columns, max(c * n // columns + 1, (c + 1) * n // columns))
            for c in range(columns)]
    rows = names[:max(1, height)]
    text = Text(no_wrap=True, overflow="crop")
    styles: dict[tuple[int, int, int], Style] = {}
    for r, name in enumerate(rows):
        text.append(f"{name[:LABEL_WIDTH - 1]:<{LABEL_WIDTH - 1}} ", style="bold")
        for start, stop in bins:
            values = [m[r] if r < len(m) else None for m in means[start:stop]]
            positive = [math.log10(v) for v in values
                        if isinstance(v, int | float) and math.isfinite(v) and v > 0]
            if positive:
                rgb = _colour((sum(positive) / len(positive) - low) / (high - low))
                if rgb not in styles:
                    styles[rgb] = Style(color=f"rgb{rgb}")
                text.append("█", styles[rgb])
            elif any(v == 0 for v in values):
                text.append(ZERO_MARK, ZERO_STYLE)
            else:
                text.append(" ")
        if r < len(rows) - 1:
            text.append("\n")
    return text


def scale_legend(grads: list[dict[str, Any]]) -> Text:
    """`1e-8 ▆▆▆▆▆ 1e0  · zero`: what the colours mean."""
    span = heatmap_range(grads)
    if span is None:
        return Text("")
    low, high = span
    bar = Text()
    for i in range(10):
        bar.append("█", Style(color=f"rgb{_colour(i / 9)}"))
    first, last = grads[0].get("epoch"), grads[-1].get("epoch")
    return Text.assemble(f"1e{int(low)} ", bar, f" 1e{int(high)}  ", (ZERO_MARK, ZERO_STYLE),
                         f" exactly 0   epochs {first}..{last} left to right")


def dead_layers(grad: dict[str, Any] | None) -> list[str]:
    """Layers whose gradient norm was exactly 0 at every step of this `grad` event's epoch:
    below a layer of dead ReLU units (or a binary step), no gradient gets through."""
    layers = (grad or {}).get("layers")
    if not isinstance(layers, list):
        return []
    dead = []
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        zeros, counts = layer.get("zeros"), layer.get("counts") or []
        if isinstance(zeros, int) and zeros > 0 and not any(counts) \
                and not layer.get("nonfinite"):
            dead.append(str(layer.get("name")))
    return dead


def dead_message(grad: dict[str, Any] | None, activation: Any) -> str:
    """One line for the panels, or '' when every layer got some gradient."""
    dead = dead_layers(grad)
    if not dead:
        return ""
    where = ", ".join(dead)
    if activation in ("relu",):
        return (f"dead ReLUs: {where} got exactly zero gradient at every step of epoch "
                f"{(grad or {}).get('epoch')}; every unit above them is off for all inputs")
    return f"no gradient reaches {where} (exactly 0 at every step; {activation})"


class GradHeatmap(Widget):
    """The heatmap, drawn to whatever size the panel gives it."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.grads: list[dict[str, Any]] = []
        self.names: list[str] = []

    def show(self, grads: list[dict[str, Any]], names: list[str]) -> None:
        self.grads, self.names = grads, names
        self.refresh()

    def render(self) -> RenderResult:
        return render_heatmap(self.grads, self.names, self.content_size.width,
                              self.content_size.height)
