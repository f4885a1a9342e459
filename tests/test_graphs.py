"""How the loop uses a CUDA graph's steps, checked on the CPU with a stand-in that runs the
graph's step body directly: the capture itself needs a GPU (tests/test_cuda.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from dmt_tui.presets import load_preset
from dmt_tui.trainer import graphs, loop
from dmt_tui.trainer.host import Silent, StopRequest


class DirectStep(graphs.StepGraph):
    """StepGraph's step body without streams or capture; `fail_at`: the step whose capture
    fails, as an op that refuses capture would make it."""

    def __init__(self, trainer: loop.Trainer, fail_at: int | None = None) -> None:
        super().__init__(trainer.session, trainer.loss_fn, trainer.classify,
                         trainer.batch_size, trainer.grad_stats)
        self.steps, self.fail_at = 0, fail_at

    def _run(self) -> None:
        self.steps += 1
        if self.steps == self.fail_at:
            raise graphs.CaptureFailed("operation not permitted when stream is capturing")
        self._body()


def epochs(preset: str, graph: Any = None, n: int = 3) -> tuple[list[Any], loop.Trainer]:
    config = load_preset(preset, ["data.n_samples=1010", "train.device=cpu"])
    trainer = loop.Trainer(loop.prepare(config), Silent(), StopRequest())
    if graph is not None:
        trainer.graph = graph(trainer)
    results = [trainer.epoch(k) for k in range(1, n + 1)]
    grads = [g for r in results for g in r.grads] + trainer.take_grads()
    return [(r.train_loss, r.train_acc, r.val_loss, r.val_acc) for r in results] + grads, trainer


@pytest.mark.parametrize("preset", ["xor-adam", "plane-regression"])
def test_steps_through_the_graph_path_train_as_eager_steps(preset: str) -> None:
    eager, _ = epochs(preset)
    graphed, trainer = epochs(preset, DirectStep)
    assert trainer.graph is not None and trainer.graph.steps == 3 * 25  # full batches only
    assert repr(graphed) == repr(eager)  # losses, accuracies and kept norms, to the bit


def test_a_failed_capture_trains_that_step_and_the_rest_eagerly(
        capsys: pytest.CaptureFixture[str]) -> None:
    eager, _ = epochs("xor-adam")
    fallen, trainer = epochs("xor-adam", lambda t: DirectStep(t, fail_at=4))
    assert trainer.graph is None
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
