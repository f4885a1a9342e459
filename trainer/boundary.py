"""The decision boundary of a 2-D run, as TensorFlow Playground draws it: the model evaluated
on a grid over the data's extent, written as a compact `boundary` event.

Only for the generated 2-D datasets (circle, xor, gauss, spiral, moons; plane for
regression). At most every BOUNDARY_EVERY_S and once more at the end, so a run of 5 ms
epochs writes two a second, not two hundred. Each is one small forward pass (2,048 rows)
and one read from the device; bench/throughput.py counts it in monitoring's overhead.

The event (README, "Run directory"): `epoch`, `cols`, `rows`, `extent` [x_min, x_max, y_min,
y_max] (the grid's cell centres span it), `low`, `high`, and `values`: rows * cols hex
digits, the top row (y_max) first, each the model's output quantized to 16 levels between
`low` and `high` (classification: the probability of class 1, so low 0 and high 1;
regression: the prediction, low and high the training targets' range). The first event also
carries `points`: {"train": [[x, y, label], ...], "val": [...]}, a seeded sample of the
data (at most MAX_POINTS each), coordinates rounded to 3 decimals.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from dmt_tui import rundir
from dmt_tui.trainer.host import Silent
from dmt_tui.trainer.loop import Session

PLANE_DATASETS = frozenset({"circle", "xor", "gauss", "spiral", "moons", "plane"})
BOUNDARY_EVERY_S = 0.5  # at most two boundary events a second
COLS, ROWS = 64, 32  # a half-block cell is two rows high: 64 x 16 terminal cells
LEVELS = 16  # one hex digit a cell
MAX_POINTS = 200  # of each split, in the first event
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
MARGIN = 0.05  # the grid reaches this share of the data's span past its outermost points


def grid_extent(x: np.ndarray) -> list[float]:
    """[x_min, x_max, y_min, y_max] of the points, widened by MARGIN on every side."""
    low, high = x.min(0), x.max(0)
    pad = np.maximum(high - low, 1e-6) * MARGIN
    return [round(float(v), 4) for v in (low[0] - pad[0], high[0] + pad[0],
                                         low[1] - pad[1], high[1] + pad[1])]


def grid_points(extent: list[float], cols: int = COLS, rows: int = ROWS) -> np.ndarray:
    """(rows * cols, 2) cell centres, row by row from the top (y_max) down."""
    x_min, x_max, y_min, y_max = extent
    xs = np.linspace(x_min, x_max, cols)
    ys = np.linspace(y_max, y_min, rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1)


def quantize(values: np.ndarray, low: float, high: float) -> str:
    """Values to hex digits, 0 at `low` and f at `high` (clipped), nearest level."""
    span = high - low if high > low else 1.0
    levels = np.clip(np.rint((values - low) / span * (LEVELS - 1)), 0, LEVELS - 1)
    return _HEX[levels.astype(np.intp)].tobytes().decode("ascii")


def dequantize(digits: str, low: float, high: float) -> np.ndarray:
    """The inverse of quantize, to the level's value."""
    levels = np.array([int(c, 16) for c in digits], dtype=np.float64)
    return low + levels / (LEVELS - 1) * (high - low)


def _sample(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[list[float]]:
    pick = rng.permutation(len(x))[:MAX_POINTS]
    labels = y.reshape(len(y), -1)[:, 0]
    return [[round(float(x[i, 0]), 3), round(float(x[i, 1]), 3),
             round(float(labels[i]), 3)] for i in np.sort(pick)]


class BoundaryMonitor:
    """Writes a run's `boundary` events; does nothing for data that is not a 2-D plane."""

    def __init__(self, session: Session, events: rundir.EventLog | Silent) -> None:
        self.session, self.events = session, events
        data = session.data
        self.on = (session.config["train"]["boundary"]
                   and session.config["data"]["dataset"] in PLANE_DATASETS
                   and data.n_features == 2 and session.ranks.main)
        self._last_at = -math.inf
        self._last_epoch = 0
        if not self.on:
            return
        both = np.concatenate([data.x_train, data.x_val])
        self.extent = grid_extent(both)
        self.grid = torch.from_numpy(grid_points(self.extent)).to(
            device=session.device, dtype=session.x_train.dtype)
        self.classify = data.task == "classification"
        targets = data.y_train.astype(np.float64)
        self.low, self.high = (0.0, 1.0) if self.classify else \
            (round(float(targets.min()), 4), round(float(targets.max()), 4))
        rng = np.random.default_rng(session.config["train"]["seed"])
        self._points: dict[str, Any] | None = {
            "train": _sample(data.x_train, data.y_train, rng),
            "val": _sample(data.x_val, data.y_val, rng)}

    def after_epoch(self, epoch: int) -> None:
        """Write the boundary when BOUNDARY_EVERY_S has passed since the last one."""
        if self.on and time.monotonic() - self._last_at >= BOUNDARY_EVERY_S:
            self.write(epoch)

    def finish(self, epoch: int) -> None:
        """The run's last boundary, unless that epoch's is written already."""
        if self.on and epoch > self._last_epoch:
            self.write(epoch)

    def write(self, epoch: int) -> None:
        model = self.session.model
        model.eval()
        with torch.no_grad():
            out = model(self.grid)
            out = out.softmax(1)[:, 1] if self.classify else out[:, 0]
            values = out.double().cpu().numpy()  # at most twice a second: a sync on CUDA
        model.train()
        self._last_at, self._last_epoch = time.monotonic(), epoch
        if not np.isfinite(values).all():
            return  # a diverged model has no boundary to show
        extra = {"points": self._points} if self._points is not None else {}
        self._points = None
        self.events.write("boundary", epoch=epoch, cols=COLS, rows=ROWS, extent=self.extent,
                          low=self.low, high=self.high,
                          values=quantize(values, self.low, self.high), **extra)
