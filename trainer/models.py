"""M: the model and its loss. A stack of linear layers with one activation between them;
logits out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dmt_tui.presets.config_types import ModelConfig


class _StepFunction(torch.autograd.Function):
    """Heaviside step: 1 where x >= 0. Its derivative is 0 almost everywhere, and that is
    what backward returns, so the layers below it see exactly zero gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(grad)


class BinaryStep(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StepFunction.apply(x)


class Gaussian(nn.Module):
    """exp(-x^2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-x * x)


class GCU(nn.Module):
    """Growing cosine unit, x * cos(x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.cos(x)


# name -> constructor from the `model` section; adding one is one line (and a name in config).
ACTIVATIONS: dict[str, Callable[[ModelConfig], nn.Module]] = {
    "identity": lambda m: nn.Identity(),
    "binary_step": lambda m: BinaryStep(),
    "sigmoid": lambda m: nn.Sigmoid(),
    "tanh": lambda m: nn.Tanh(),
    "relu": lambda m: nn.ReLU(),
    "leaky_relu": lambda m: nn.LeakyReLU(m["leaky_slope"]),
    "prelu": lambda m: nn.PReLU(),
    "elu": lambda m: nn.ELU(m["elu_alpha"]),
    "selu": lambda m: nn.SELU(),
    "gelu": lambda m: nn.GELU(),
    "softplus": lambda m: nn.Softplus(),
    "silu": lambda m: nn.SiLU(),
    "mish": lambda m: nn.Mish(),
    "gaussian": lambda m: Gaussian(),
    "gcu": lambda m: GCU(),
}


class Stack(nn.Sequential):
    """A built-in model (mlp, logreg): its watched layers are its linear layers."""


def build_model(model: ModelConfig, n_in: int, n_out: int,
                config: dict[str, Any] | None = None) -> nn.Module:
    """`fc1, act1, fc2, act2, ..., out`: linear layers named input to output; or, for
    model.kind: python, what the user's builder returns (trainer.user_model)."""
    if model["kind"] == "python":
        from dmt_tui.trainer.user_model import build_user_model

        return build_user_model(model, n_in, n_out, config)  # config: the whole run's
    widths = [n_in, *(model["hidden"] if model["kind"] == "mlp" else []), n_out]
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True), 1):
        last = i == len(widths) - 1
        layers["out" if last else f"fc{i}"] = nn.Linear(a, b)
        if not last:
            layers[f"act{i}"] = ACTIVATIONS[model["activation"]](model)
    return Stack(layers)


def linear_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose gradient norms are watched, input to output, with their names: a
    built-in model's linear layers; for a user's model (model.kind: python) every module
    that owns trainable parameters, named by its module path (`encoder.0`; parameters of
    the model itself by its class name), as `Run.watch` names them."""
    if isinstance(model, Stack):
        return [(name, m) for name, m in model.named_children() if isinstance(m, nn.Linear)]
    return [(path or type(m).__name__, m) for path, m in model.named_modules()
            if any(p.requires_grad for p in m.parameters(recurse=False))]


def parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[list[int]], list[str]]:
    """All trainable parameters (the watched layers' first, input to output), and per
    watched layer the positions of its own parameters in that list, and its name. A
    parameter shared by two layers counts once, for the first."""
    params: list[nn.Parameter] = []
    groups, names = [], []
    for name, layer in linear_layers(model):
        seen = {id(p) for p in params}
        own = [p for p in layer.parameters(recurse=False) if p.requires_grad and id(p) not in seen]
        if not own:
            continue
        groups.append(list(range(len(params), len(params) + len(own))))
        params.extend(own)
        names.append(name)
    seen = {id(p) for p in params}
    params.extend(p for p in model.parameters() if id(p) not in seen and p.requires_grad)
    return params, groups, names


def loss_fn_for(task: str) -> Callable[..., torch.Tensor]:
    """Classification: cross-entropy on raw logits. Regression: mean squared error."""
    return nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss
