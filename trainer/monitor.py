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


def norm_histograms(norms: np.ndarray, bins: int, names: list[str]) -> list[dict[str, Any]]:
    """Summary and log-spaced histogram of each column's per-step gradient norms.

    `norms` is (steps, columns). Exact zeros (a binary step's layers below it) have no place
    on a log axis: they are counted in `zeros`, so sum(counts) + zeros == steps. All columns
    are binned at once: a small model's epoch lasts a few milliseconds, and a histogram
    call per layer cost a good part of one."""
    norms = np.asarray(norms, dtype=np.float64).reshape(len(norms), len(names))
    finite = np.isfinite(norms)
    positive = finite & (norms > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(positive, np.log(np.where(positive, norms, 1.0)), np.nan)
    has = positive.any(0)
    lo = np.where(has, np.nanmin(np.where(has, logs, 0.0), 0, initial=np.inf,
                                 where=~np.isnan(logs)), np.log(1e-12))
    hi = np.where(has, np.nanmax(np.where(has, logs, 0.0), 0, initial=-np.inf,
                                 where=~np.isnan(logs)), np.log(1e-11))
    narrow = hi - lo < np.log(1.0001)  # one value, or all equal: give it a bin of width
    lo, hi = np.where(narrow & has, lo - np.log(1.1), lo), np.where(narrow & has,
                                                                   hi + np.log(1.1), hi)
    scaled = (np.nan_to_num(logs, nan=0.0) - lo) / (hi - lo) * bins
    index = np.clip(scaled.astype(np.int64), 0, bins - 1) + np.arange(len(names)) * bins
    counts = np.bincount(index[positive], minlength=bins * len(names)).reshape(-1, bins)
    edges = _six_digits(np.exp(lo[:, None] + (hi - lo)[:, None] * np.arange(bins + 1) / bins))
    n_finite = finite.sum(0)
    safe = np.where(finite, norms, 0.0)
    means = np.where(n_finite > 0, safe.sum(0) / np.maximum(n_finite, 1), np.nan)
    mins = np.where(finite, norms, np.inf).min(0)
    maxs = np.where(finite, norms, -np.inf).max(0)
    zeros = (finite & (norms == 0)).sum(0)
    out = []
    for i, name in enumerate(names):
        ok = n_finite[i] > 0
        out.append({"name": name, "mean": float(means[i]) if ok else None,
                    "min": float(mins[i]) if ok else None,
                    "max": float(maxs[i]) if ok else None,
                    "counts": counts[i].tolist(), "edges": edges[i].tolist(),
                    "zeros": int(zeros[i]), "nonfinite": int(len(norms) - n_finite[i])})
    return out


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
