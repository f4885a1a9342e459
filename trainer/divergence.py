"""When a finite loss counts as diverged: a learning rate far too large sends the loss to
1e26 without ever making it NaN, and such a run should not end `finished`.

Two rules, both checked once an epoch on values the epoch's one read brought back:
- `early_stopping.divergence_threshold`: Lightning's: val_loss (the monitored loss) above it.
- `early_stopping.divergence_factor` (default 100): train_loss above this many times the
  untrained model's loss. The untrained loss is measured once, before the first step, so the
  guard costs no read an epoch. An untrained classifier's cross-entropy is about ln(classes)
  and a regression's MSE on a standardized target about 1: a hundred times that is a model
  that has lost everything it knew, while a learning run stays near or below 1x (over all
  their epochs, the built-in presets' worst epoch reached 1.006x: deep-sigmoid-vanishing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dmt_tui.trainer.loop import Session, evaluate


@dataclass
class DivergenceGuard:
    """Decides whether an epoch's finite losses mean the run has blown up."""

    threshold: float | None = None  # val_loss above it: diverged
    factor: float | None = None  # train_loss above factor * untrained: diverged
    untrained: float | None = None  # the untrained model's mean loss

    @property
    def needs_untrained(self) -> bool:
        """Whether the untrained loss must be measured (the factor rule is on)."""
        return self.factor is not None

    def check(self, train_loss: float, val_loss: float, epoch: int, lr: float) -> str | None:
        """None while the run is fine, else the `end` event's reason."""
        advice = f"lr {lr:.3g}; try a smaller learning rate, e.g. --set optimizer.lr={lr / 10:.2g}"
        if self.threshold is not None and val_loss > self.threshold:
            return (f"val_loss {val_loss:.3g} rose above divergence_threshold "
                    f"{self.threshold:g} at epoch {epoch} ({advice})")
        limit = self.limit
        if limit is not None and train_loss > limit:
            return (f"train_loss {train_loss:.3g} at epoch {epoch} is over {self.factor:g}x the "
                    f"untrained model's {self.untrained:.3g} ({advice})")
        return None

    @property
    def limit(self) -> float | None:
        """The train_loss above which the factor rule fires, or None when it cannot."""
        if self.factor is None or self.untrained is None:
            return None
        if not math.isfinite(self.untrained) or self.untrained <= 0:
            return None  # a perfect or broken untrained model gives no scale to judge by
        return self.factor * self.untrained


def guard_for(session: Session) -> DivergenceGuard:
    """The run's guard, with the untrained loss measured now when its rule is on: one read
    from the device, before training starts."""
    config = session.config["early_stopping"]
    guard = DivergenceGuard(config["divergence_threshold"], config["divergence_factor"])
    if guard.needs_untrained:
        guard.untrained = untrained_loss(session)
    return guard


def untrained_loss(session: Session) -> float:
    """The model's mean loss on (this rank's share of) the validation rows, as it is now."""
    loss_sum, _, rows = evaluate(session)
    if rows == 0:
        return math.nan
    with torch.no_grad():
        return float(loss_sum) / rows  # once a run, before the first step: a sync on CUDA
