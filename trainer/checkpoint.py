"""best.pt: the best epoch's weights, written atomically, read back as data only."""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from pathlib import Path

import torch
from torch import nn


def save_checkpoint(state: dict[str, torch.Tensor], path: Path) -> None:
    """Write a state_dict to a temporary file, then rename it over `path`. Serialized in
    memory first and written by Python, so that a full disk or a deleted folder raises an
    OSError naming `path` ("No space left on device"), not torch's zip writer's
    "unexpected pos" RuntimeError; the temporary file is removed on failure."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(err.errno, err.strerror, str(path)) from None


class BestWeights:
    """The best epoch's weights: kept in memory (for restore_best) and written to best.pt
    when val_loss improves, at most once a second, and always when the run ends. A save
    costs about a millisecond, a small model's epoch a few; a run killed outright may find
    best.pt up to a second behind its events."""

    EVERY_S = 1.0

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: this rank does not write the run directory
        self.state: dict[str, torch.Tensor] | None = None
        self._unsaved = False
        self._saved_at = -math.inf

    def improved(self, model: nn.Module) -> None:
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._unsaved = True
        if time.monotonic() - self._saved_at >= self.EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.path is not None and self.state is not None and self._unsaved:
            save_checkpoint(self.state, self.path)
            self._unsaved, self._saved_at = False, time.monotonic()


def load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A best.pt state_dict. weights_only: a checkpoint is data, and unpickling arbitrary
    objects from a shared runs folder would run whatever code they name."""
    return torch.load(path, map_location="cpu", weights_only=True)
