"""Hostile and mistaken inputs through the real `dmt-tui` command: tiny files that would
exhaust memory or block for ever, values the checks once let through and training then
crashed on, and mistakes a user wants to hear about. Each gets one `dmt-tui: error:` line
naming the file, key or column, exit 2, no traceback, within the subprocess's timeout (a
hang fails the test), and no run folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dmt_tui.presets import list_presets
from dmt_tui.presets.schema import ConfigError, parse_yaml
from tests.conftest import run_cli


def alias_bomb(levels: int = 8, key: str = "model:\n  hidden") -> str:
    """A "billion laughs": under 1 KB, 9**levels values once its aliases are expanded."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]")
    lines[-1] = lines[-1].replace(f"a{levels - 1}: &a{levels - 1}", f"{key}: &top")
    return "\n".join(lines) + "\n"


SET_BOMB = ("model.hidden=[&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
            "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "
            "[*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]]")
CSV_PRESET = "name: c\ndata: {{dataset: csv, path: {path}, label: y{extra}}}\n"
ROWS = "".join(f"{i},{i % 5},{i % 2}\n" for i in range(30))

# case: (files to write {name: text | "FIFO"}, argv after `train`, regex of the one line)
CASES: dict[str, tuple[dict[str, str], list[str], str]] = {
    "alias bomb in a preset": ({"p.yaml": "name: bomb\n" + alias_bomb()}, ["p.yaml"],
                               r"p\.yaml: refused \(line \d+\): aliases expand to more than"),
    "alias bomb in --set": ({}, ["xor-adam", "--set", SET_BOMB],
                            r"--set model\.hidden=.*: refused \(line 1\): aliases expand"),
    "alias bomb in a run's config.yaml": (
        {"runs/20260101-000000-x/config.yaml": alias_bomb(key="description")},
        ["runs/20260101-000000-x/config.yaml"], r"config\.yaml: refused .*aliases expand"),
    "recursive alias": ({"p.yaml": "name: r\nmodel: &m {hidden: [*m]}\n"}, ["p.yaml"],
                        r"p\.yaml: refused|p\.yaml: not valid YAML"),
    "deep nesting": ({"p.yaml": "[" * 5000}, ["p.yaml"], r"p\.yaml: refused: .*nested"),
    "preset over 1 MB": ({"p.yaml": "name: big\ndescription: '" + "x" * 1_100_000 + "'\n"},
                         ["p.yaml"], r"p\.yaml: 1,100,\d+ bytes, over the 1,000,000"),
    "preset is /dev/zero": ({}, ["/dev/zero"], r"/dev/zero: not a regular file \(a character"),
    "preset is a FIFO": ({"f.yaml": "FIFO"}, ["f.yaml"], r"f\.yaml: not a regular file \(a FIFO"),
    "preset is a folder": ({"d.yaml/x": ""}, ["d.yaml"], r"d\.yaml: not a regular file"),
    "data.path is /dev/zero": ({}, ["xor-adam", "--set", "data.dataset=csv", "--set",
                                    "data.path=/dev/zero", "--set", "data.label=y"],
                               r"/dev/zero: data\.path: not a regular file"),
    "data.path is a FIFO": ({"d.csv": "FIFO", "p.yaml": CSV_PRESET.format(path="d.csv",
                                                                           extra="")},
                            ["p.yaml"], r"d\.csv: data\.path: not a regular file"),
    "a trillion parameters": ({}, ["xor-adam", "--set", "model.hidden=[1000000,1000000]"],
                              r"--set model\.hidden=\[1000000,1000000\]: model\.hidden: a model "
                              r"of 1,000,006,000,002 parameters .* needs about 21\.8 TiB"),
    "patience 1e30": ({}, ["xor-adam", "--set", "early_stopping.patience=1e30"],
                      r"--set early_stopping\.patience=1e30: early_stopping\.patience: "
                      r"expected a whole number >= 0 and <= 10000000, got 1e\+30"),
    "d_model 10**400": ({}, ["xor-adam", "--set", "schedule.name=noam", "--set",
                             "schedule.d_model=1" + "0" * 400],
                        r"schedule\.d_model: expected a whole number >= 1 and <= 1000000000, "
                        r"or null, got a number of 401 digits"),
    "warmup 10**30": ({}, ["xor-adam", "--set", "schedule.warmup=1" + "0" * 30],
                      r"schedule\.warmup: expected a whole number >= 1 and <= 1000000000"),
    "nproc 1000": ({}, ["xor-adam", "--nproc", "1000"],
                   r"argument --nproc: expected a whole number from 1 to \d+ \(the CPU cores"),
    "duplicate key": ({"p.yaml": "name: d\noptimizer:\n  lr: 0.1\n  name: sgd\n  lr: 0.2\n"},
                      ["p.yaml"], r"p\.yaml: refused \(line 5\): duplicate key 'lr' \(first on "
                      r"line 3\)"),
    "duplicate section": ({"p.yaml": "train: {epochs: 3}\nname: d\ntrain: {epochs: 5}\n"},
                          ["p.yaml"], r"duplicate key 'train' \(first on line 1\)"),
    "duplicated label column": ({"d.csv": "a,y,b,y\n" + "".join(
        f"{i},{i % 2},{i % 5},{(i + 1) % 2}\n" for i in range(30)),
        "p.yaml": CSV_PRESET.format(path="d.csv", extra="")}, ["p.yaml"],
        r"d\.csv: column 'y' appears twice in the header \(columns 2 and 4\)"),
    "float labels as classes": ({"d.csv": "a,b,y\n" + "".join(
        f"{i},{i % 5},{(i * 7919 % 1000) / 997:.4f}\n" for i in range(200)),
        "p.yaml": CSV_PRESET.format(path="d.csv", extra=", task: classification")},
        ["p.yaml"], r"d\.csv: label column 'y' has 200 distinct values, not whole numbers"),
    "inf in a feature": ({"d.csv": "a,b,y\n" + ROWS.replace("7,2,1", "7,inf,1"),
                          "p.yaml": CSV_PRESET.format(path="d.csv", extra="")}, ["p.yaml"],
                         r"d\.csv: feature column 'b' has inf at row 9"),
    "-inf in a regression label": ({"d.csv": "a,b,y\n" + ROWS.replace("7,2,1", "7,2,-inf"),
                                    "p.yaml": CSV_PRESET.format(path="d.csv",
                                                                extra=", task: regression")},
                                   ["p.yaml"], r"d\.csv: label column 'y' has -inf at row 9"),
    "NaN in a feature": ({"d.csv": "a,b,y\n" + ROWS.replace("7,2,1", "7,NaN,1"),
                          "p.yaml": CSV_PRESET.format(path="d.csv", extra="")}, ["p.yaml"],
                         r"d\.csv: column 'b' has a missing value at row 9"),
    "CSV not beside the preset": ({"d.csv": "a,b,y\n" + ROWS,
                                   "sub/p.yaml": CSV_PRESET.format(path="d.csv", extra="")},
                                  ["sub/p.yaml"], r"/sub/d\.csv: data\.path: no such CSV file"),
    "--set optimizer.lr=-1": ({}, ["xor-adam", "--set", "optimizer.lr=-1"],
                              r"^dmt-tui: error: --set optimizer\.lr=-1: optimizer\.lr: expected "
                              r"a finite number > 0"),
    "--set nesterov without momentum": ({}, ["xor-sgd", "--set", "optimizer.nesterov=true"],
                                        r"--set optimizer\.nesterov=true: optimizer\.nesterov: "
                                        r"needs"),
    "--presets-dir is a file": ({"notes.txt": "x"}, ["xor-adam", "--presets-dir", "notes.txt"],
                                r"--presets-dir notes\.txt: not a folder"),
}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text == "FIFO":
            os.mkfifo(path)
        else:
            path.write_text(text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_input_gets_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    files, argv, pattern = CASES[case]
    _write(tmp_path, files)
    before = sorted(p.name for p in (tmp_path / "runs").iterdir()) \
        if (tmp_path / "runs").is_dir() else []
    done = run_cli("train", *argv, "--runs-dir", str(tmp_path / "runs"), "--quiet",
                   cwd=tmp_path, timeout=90)  # a hang or an exhausted memory fails here
    lines = done.stderr.strip().splitlines()
    if lines and lines[0].startswith("usage: "):  # argparse's own: usage, then the error
        lines = lines[-1:]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert "error: " in lines[0] and re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    after = sorted(p.name for p in (tmp_path / "runs").iterdir()) \
        if (tmp_path / "runs").is_dir() else []
    assert after == before  # nothing started


def test_a_csv_path_given_with_set_is_read_from_the_current_folder(tmp_path: Path) -> None:
    """The documented rule: a `--set data.path` is relative to where it was typed, a preset
    file's to the preset's folder; the file read is named in `start` (its resolved path)."""
    (tmp_path / "d.csv").write_text("a,b,y\n" + ROWS)
    done = run_cli("train", "xor-adam", "--set", "data.dataset=csv", "--set", "data.path=d.csv",
                   "--set", "data.label=y", "--set", "train.epochs=1", "--runs-dir",
                   str(tmp_path / "runs"), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = next((tmp_path / "runs").glob("*/config.yaml")).read_text()
    assert f"path: {tmp_path / 'd.csv'}" in config


def test_a_fifo_or_a_bomb_in_the_presets_folder_is_listed_without_being_opened(
        tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    os.mkfifo(folder / "stuck.yaml")  # opening it would wait for a writer for ever
    (folder / "bomb.yaml").write_text("name: bomb\n" + alias_bomb(key="description"))
    (folder / "mine.yaml").write_text("name: mine\ndescription: my own\n")
    done = run_cli("presets", "--presets-dir", str(folder), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "mine" in done.stdout and "my own" in done.stdout
    assert "stuck" not in done.stdout
    assert "bomb  (not a valid preset)" in done.stdout.replace("  ", " ").replace(" (", "  (") \
        or "(not a valid preset)" in done.stdout
    # the app's `n` lists presets with the same function, in-process
    found = {p.path.name for p in list_presets(folder) if p.source == "user"}
    assert found == {"bomb.yaml", "mine.yaml"}


def test_presets_dir_that_is_a_file_is_one_message_for_every_command(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for argv in (["presets", "--presets-dir", str(blocker)], ["--presets-dir", str(blocker)]):
        done = run_cli(*argv, timeout=60)
        assert done.returncode == 2
        assert done.stderr.strip() == (f"dmt-tui: error: --presets-dir {blocker}: not a folder; "
                                       f"user presets are the *.yaml files of a folder")


def test_parse_yaml_refuses_bombs_fast_and_accepts_small_aliases() -> None:
    with pytest.raises(ConfigError, match=r"x: refused \(line \d+\): aliases expand"):
        parse_yaml("name: bomb\n" + alias_bomb(levels=9), "x")
    small = parse_yaml("a: &w [16, 16]\nmodel: {hidden: *w}\n", "x")
    assert small["model"]["hidden"] == [16, 16]
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        parse_yaml("a: 1\na: 2\n", "x")
    merged = parse_yaml("base: &b {lr: 1}\nopt: {<<: *b, lr: 2}\n", "x")  # a merge may override
    assert merged["opt"] == {"lr": 2}


def test_there_are_at_least_25_hostile_inputs() -> None:
    assert len(CASES) >= 25


def test_presets_schema_prints_every_key_with_its_default_and_range() -> None:
    from dmt_tui.presets.schema import SCHEMA

    done = run_cli("presets", "--schema", timeout=60)
    assert done.returncode == 0, done.stderr
    keys = [line.split()[0] for line in done.stdout.splitlines()]
    assert keys == ["name", "description"] + [f"{s}.{k}" for s in SCHEMA for k in SCHEMA[s]]
    assert any(line.split()[:3] == ["early_stopping.patience", "default", "10"]
               and "<= 10000000" in line for line in done.stdout.splitlines())
