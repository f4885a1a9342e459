"""Flat parameter and gradient buffers: the same training, the same norms, tiny norms kept."""

from __future__ import annotations

import torch
from torch import nn

from trainer.config import load
from trainer.flat import FlatParameters
from trainer.models import build_model
from trainer.optim import build_optimizer

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
        flat.zero_grad()
        nn.functional.cross_entropy(flat_model(x), y).backward()
        flat.record_norms()
        flat_opt.step()
        expected = [torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in group]))
                    for group in (params[0:2], params[2:4], params[4:6], params)]
        torch.testing.assert_close(flat.take_norms()[0].float(), torch.stack(expected))
    for a, b in zip(plain.state_dict().values(), flat_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_vanishing_norms_are_not_rounded_to_zero() -> None:
    model = _model()
    flat = FlatParameters(list(model.parameters()), [[0, 1], [2, 3], [4, 5]])
    flat.zero_grad()
    (model(torch.ones(4, 2)).sum() * 1e-30).backward()  # element squares underflow float32
    flat.record_norms()
    norms = flat.take_norms()
    assert norms is not None and bool((norms > 0).all()) and bool((norms < 1e-25).all())
