"""Preset validation: defaults, numbers, unknown keys, types, ranges, --set."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmt_tui.presets import BUILTIN_DIR, list_presets, load_preset
from dmt_tui.presets import schema as cfg


def test_every_default_is_filled_and_round_trips() -> None:
    resolved = cfg.load("name: tiny\n", "tiny.yaml")
    assert set(resolved) == {"name", "description", *cfg.SCHEMA}
    for section, keys in cfg.SCHEMA.items():
        assert set(resolved[section]) == set(keys)
    # config.yaml is a preset itself: reading the dump gives the same config
    assert cfg.load(cfg.dump(resolved), "config.yaml") == resolved


@pytest.mark.parametrize("text, expected", [("1e-3", 0.001), ("1.0e-3", 0.001), ("3", 3.0),
                                            ("'1e-3'", 0.001), ("2.5E+1", 25.0)])
def test_scientific_numbers_are_numbers(text: str, expected: float) -> None:
    resolved = cfg.load(f"optimizer: {{lr: {text}}}", "p.yaml")
    assert resolved["optimizer"]["lr"] == pytest.approx(expected)
    assert isinstance(resolved["optimizer"]["lr"], float)


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load("optimizer: {learning_rate: 0.1, lrr: 1}", "my.yaml")
    message = str(err.value)
    assert message.startswith("my.yaml: unknown key 'optimizer.")
    with pytest.raises(cfg.ConfigError, match=r"'optimizer.lrr'; did you mean 'lr'\?"):
        cfg.load("optimizer: {lrr: 1}", "my.yaml")
    with pytest.raises(cfg.ConfigError, match=r"unknown section 'optimiser'; did you mean "
                                              r"'optimizer'\?"):
        cfg.load("optimiser: {lr: 1}", "my.yaml")


@pytest.mark.parametrize("text, key, allowed", [
    ("optimizer: {lr: -1}", "optimizer.lr", "> 0"),
    ("optimizer: {lr: 0}", "optimizer.lr", "> 0"),
    ("optimizer: {lr: .nan}", "optimizer.lr", "finite"),
    ("optimizer: {lr: .inf}", "optimizer.lr", "finite"),
    ("optimizer: {lr: fast}", "optimizer.lr", "number"),
    ("train: {epochs: 0}", "train.epochs", ">= 1"),
    ("train: {epochs: 2.5}", "train.epochs", "whole number"),
    ("train: {epochs: true}", "train.epochs", "whole number"),
    ("train: {batch_size: -4}", "train.batch_size", ">= 1"),
    ("early_stopping: {patience: -1}", "early_stopping.patience", ">= 0"),
    ("data: {val_fraction: 1.5}", "data.val_fraction", "< 1"),
    ("data: {val_fraction: 0}", "data.val_fraction", "> 0"),
    ("model: {activation: swish}", "model.activation", "one of identity, binary_step"),
    ("optimizer: {name: lbfgs}", "optimizer.name", "one of sgd, adam, adamw, adagrad, rmsprop"),
    ("schedule: {name: linear}", "schedule.name", "one of none, noam, cosine, step"),
    ("data: {dataset: mnist}", "data.dataset", "one of circle"),
    ("model: {hidden: 32}", "model.hidden", "a list"),
    ("model: {hidden: [32, -1]}", "model.hidden", "whole number >= 1"),
    ("train: {device: gpu}", "train.device", "auto, cpu, cuda or cuda:N"),
    ("name: ../../etc", "name", "letters, digits"),
    ("name: a/b", "name", "letters, digits"),
])
def test_bad_values_name_the_file_key_and_what_is_allowed(text: str, key: str,
                                                          allowed: str) -> None:
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(text, "bad.yaml")
    message = str(err.value)
    assert message.startswith(f"bad.yaml: {key}: expected ")
    assert allowed in message
    assert "\n" not in message


def test_structure_errors() -> None:
    with pytest.raises(cfg.ConfigError, match="bad.yaml: the preset is empty"):
        cfg.load("", "bad.yaml")
    with pytest.raises(cfg.ConfigError, match="bad.yaml: expected a mapping of sections"):
        cfg.load("- 1\n- 2\n", "bad.yaml")
    with pytest.raises(cfg.ConfigError, match="bad.yaml: optimizer: expected a mapping"):
        cfg.load("optimizer: [1, 2]", "bad.yaml")
    with pytest.raises(cfg.ConfigError, match=r"bad.yaml: not valid YAML \(line 3, column"):
        cfg.load("name: x\nmodel:\n\thidden: [1, 2]\n", "bad.yaml")


def test_python_tags_are_rejected_and_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"name: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(cfg.ConfigError, match="not valid YAML"):
        cfg.load(text, "evil.yaml")
    assert not marker.exists()


def test_keys_that_depend_on_each_other() -> None:
    with pytest.raises(cfg.ConfigError, match="data.path: a csv dataset needs"):
        cfg.load("data: {dataset: csv, label: y}", "p.yaml")
    with pytest.raises(cfg.ConfigError, match="data.label: a csv dataset needs"):
        cfg.load("data: {dataset: csv, path: x.csv}", "p.yaml")
    with pytest.raises(cfg.ConfigError, match="optimizer.nesterov: needs"):
        cfg.load("optimizer: {name: sgd, nesterov: true}", "p.yaml")
    with pytest.raises(cfg.ConfigError, match="model.hidden: an mlp needs"):
        cfg.load("model: {kind: mlp, hidden: []}", "p.yaml")
    assert cfg.load("model: {kind: logreg}", "p.yaml")["model"]["hidden"] == []


def test_set_overrides_go_through_the_same_checks() -> None:
    resolved = cfg.load("name: x", "p.yaml", ["model.activation=sigmoid", "optimizer.lr=1e-3",
                                              "model.hidden=[64,64]", "train.epochs=5",
                                              "name=renamed"])
    assert resolved["model"]["activation"] == "sigmoid"
    assert resolved["optimizer"]["lr"] == 0.001
    assert resolved["model"]["hidden"] == [64, 64]
    assert resolved["train"]["epochs"] == 5
    assert resolved["name"] == "renamed"
    for bad, pattern in [
        ("optimizer.lr", r"--set optimizer.lr: expected KEY=VALUE"),
        ("=3", r"expected KEY=VALUE"),
        ("optimizer.lrr=1", r"unknown key 'optimizer.lrr'; did you mean 'lr'"),
        ("optimiser.lr=1", r"unknown section 'optimiser'; did you mean 'optimizer'"),
        ("optimizer=1", r"unknown key 'optimizer' \(sections take a key"),
        ("a.b.c=1", r"keys have two parts"),
        ("model.hidden=[1,", r"--set model.hidden=\[1,: not valid YAML"),
    ]:
        with pytest.raises(cfg.ConfigError, match=pattern):
            cfg.load("name: x", "p.yaml", [bad])
    with pytest.raises(cfg.ConfigError, match=r"optimizer.lr: expected a finite number > 0"):
        cfg.load("name: x", "p.yaml", ["optimizer.lr=-0.1"])


def test_builtin_presets_are_valid_and_cover_the_building_blocks() -> None:
    infos = [p for p in list_presets() if p.source == "built-in"]
    assert len(infos) >= 10
    configs = [load_preset(str(p.path)) for p in infos]
    for info, config in zip(infos, configs, strict=True):
        assert info.description and "\n" not in info.description
        assert config["name"] == info.path.stem
    used = {(c["model"]["activation"], c["optimizer"]["name"], c["schedule"]["name"],
             c["data"]["dataset"], c["model"]["kind"], c["optimizer"]["momentum"] > 0)
            for c in configs}
    activations = {u[0] for u in used}
    assert {"sigmoid", "tanh", "relu", "leaky_relu"} <= activations
    assert {"sgd", "adam", "adagrad", "rmsprop"} <= {u[1] for u in used}
    assert "noam" in {u[2] for u in used}
    assert {"wine", "diabetes", "plane"} & {u[3] for u in used}
    assert "logreg" in {u[4] for u in used}
    xor = {c["optimizer"]["name"] + ("+momentum" if c["optimizer"]["momentum"] else "")
           for c in configs if c["data"]["dataset"] == "xor"}
    assert xor == {"sgd", "sgd+momentum", "adam"}  # one dataset, three optimizers


def test_preset_names_and_paths(tmp_path: Path) -> None:
    with pytest.raises(cfg.ConfigError, match="no preset named 'nope'; known presets: "):
        load_preset("nope")
    with pytest.raises(cfg.ConfigError, match="missing.yaml: no such preset file"):
        load_preset(str(tmp_path / "missing.yaml"))
    user = tmp_path / "mine"
    user.mkdir()
    (user / "quick.yaml").write_text("name: quick\ndescription: mine\ntrain: {epochs: 2}\n")
    assert load_preset("quick", user_dir=user)["train"]["epochs"] == 2
    assert any(p.name == "quick" and p.source == "user" for p in list_presets(user))
    assert (BUILTIN_DIR / "mlp-relu-spiral.yaml").exists()
