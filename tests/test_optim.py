"""Optimizers against torch.optim, and the schedules' values."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from dmt_tui.presets.schema import OPTIMIZERS as OPTIMIZER_NAMES
from dmt_tui.presets.schema import SCHEDULES as SCHEDULE_NAMES
from dmt_tui.presets.schema import load
from dmt_tui.trainer.optim import OPTIMIZERS, build_optimizer, noam_lr, schedule_fn


def _steps(make: object, n: int = 3) -> list[torch.Tensor]:
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3))
    opt = make([w])  # type: ignore[operator]
    x = torch.randn(8, 4)
    seen = []
    for _ in range(n):
        opt.zero_grad()
        (x @ w).pow(2).mean().backward()
        opt.step()
        seen.append(w.detach().clone())
    return seen


@pytest.mark.parametrize("name, extra, reference", [
    ("sgd", [], lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", ["optimizer.momentum=0.9"], lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd", ["optimizer.momentum=0.9", "optimizer.nesterov=true", "optimizer.weight_decay=0.01"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", [], lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8)),
    ("adamw", ["optimizer.weight_decay=0.1"], lambda p: torch.optim.AdamW(p, lr=0.1,
                                                                         weight_decay=0.1)),
    ("adagrad", [], lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("rmsprop", [], lambda p: torch.optim.RMSprop(p, lr=0.1)),
    ("rmsprop", ["optimizer.momentum=0.5", "optimizer.alpha=0.9"],
     lambda p: torch.optim.RMSprop(p, lr=0.1, momentum=0.5, alpha=0.9)),
])
def test_first_steps_match_torch_optim(name: str, extra: list[str], reference: object) -> None:
    config = load("name: x", "x", [f"optimizer.name={name}", "optimizer.lr=0.1", *extra])
    ours = _steps(lambda p: build_optimizer(p, config["optimizer"]))
    theirs = _steps(reference)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_defaults_are_pytorchs() -> None:
    config = load("name: x", "x", ["optimizer.name=adam"])
    adam = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config["optimizer"])
    assert adam.defaults["betas"] == (0.9, 0.999) and adam.defaults["eps"] == 1e-8
    config = load("name: x", "x", ["optimizer.name=adagrad"])
    adagrad = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config["optimizer"])
    assert adagrad.defaults["eps"] == 1e-10  # PyTorch's, not Adam's


def test_registry_names_match_the_schema() -> None:
    assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)
    config = load("name: x", "x")
    for name in SCHEDULE_NAMES:
        config["schedule"]["name"] = name
        schedule_fn(config, 10)  # every schema name is known to the schedules


def test_noam_at_one_warmup_and_twice_warmup() -> None:
    d, warmup, factor = 64, 400, 2.0
    assert noam_lr(1, d, warmup, factor) == pytest.approx(factor * d**-0.5 * warmup**-1.5)
    peak = factor * d**-0.5 * warmup**-0.5
    assert noam_lr(warmup, d, warmup, factor) == pytest.approx(peak)
    assert noam_lr(2 * warmup, d, warmup, factor) == pytest.approx(peak / math.sqrt(2))
    assert noam_lr(warmup - 1, d, warmup, factor) < peak > noam_lr(warmup + 1, d, warmup, factor)


def test_noam_d_model_defaults_to_the_widest_hidden_layer() -> None:
    config = load("name: x", "x", ["schedule.name=noam", "schedule.warmup=10",
                                   "model.hidden=[16,64,32]"])
    lr_at = schedule_fn(config, 5)
    assert lr_at is not None
    assert lr_at(10) == pytest.approx(noam_lr(10, 64, 10, 1.0))


def test_cosine_and_step() -> None:
    config = load("name: x", "x", ["schedule.name=cosine", "optimizer.lr=0.1",
                                   "schedule.min_lr=0.001", "train.epochs=10"])
    cosine = schedule_fn(config, 10)
    assert cosine is not None
    assert cosine(1) == pytest.approx(0.1)
    assert cosine(51) == pytest.approx(0.001 + 0.099 * 0.5)
    assert cosine(101) == pytest.approx(0.001)
    config = load("name: x", "x", ["schedule.name=step", "optimizer.lr=0.1",
                                   "schedule.step_size=2", "schedule.gamma=0.5"])
    step = schedule_fn(config, 10)  # 10 steps an epoch: decays every 20 steps
    assert step is not None
    assert [step(k) for k in (1, 20, 21, 41)] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_a_fused_kernel_that_refuses_at_its_first_step_is_not_chosen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As torch's fused AdaGrad does on CUDA: it builds, then raises at the first step."""

    class CpuOnlyFused(torch.optim.Adagrad):
        def step(self, closure: Any = None) -> Any:
            if self.defaults.get("fused"):
                raise RuntimeError("`fused=True` requires ... devices: ['cpu'] but cuda")
            return super().step(closure)

    monkeypatch.setitem(OPTIMIZERS, "adagrad", lambda p, o: CpuOnlyFused(
        p, lr=o["lr"], **o.get("_implementation", {})))
    config = load("name: x", "x", ["optimizer.name=adagrad", "optimizer.lr=0.1"])
    weight = torch.nn.Parameter(torch.ones(3))
    chosen = build_optimizer([weight], config["optimizer"])
    assert chosen.defaults["foreach"] and not chosen.defaults.get("fused")
    assert torch.equal(weight.detach(), torch.ones(3))  # the probe stepped its own tensor
    weight.grad = torch.ones(3)
    chosen.step()  # and the chosen one steps
    assert weight.detach().lt(1).all()
