"""The new-run form's activation plot: f(x) and f'(x) on [-4, 4] for the highlighted
activation, the course's table made visible (binary_step's zero derivative, sigmoid's flat
tails, ReLU's dead half). The formulas are presets.activations', held to torch's by tests."""

from __future__ import annotations

from typing import Any

from dmt_tui.app.plot import Plot
from dmt_tui.app.ticks import linear_ticks
from dmt_tui.presets.activations import curve

F_COLOR, D_COLOR = "cyan", "orange"


class ActivationPreview(Plot):
    """f and f' of one activation; `show` redraws only when the activation changed."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._shown: tuple[Any, ...] | None = None
        self.activation: str | None = None

    def show(self, name: str, model: dict[str, Any] | None = None) -> None:
        model = model or {}
        key = (name, model.get("leaky_slope"), model.get("elu_alpha"), self.size)
        if key == self._shown:
            return
        self._shown, self.activation = key, name
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        try:
            xs, f, d = curve(name, model, points=max(41, 2 * self.size.width))
        except KeyError:
            plt.title(f"{name}: no formula")
            self.refresh()
            return
        plt.title(f"{name}  [f ━ cyan, f' ━ orange]")
        plt.plot(xs, f, color=F_COLOR, marker="braille")
        plt.plot(xs, d, color=D_COLOR, marker="braille")
        ys = f + d
        plt.yticks(*linear_ticks(min(ys), max(ys), max(3, (self.size.height - 3) // 2)))
        plt.xticks([-4, -2, 0, 2, 4], ["-4", "-2", "0", "2", "4"])
        self.refresh()
