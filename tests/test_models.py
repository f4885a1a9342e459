"""Activations against the course's formulas, values and gradients; the model's shape."""

from __future__ import annotations

import math

import pytest
import torch

from dmt_tui.presets.schema import ACTIVATIONS as ACTIVATION_NAMES
from dmt_tui.presets.schema import load
from dmt_tui.trainer.models import ACTIVATIONS, build_model, linear_layers

X = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


SCALE, ALPHA = 1.0507009873554805, 1.6732632423543772  # SELU's constants

# name -> (f(x), f'(x)) as the course writes them
FORMULAS = {
    "identity": (lambda x: x, lambda x: 1.0),
    "sigmoid": (sig, lambda x: sig(x) * (1 - sig(x))),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "elu": (lambda x: x if x > 0 else math.exp(x) - 1, lambda x: 1.0 if x > 0 else math.exp(x)),
    "softplus": (lambda x: math.log1p(math.exp(x)), sig),
    "silu": (lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
    "gaussian": (lambda x: math.exp(-x * x), lambda x: -2 * x * math.exp(-x * x)),
    "gcu": (lambda x: x * math.cos(x), lambda x: math.cos(x) - x * math.sin(x)),
    "binary_step": (lambda x: 1.0 if x >= 0 else 0.0, lambda x: 0.0),
    "selu": (lambda x: SCALE * (x if x > 0 else ALPHA * (math.exp(x) - 1)),
             lambda x: SCALE * (1.0 if x > 0 else ALPHA * math.exp(x))),
    "gelu": (lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
             lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))
             + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "mish": (lambda x: x * math.tanh(math.log1p(math.exp(x))),
             lambda x: math.tanh(math.log1p(math.exp(x)))
             + x * sig(x) * (1 - math.tanh(math.log1p(math.exp(x))) ** 2)),
    "prelu": (lambda x: x if x > 0 else 0.25 * x, lambda x: 1.0 if x > 0 else 0.25),
}
MODEL = load("name: x", "x")["model"]


def test_registry_names_match_the_schema() -> None:
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES) == set(FORMULAS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_values_and_gradients(name: str) -> None:
    f, df = FORMULAS[name]
    module = ACTIVATIONS[name](MODEL).double()
    x = X.clone().requires_grad_(True)
    y = module(x)
    y.sum().backward()
    points = [v for v in X.tolist() if v != 0.0 or name not in ("relu", "leaky_relu", "elu",
                                                                 "prelu", "selu")]
    for value in points:
        i = X.tolist().index(value)
        assert y[i].item() == pytest.approx(f(value), abs=1e-9), f"{name}({value})"
        assert x.grad is not None
        assert x.grad[i].item() == pytest.approx(df(value), abs=1e-9), f"{name}'({value})"


def test_leaky_slope_and_elu_alpha_come_from_the_preset() -> None:
    model = {**MODEL, "leaky_slope": 0.2, "elu_alpha": 2.0}
    assert ACTIVATIONS["leaky_relu"](model)(torch.tensor([-1.0])).item() == pytest.approx(-0.2)
    assert ACTIVATIONS["elu"](model)(torch.tensor([-50.0])).item() == pytest.approx(-2.0)


def test_binary_step_blocks_every_gradient_below_it() -> None:
    model = build_model({**MODEL, "hidden": [8, 8], "activation": "binary_step"}, 2, 2)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(16, 2)), torch.randint(0, 2, (16,)))
    loss.backward()
    layers = dict(linear_layers(model))
    for name in ("fc1", "fc2"):
        assert layers[name].weight.grad is not None
        assert torch.count_nonzero(layers[name].weight.grad) == 0
    assert torch.count_nonzero(layers["out"].weight.grad) > 0


def test_model_shapes_and_layer_names() -> None:
    model = build_model({**MODEL, "hidden": [5, 7]}, 3, 4)
    assert [n for n, _ in linear_layers(model)] == ["fc1", "fc2", "out"]
    assert model(torch.zeros(2, 3)).shape == (2, 4)
    logreg = build_model({**MODEL, "kind": "logreg", "hidden": []}, 3, 2)
    assert [n for n, _ in linear_layers(logreg)] == ["out"]
    assert not any(isinstance(m, torch.nn.Softmax) for m in model.modules())  # raw logits
