"""What the comparison's table lists: only the dotted keys whose values differ."""

from __future__ import annotations

from dmt_tui.app.config_diff import MISSING, differences, flatten, format_value


def test_only_keys_that_differ_with_every_runs_value() -> None:
    relu = {"name": "a", "description": "one", "model": {"activation": "relu", "hidden": [8]},
            "optimizer": {"lr": 0.001}}
    sigmoid = {"name": "a", "description": "two", "model": {"activation": "sigmoid",
                                                            "hidden": [8]},
               "optimizer": {"lr": 0.0010000001}}
    assert differences([relu, sigmoid]) == [
        ("model.activation", ["relu", "sigmoid"]),
        ("optimizer.lr", ["0.001", "0.001"]),  # shown alike, yet not the same number
    ]


def test_a_key_one_run_lacks_shows_as_missing() -> None:
    assert differences([{"schedule": {"name": "noam", "warmup": 10}},
                        {"schedule": {"name": "noam"}}]) == [("schedule.warmup", ["10", MISSING])]


def test_the_same_config_has_no_differences() -> None:
    config = {"model": {"hidden": [32, 32]}, "train": {"epochs": 3}}
    assert differences([config, dict(config)]) == []


def test_values_read_as_yaml_and_long_ones_are_cut() -> None:
    assert flatten({"a": {"b": {"c": 1}}, "d": None}) == {"a.b.c": 1, "d": None}
    assert [format_value(v) for v in ([64, 32], 1e-05, True, None)] == \
        ["[64, 32]", "1e-05", "true", "null"]
    cut = format_value("/a/very/long/path/to/some/data.csv")
    assert len(cut) == 20 and cut.endswith("…")
