"""`GradWatch` against norms computed independently at every step, for the ways a loop can
hand it gradients: new tensors from each backward (held as they are), tensors the loop keeps
and zeroes (copied into a block row each step), a loop that starts keeping them part way, and
more steps than a block holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import dmt_tui.grad_watch
from dmt_tui.grad_watch import GradWatch


def train(set_to_none: list[bool], rows: int, monkeypatch: pytest.MonkeyPatch,
          take_every: int = 0) -> tuple[GradWatch, np.ndarray, np.ndarray]:
    """Steps a small model once per entry of `set_to_none` (how that step's zero_grad clears)
    with a watch on it: (the watch, the norms it took, each step's norms computed here)."""
    monkeypatch.setattr(dmt_tui.grad_watch, "BLOCK_ROWS", rows)
    monkeypatch.setattr(dmt_tui.grad_watch, "HOLD_ROWS", rows)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    watch = GradWatch(model)
    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    expected, taken = [], []
    try:
        for step, clear in enumerate(set_to_none, 1):
            optimizer.zero_grad(set_to_none=clear)
            batch = slice(step % 8 * 8, step % 8 * 8 + 8)
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            expected.append([torch.linalg.vector_norm(p.grad).item() for p in watch.params])
            optimizer.step()
            if take_every and step % take_every == 0:
                taken.append(watch.take())
        taken.append(watch.take())
    finally:
        watch.close()
    return watch, np.concatenate(taken), np.array(expected)


@pytest.mark.parametrize("set_to_none", [True, False], ids=["new tensors", "kept tensors"])
def test_every_step_matches_across_blocks(set_to_none: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    watch, got, expected = train([set_to_none] * 23, rows=5, monkeypatch=monkeypatch)
    assert watch._hold is set_to_none  # held where each backward made new tensors
    assert got.shape == expected.shape == (23, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_take_between_steps_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """One step an epoch and three: the first step is copied, the rest held."""
    for every in (1, 3):
        watch, got, expected = train([True] * 10, rows=4, monkeypatch=monkeypatch,
                                     take_every=every)
        assert watch._hold is True
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_loop_that_starts_keeping_its_tensors_is_copied_from_then_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Held until step 6; from step 7 the loop zeroes in place, so step 6's held tensors
    are overwritten by step 7's backward: every other step stays exact."""
    watch, got, expected = train([True] * 6 + [False] * 8, rows=32, monkeypatch=monkeypatch)
    assert watch._hold is False
    exact = [step for step in range(14) if step != 5]  # step 6, 0-based 5
    np.testing.assert_allclose(got[exact], expected[exact], rtol=1e-6)
