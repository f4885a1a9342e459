"""What the loop watches: early stopping and gradient-norm histograms. Plain Python and numpy,
so both are tested without a model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

_EMPTY_LOG_RANGE = math.log(1e-12), math.log(1e-11)  # the edges of a column with no positive norm
_NARROW, _WIDEN = math.log(1.0001), math.log(1.1)


@dataclass
class EarlyStopping:
    """As PyTorch Lightning's EarlyStopping in mode min: an epoch improves when
    loss + min_delta < best (Lightning's very form: `best - min_delta` rounds differently
    when a drop equals min_delta to the last bit); otherwise `wait` grows, and training
    stops at wait >= patience. patience 0 never stops."""

    patience: int
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    wait: int = 0

    def update(self, loss: float, epoch: int) -> bool:
        """Record an epoch's loss; True when it improved on the best."""
        if loss + self.min_delta < self.best:
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


def norm_histograms(norms: np.ndarray, bins: int, names: list[str]) -> list[dict[str, Any]]:
    """Summary and log-spaced histogram of each column's per-step gradient norms.

    `norms` is (steps, columns). Exact zeros (a binary step's layers below it) have no place
    on a log axis: they are counted in `zeros`, so sum(counts) + zeros == steps. All columns
    are binned at once, in few numpy calls: a small model's epoch lasts a few milliseconds,
    and each call costs about a microsecond however small its array."""
    norms = np.asarray(norms, dtype=np.float64).reshape(len(norms), len(names))
    steps, columns = norms.shape
    finite = np.isfinite(norms)
    positive = finite & (norms > 0)
    logs = np.log(np.where(positive, norms, 1.0))  # 0 where not positive; masked below
    lo = np.where(positive, logs, np.inf).min(0, initial=np.inf)
    hi = np.where(positive, logs, -np.inf).max(0, initial=-np.inf)
    has = lo <= hi  # the column has a positive norm
    lo[~has], hi[~has] = _EMPTY_LOG_RANGE
    narrow = has & (hi - lo < _NARROW)  # one value, or all equal: give it a bin of width
    lo[narrow] -= _WIDEN
    hi[narrow] += _WIDEN
    index = ((logs - lo) * (bins / (hi - lo))).astype(np.int64)
    np.clip(index, 0, bins - 1, out=index)
    index += np.arange(0, columns * bins, bins)  # column i counts into bins i*bins...
    counts = np.bincount(index[positive], minlength=bins * columns).reshape(columns, bins)
    edges = _six_digits(np.exp(lo[:, None] + (hi - lo)[:, None] * (np.arange(bins + 1) / bins)))
    n_finite = finite.sum(0)
    means = np.where(finite, norms, 0.0).sum(0) / np.maximum(n_finite, 1)
    mins = np.where(finite, norms, np.inf).min(0, initial=np.inf)
    maxs = np.where(finite, norms, -np.inf).max(0, initial=-np.inf)
    rows = zip(names, n_finite.tolist(), means.tolist(), mins.tolist(), maxs.tolist(),
               counts.tolist(), edges.tolist(), (norms == 0).sum(0).tolist(), strict=True)
    return [{"name": name, "mean": mean if n else None, "min": low if n else None,
             "max": high if n else None, "counts": c, "edges": e, "zeros": zeros,
             "nonfinite": steps - n}
            for name, n, mean, low, high, c, e, zeros in rows]


def norm_histogram(norms: np.ndarray, bins: int, name: str = "") -> dict[str, Any]:
    """One layer's summary and histogram (see norm_histograms)."""
    summary = norm_histograms(np.asarray(norms, dtype=np.float64).reshape(-1, 1), bins,
                              [name])[0]
    if not name:
        del summary["name"]
    return summary


def _six_digits(values: np.ndarray) -> np.ndarray:
    """Round to 6 significant digits: histogram edges need no more, and JSON stays short."""
    scale = 10.0 ** (np.floor(np.log10(values)) - 5)
    return np.round(values / scale) * scale


def layer_norms(per_param: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """(steps, params) norms to (steps, layers + 1): each layer's L2 norm over its params,
    then the whole model's norm over every param, in float64 so squares cannot overflow."""
    squares = np.square(per_param.astype(np.float64))
    columns = [np.sqrt(squares[:, g].sum(1)) for g in groups]
    columns.append(np.sqrt(squares.sum(1)))
    return np.stack(columns, 1)
