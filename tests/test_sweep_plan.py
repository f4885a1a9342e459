"""An experiment's plan without processes: grids and variants parsed like `--set`, every
trial checked, run folder names, lessons, the manifest and its states."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dmt_tui.presets.schema import ConfigError, load
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.experiment import (
    Axis,
    list_lessons,
    parse_seeds,
    parse_variant,
    plan_from,
    split_outside_brackets,
)
from dmt_tui.rundir.scheduler import trial_config, visible_gpus


def test_values_split_on_commas_outside_brackets() -> None:
    assert split_outside_brackets("[16],[16,16]", ",") == ["[16]", "[16,16]"]
    assert split_outside_brackets("0.1,1e-3, 2", ",") == ["0.1", "1e-3", "2"]
    assert split_outside_brackets("'a,b',c", ",") == ["'a,b'", "c"]
    assert split_outside_brackets("a=[1, 2]  b=3", None) == ["a=[1, 2]", "b=3"]
    assert Axis.parse("model.hidden=[16],[16,16]").values == ("[16]", "[16,16]")
    assert Axis.parse("optimizer.lr=1e-4..1 x5").values == ("0.0001", "0.001", "0.01", "0.1",
                                                            "1")
    with pytest.raises(ConfigError, match="log range"):
        Axis.parse("optimizer.lr=1..0.1 x3")


@pytest.mark.parametrize("text, says", [
    ("optimizer.lr", "expected KEY=V1,V2"),
    ("optimizer.lr=", "expected KEY=V1,V2"),
    ("optimizer.lr=0.1,,0.2", "expected KEY=V1,V2"),
    ("train.seed=1,2", "--seeds"),
    ("optimizer.lr=0.1,0.1", "given twice"),
])
def test_a_malformed_grid_is_named(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        Axis.parse(text)
    assert str(caught.value).startswith(f"--grid {text}:")


def test_seeds() -> None:
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("7,") == [7]
    for bad in ("0", "-1", "a", "1,1", "1,-2"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_variants_cross_grids_and_seeds() -> None:
    plan = plan_from("xor-sgd", ["optimizer.lr=0.1,0.01"],
                     ["optimizer.name=sgd", "optimizer.name=sgd optimizer.momentum=0.9"],
                     "0,5")
    assert len(plan.trials) == 2 * 2 * 2 and plan.configurations == 4
    assert plan.varied == ["optimizer.name", "optimizer.momentum", "optimizer.lr"]
    first = plan.trials[0]
    assert first.label == "optimizer.name=sgd optimizer.lr=0.1"
    assert first.group == {"optimizer.name": "sgd", "optimizer.momentum": 0.0,
                           "optimizer.lr": 0.1}
    assert first.folder_name == "xor-sgd.name-sgd.lr-0.1.s0"
    assert [t.seed for t in plan.trials] == [0] * 4 + [5] * 4  # every configuration's first
    momentum = [t for t in plan.trials if t.group["optimizer.momentum"] == 0.9]
    assert len(momentum) == 4 and all(t.config["optimizer"]["momentum"] == 0.9
                                      for t in momentum)


def test_a_variant_that_breaks_a_rule_is_refused_with_its_text() -> None:
    with pytest.raises(ConfigError) as caught:
        plan_from("xor-adam", [], ["optimizer.nesterov=true"], None)
    assert str(caught.value).startswith('--variant "optimizer.nesterov=true": '
                                        "optimizer.nesterov: needs optimizer.name: sgd")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_variant("optimizer.name")


def test_nothing_to_compare_and_duplicate_configurations() -> None:
    with pytest.raises(ConfigError, match="nothing to compare"):
        plan_from("xor-sgd", [], [], None)
    with pytest.raises(ConfigError, match="the same"):
        plan_from("xor-sgd", ["optimizer.lr=0.1,1e-1"], [], None)
    with pytest.raises(ConfigError, match="no preset named 'nope'"):
        plan_from("nope", ["optimizer.lr=0.1,0.2"], [], None)


def test_long_run_names_are_numbered_and_stay_safe() -> None:
    plan = plan_from("xor-sgd", ["model.hidden=[64,64,64,64,64,64],[32,32,32,32,32,32,32,32]",
                                 "model.activation=leaky_relu,softplus",
                                 "optimizer.weight_decay=0.0001,0.001"], [], None)
    names = [t.folder_name for t in plan.trials]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 64 and set(n) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") for n in names)


def test_every_lesson_plans_and_stays_small() -> None:
    lessons = {lesson.name: lesson for lesson in list_lessons()}
    assert set(lessons) == {"vanishing-gradients", "optimizers", "learning-rate", "warmup",
                            "activations", "batch-size", "early-stopping"}
    sizes = {}
    for name, lesson in lessons.items():
        assert lesson.description, name
        plan = plan_from(name, [], [], None)
        sizes[name] = len(plan.trials)
        assert plan.description == lesson.description
        assert all(t.config["train"]["epochs"] <= 100 for t in plan.trials)
    assert sizes == {"vanishing-gradients": 3, "optimizers": 6, "learning-rate": 5,
                     "warmup": 2, "activations": 15, "batch-size": 3, "early-stopping": 2}
    # the command line adds to a lesson: more seeds, another grid
    plan = plan_from("learning-rate", ["model.activation=relu,tanh"], [], "2")
    assert len(plan.trials) == 5 * 2 * 2


def test_the_manifest_and_a_trial_config_read_back(tmp_path: Path) -> None:
    plan = plan_from("xor-sgd", ["optimizer.lr=0.1,0.01"], [], None)
    manifest = manifests.create(tmp_path, plan, "xor-sgd", 2)
    assert (tmp_path / "experiments" / f"{manifest['id']}.json").is_file()
    again = manifests.create(tmp_path, plan, "xor-sgd", 2)
    assert again["id"] != manifest["id"]  # the same second: a suffix
    read = manifests.find(tmp_path, manifest["id"])
    assert read is not None and read["trials"][1]["label"] == "optimizer.lr=0.01"
    config = trial_config(read, read["trials"][1])
    assert config["experiment"] == {"id": manifest["id"], "trial": 1,
                                    "group": {"optimizer.lr": 0.01}}
    # a trial's config.yaml is a preset that loads back with its experiment section
    from dmt_tui.presets.schema import dump

    assert load(dump(config), "config.yaml") == config
    states = manifests.trial_states(tmp_path, read)
    assert states == ["queued", "queued"]
    assert manifests.experiment_state(read, states) == "interrupted"  # no scheduler lives
    read["scheduler"] = {"pid": os.getpid(), "host": read["scheduler"]["host"],
                         "heartbeat": time.time()}
    assert manifests.experiment_state(read, states) == "running"


def test_gpus_are_found_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []


def test_presets_lists_the_lessons() -> None:
    from tests.conftest import run_cli

    listed = run_cli("presets").stdout
    lessons = listed[listed.index("lessons (experiments: dmt-tui sweep NAME)"):].splitlines()
    assert len(lessons) == 1 + 7
    assert any(line.startswith("vanishing-gradients ") and "1e-8" in line for line in lessons)
