"""Flat parameter and gradient buffers: the same training, the same norms, tiny norms kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dmt_tui.presets.schema import load
from dmt_tui.trainer.models import build_model
from dmt_tui.trainer.optim import build_optimizer
from dmt_tui.trainer.speed import flat as flat_module
from dmt_tui.trainer.speed.flat import FlatParameters

MODEL = load("name: x", "x", ["model.hidden=[8,8]", "model.activation=tanh"])["model"]


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return build_model(MODEL, 2, 2)


def test_training_through_the_flat_buffers_matches_per_tensor_training() -> None:
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    opt_config = load("name: x", "x", ["optimizer.name=adam", "optimizer.lr=0.05"])["optimizer"]
    plain, flat_model = _model(), _model()
    plain_opt = build_optimizer(plain.parameters(), opt_config)
    params = list(flat_model.parameters())
    flat = FlatParameters(params, [[0, 1], [2, 3], [4, 5]])
    flat_opt = build_optimizer([flat.param], opt_config)
    for _ in range(5):
        plain_opt.zero_grad()
        nn.functional.cross_entropy(plain(x), y).backward()
        plain_opt.step()
        flat.backward(nn.functional.cross_entropy(flat_model(x), y), keep=True)
        flat_opt.step()
        grads = [p.grad for p in plain.parameters()]  # the same weights: the same gradients
        expected = [torch.linalg.vector_norm(torch.cat([g.flatten() for g in group]))
                    for group in (grads[0:2], grads[2:4], grads[4:6], grads)]
        torch.testing.assert_close(flat.take_norms()[0].float(), torch.stack(expected))
    for a, b in zip(plain.state_dict().values(), flat_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_vanishing_norms_are_not_rounded_to_zero() -> None:
    model = _model()
    flat = FlatParameters(list(model.parameters()), [[0, 1], [2, 3], [4, 5]])
    # element squares underflow float32
    flat.backward(model(torch.ones(4, 2)).sum() * 1e-30, keep=True)
    norms = flat.take_norms()
    assert norms is not None and bool((norms > 0).all()) and bool((norms < 1e-25).all())


def test_norms_kept_over_many_blocks_and_training_without_keeping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A block of 3 rows, 7 steps: the norms come back in order across two reductions and a
    partial block; training that keeps no gradients ends with the same weights."""
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    opt_config = load("name: x", "x", ["optimizer.name=sgd", "optimizer.lr=0.1",
                                       "optimizer.momentum=0.9"])["optimizer"]
    n_params = sum(p.numel() for p in _model().parameters())
    monkeypatch.setattr(flat_module, "BLOCK_BYTES", 3 * n_params * 4)
    runs = []
    for keep in (True, False):
        model = _model()
        params = list(model.parameters())
        flat = FlatParameters(params, [[0, 1], [2, 3], [4, 5]])
        opt = build_optimizer([flat.param], opt_config)
        expected = []
        for _ in range(7):
            flat.backward(nn.functional.cross_entropy(model(x), y), keep=keep)
            expected.append(torch.linalg.vector_norm(flat.param.grad).item())
            opt.step()
        norms = flat.take_norms()
        if keep:
            assert norms is not None and norms.shape == (7, 4) and len(flat._rows) == 3
            torch.testing.assert_close(norms[:, -1].float(), torch.tensor(expected))
        else:
            assert norms is None and flat._rows == []  # no block was made
        runs.append(model.state_dict())
    for a, b in zip(*(r.values() for r in runs), strict=True):
        torch.testing.assert_close(a, b)
