"""model.kind: python: a preset that builds its model from the user's own file, trained by the
real `dmt-tui train`, and each way the file or its builder can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

PRESET = """\
name: mine
data: {dataset: xor, n_samples: 200, val_fraction: 0.2}
model: {kind: python, path: nets/mynet.py, builder: make_model}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 3, batch_size: 50, seed: 0, device: cpu, threads: 1}
"""

# A nested model: the watched layers are named by their module paths, the Linear inside a
# Sequential inside a child module included, and a parameter owned by the model itself.
NET = """\
import torch
from torch import nn


class Encoder(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())

    def forward(self, x):
        return self.body(x)


class Net(nn.Module):
    def __init__(self, n_in, n_out, width):
        super().__init__()
        self.encoder = Encoder(n_in)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_out)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.head(self.norm(self.encoder(x))) * self.scale


def make_model(n_features, n_outputs, config):
    assert config["data"]["dataset"] == "xor"
    return Net(n_features, n_outputs, 8)
"""


def _write(tmp_path: Path, net: str | None = NET, preset: str = PRESET) -> Path:
    (tmp_path / "nets").mkdir()
    if net is not None:
        (tmp_path / "nets" / "mynet.py").write_text(net, encoding="utf-8")
    path = tmp_path / "mine.yaml"
    path.write_text(preset, encoding="utf-8")
    return path


def _events(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.slow
def test_a_users_model_trains_and_its_layers_are_watched_by_module_path(tmp_path: Path) -> None:
    preset = _write(tmp_path)
    runs = tmp_path / "runs"
    # Run from another folder: the model's path is relative to the preset file, not here.
    done = run_cli("train", str(preset), "--runs-dir", str(runs), "--quiet", cwd=tmp_path.parent,
                   timeout=240)
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.iterdir()
    events = _events(run_dir)
    layers = ["Net", "encoder.body.0", "encoder.body.2", "norm", "head"]  # as Run.watch does
    start = next(e for e in events if e["type"] == "start")
    assert start["layers"] == layers
    grads = [e for e in events if e["type"] == "grad"]
    assert [g["epoch"] for g in grads] == [1, 2, 3]
    for grad in grads:
        names = [layer["name"] for layer in grad["layers"]]  # type: ignore[union-attr]
        assert names == layers
        assert all(layer["mean"] > 0 for layer in grad["layers"])  # type: ignore[union-attr]
    epochs = [e for e in events if e["type"] == "epoch"]
    assert len(epochs) == 3
    assert events[-1]["type"] == "end" and events[-1]["state"] == "finished"
    config = (run_dir / "config.yaml").read_text(encoding="utf-8")
    assert f"path: {tmp_path / 'nets' / 'mynet.py'}" in config  # kept absolute for --resume


def _refused(tmp_path: Path, net: str | None, preset: str = PRESET) -> str:
    """Train, expect exit 2 with one line on stderr and no run folder; return the line."""
    runs = tmp_path / "runs"
    done = run_cli("train", str(_write(tmp_path, net, preset)), "--runs-dir", str(runs),
                   timeout=240)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert not runs.exists() or not any(runs.iterdir())  # nothing was written
    return lines[0]


NET_FILE = "nets/mynet.py"


@pytest.mark.slow
def test_a_missing_model_file_is_one_clear_line(tmp_path: Path) -> None:
    line = _refused(tmp_path, None)
    assert line == (f"dmt-tui: error: {tmp_path / NET_FILE}: model.path: no such file; "
                    f"model.kind: python needs the Python file that defines make_model()")


@pytest.mark.slow
def test_a_missing_builder_names_the_file_and_what_it_defines(tmp_path: Path) -> None:
    line = _refused(tmp_path, "def build(n, m, c):\n    pass\n\n\ndef other():\n    pass\n")
    assert line == (f"dmt-tui: error: {tmp_path / NET_FILE}: model.builder: no function "
                    f"'make_model' in the file; it defines: build, other")


@pytest.mark.slow
def test_a_builder_that_raises_names_the_file_function_and_error(tmp_path: Path) -> None:
    net = "def make_model(n, m, config):\n    raise ValueError('width must be even\\nmore')\n"
    line = _refused(tmp_path, net)
    assert line == (f"dmt-tui: error: {tmp_path / NET_FILE}: make_model(2, 2, config) raised "
                    f"ValueError: width must be even")


@pytest.mark.slow
def test_a_builder_that_returns_no_module_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, "def make_model(n, m, config):\n    return [n, m]\n")
    assert line == (f"dmt-tui: error: {tmp_path / NET_FILE}: make_model(2, 2, config) returned "
                    f"list, not a torch.nn.Module")


@pytest.mark.slow
def test_a_file_that_fails_to_import_is_one_clear_line(tmp_path: Path) -> None:
    line = _refused(tmp_path, "import no_such_package_here\n")
    assert line == (f"dmt-tui: error: {tmp_path / NET_FILE}: model.path: importing the file "
                    f"failed: ModuleNotFoundError: No module named 'no_such_package_here'")


def test_the_schema_asks_for_path_and_builder(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    line = _refused(first, NET, PRESET.replace(", builder: make_model", ""))
    assert line.startswith(f"dmt-tui: error: {first / 'mine.yaml'}: model.builder: "
                           "model.kind: python needs a function name")
    line = _refused(second, NET, PRESET.replace("builder: make_model", "builder: 3rd"))
    assert line == (f"dmt-tui: error: {second / 'mine.yaml'}: model.builder: expected a Python "
                    f"function name, or null, got '3rd'")


def test_relative_paths_are_the_preset_files_or_else_the_current_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dmt_tui.presets import load_preset

    preset = _write(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_preset(str(preset))["model"]["path"] == str(tmp_path / "nets" / "mynet.py")
    typed = load_preset(str(preset), ["model.path=mine.py"])
    assert typed["model"]["path"] == str(elsewhere / "mine.py")  # where it was typed
    builtin = load_preset("xor-adam", ["model.kind=python", "model.path=net.py",
                                       "model.builder=make", "data.dataset=npz",
                                       "data.path=d.npz", "data.x=x", "data.y=y"])
    assert builtin["model"]["path"] == str(elsewhere / "net.py")
    assert builtin["data"]["path"] == str(elsewhere / "d.npz")
    assert builtin["model"]["hidden"] == []  # the user's file decides the layers
