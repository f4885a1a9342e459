"""What the loop watches: early stopping and gradient-norm histograms. Plain Python and numpy,
so both are tested without a model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class EarlyStopping:
    """As PyTorch Lightning's EarlyStopping in mode min: an epoch improves when
    loss < best - min_delta; otherwise `wait` grows, and training stops at wait >= patience.
    patience 0 never stops."""

    patience: int
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    wait: int = 0

    def update(self, loss: float, epoch: int) -> bool:
        """Record an epoch's loss; True when it improved on the best."""
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = loss, epoch, 0
            return True
        self.wait += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.wait >= self.patience

    def fields(self) -> dict[str, Any]:
        """The early-stopping fields of an `epoch` event."""
        return {"es_wait": self.wait, "es_patience": self.patience,
                "es_best": self.best if self.best_epoch else None,
                "es_best_epoch": self.best_epoch or None}


def norm_histogram(norms: np.ndarray, bins: int, name: str = "") -> dict[str, Any]:
    """Summary and log-spaced histogram of one layer's per-step gradient norms.

    Exact zeros (a binary step's layers below it) have no place on a log axis: they are
    counted in `zeros`, so sum(counts) + zeros == number of steps."""
    norms = np.asarray(norms, dtype=np.float64)
    finite = norms[np.isfinite(norms)]
    positive = finite[finite > 0]
    if positive.size:
        lo, hi = float(positive.min()), float(positive.max())
        if hi / lo < 1.0001:  # one value, or all equal: give it a bin of width
            lo, hi = lo / 1.1, hi * 1.1
        edges = np.geomspace(lo, hi, bins + 1)
        counts, _ = np.histogram(positive, bins=edges)
    else:
        edges = np.geomspace(1e-12, 1e-11, bins + 1)
        counts = np.zeros(bins, dtype=np.int64)
    summary: dict[str, Any] = {"name": name} if name else {}
    summary.update(
        mean=float(finite.mean()) if finite.size else None,
        min=float(finite.min()) if finite.size else None,
        max=float(finite.max()) if finite.size else None,
        counts=[int(c) for c in counts],
        edges=[float(f"{e:.6g}") for e in edges],
        zeros=int((finite == 0).sum()),
        nonfinite=int(norms.size - finite.size),
    )
    return summary


def layer_norms(per_param: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """(steps, params) norms to (steps, layers + 1): each layer's L2 norm over its params,
    then the whole model's norm over every param, in float64 so squares cannot overflow."""
    squares = np.square(per_param.astype(np.float64))
    columns = [np.sqrt(squares[:, g].sum(1)) for g in groups]
    columns.append(np.sqrt(squares.sum(1)))
    return np.stack(columns, 1)
