"""The fifteen activations as formulas, f(x) and f'(x), for the form's preview of each.

Torch-free (math only), and held to the trainer's torch modules, value and autograd
derivative, by tests/test_formulas.py. Where torch uses a parameter (leaky_relu's slope,
elu's alpha) the model section's value is used; prelu starts at torch's initial 0.25."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Formula = Callable[[float], float]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_PRELU_INIT = 0.25  # torch.nn.PReLU's initial slope


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    return x if x > 20 else math.log1p(math.exp(x))  # torch's threshold of 20


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def _gelu_d(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) + x * math.exp(-x * x / 2) / math.sqrt(
        2 * math.pi)


def _mish(x: float) -> float:
    return x * math.tanh(_softplus(x))


def _mish_d(x: float) -> float:
    t = math.tanh(_softplus(x))
    return t + x * (1 - t * t) * _sigmoid(x)


def formulas(name: str, model: dict[str, Any] | None = None) -> tuple[Formula, Formula]:
    """(f, f') of the activation `name`, with the model section's parameters."""
    model = model or {}
    slope = float(model.get("leaky_slope", 0.01))
    alpha = float(model.get("elu_alpha", 1.0))
    table: dict[str, tuple[Formula, Formula]] = {
        "identity": (lambda x: x, lambda x: 1.0),
        "binary_step": (lambda x: 1.0 if x >= 0 else 0.0, lambda x: 0.0),
        "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
        "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
        "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
        "leaky_relu": (lambda x: x if x >= 0 else slope * x,
                       lambda x: 1.0 if x > 0 else slope),
        "prelu": (lambda x: x if x >= 0 else _PRELU_INIT * x,
                  lambda x: 1.0 if x > 0 else _PRELU_INIT),
        "elu": (lambda x: x if x > 0 else alpha * math.expm1(x),
                lambda x: 1.0 if x > 0 else alpha * math.exp(x)),
        "selu": (lambda x: _SELU_SCALE * (x if x > 0 else _SELU_ALPHA * math.expm1(x)),
                 lambda x: _SELU_SCALE * (1.0 if x > 0 else _SELU_ALPHA * math.exp(x))),
        "gelu": (_gelu, _gelu_d),
        "softplus": (_softplus, lambda x: 1.0 if x > 20 else _sigmoid(x)),
        "silu": (lambda x: x * _sigmoid(x),
                 lambda x: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
        "mish": (_mish, _mish_d),
        "gaussian": (lambda x: math.exp(-x * x), lambda x: -2 * x * math.exp(-x * x)),
        "gcu": (lambda x: x * math.cos(x), lambda x: math.cos(x) - x * math.sin(x)),
    }
    return table[name]


def curve(name: str, model: dict[str, Any] | None = None, lo: float = -4.0, hi: float = 4.0,
          points: int = 81) -> tuple[list[float], list[float], list[float]]:
    """(xs, f(xs), f'(xs)) at `points` evenly spaced x in [lo, hi]."""
    f, d = formulas(name, model)
    xs = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    return xs, [f(x) for x in xs], [d(x) for x in xs]
