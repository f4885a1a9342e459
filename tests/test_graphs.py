"""How the loop uses a CUDA graph's steps, checked on the CPU with a stand-in that runs the
captured function directly: the capture itself needs a GPU (tests/test_cuda.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from dmt_tui.presets import load_preset
from dmt_tui.trainer import loop, session, steps
from dmt_tui.trainer.distributed import Ranks
from dmt_tui.trainer.host import Silent, StopRequest
from dmt_tui.trainer.speed import graphs


class DirectCapture(graphs.CapturedStep):
    """CapturedStep without streams or capture: each run calls the body; `fail_at`: the run
    whose capture fails, as an op that refuses capture would make it."""

    def __init__(self, body: Callable[[], None], device: torch.device,
                 fail_at: int | None = None) -> None:
        super().__init__(body, device)
        self.runs, self.fail_at = 0, fail_at

    def run(self) -> None:
        self.runs += 1
        if self.runs == self.fail_at:
            raise graphs.CaptureFailed("operation not permitted when stream is capturing")
        self.body()


def epochs(preset: str, capture: Any = None, n: int = 3) -> tuple[list[Any], loop.Trainer]:
    config = load_preset(preset, ["data.n_samples=1010", "train.device=cpu"])
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    if capture is not None:  # the graph step on the CPU, its capture stood in for
        trainer.train_step = steps.GraphStep(trainer.session, trainer.grad_stats, capture)
    results = [trainer.epoch(k) for k in range(1, n + 1)]
    grads = [g for r in results for g in r.grads] + trainer.take_grads()
    return [(r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in results] + grads, trainer


@pytest.mark.parametrize("preset", ["xor-adam", "plane-regression"])
def test_steps_through_the_graph_path_train_as_eager_steps(preset: str) -> None:
    eager, _ = epochs(preset)
    graphed, trainer = epochs(preset, DirectCapture)
    step = trainer.train_step
    assert isinstance(step, steps.GraphStep) and step.graphed
    assert isinstance(step.replayer, DirectCapture)
    assert step.replayer.runs == 3 * 25  # full batches only
    assert repr(graphed) == repr(eager)  # losses, accuracies and kept norms, to the bit


def test_a_failed_capture_trains_that_step_and_the_rest_eagerly(
        capsys: pytest.CaptureFixture[str]) -> None:
    eager, _ = epochs("xor-adam")
    fallen, trainer = epochs("xor-adam", lambda body, device: DirectCapture(body, device, 4))
    assert not trainer.train_step.graphed
    assert repr(fallen) == repr(eager)
    assert "CUDA graph capture failed, training without it" in capsys.readouterr().err


def test_only_single_process_cuda_runs_without_a_schedule_want_a_graph() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    adam = load_preset("xor-adam", [])
    assert graphs.wanted(adam, cuda, loop.SINGLE) and not graphs.wanted(adam, cpu, loop.SINGLE)
    assert not graphs.wanted(load_preset("xor-adam", ["train.cuda_graphs=false"]), cuda,
                             loop.SINGLE)
    assert not graphs.wanted(load_preset("noam-warmup-spiral", []), cuda, loop.SINGLE)
    assert not graphs.wanted(load_preset("circle-adagrad", []), cuda, loop.SINGLE)


def test_the_run_mode_is_decided_once_and_names_the_step() -> None:
    adam = load_preset("xor-adam", [])
    cuda, cpu, two = torch.device("cuda"), torch.device("cpu"), Ranks(0, 2, 0)
    assert session.choose_mode(adam, cuda, loop.SINGLE) == session.GRAPH
    assert session.choose_mode(adam, cpu, loop.SINGLE) == session.EAGER
    assert session.choose_mode(adam, cuda, two) == session.DATA_PARALLEL
    assert session.choose_mode(adam, cpu, two) == session.DATA_PARALLEL
    assert steps.STEPS == {session.EAGER: steps.EagerStep, session.GRAPH: steps.GraphStep,
                           session.DATA_PARALLEL: steps.DataParallelStep}
    prepared = loop.prepare(load_preset("xor-adam", ["data.n_samples=400", "train.device=cpu"]))
    assert prepared.mode == session.EAGER
    assert type(loop.Trainer(prepared, Silent(), StopRequest()).train_step) is steps.EagerStep
