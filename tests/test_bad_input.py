"""Bad input at the command line: one clear line naming the file, key or column and what is
accepted, a non-zero exit, no traceback, and nothing already written is lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dmt_tui.cli import main
from tests.conftest import run_cli

CSV_OK = "a,b,y\n" + "".join(f"{i},{i * 2 % 5},{i % 2}\n" for i in range(30))

# (preset file text or None for the built-in xor-adam, --set overrides, CSV text or None,
#  a regex the one error line must match)
CASES = {
    "yaml syntax": ("name: x\nmodel:\n\thidden: [1]\n", [], None,
                    r"p\.yaml: not valid YAML \(line 3, column 1\)"),
    "yaml unclosed list": ("model: {hidden: [1, 2}\n", [], None,
                           r"p\.yaml: not valid YAML \(line 1"),
    "empty file": ("", [], None, r"p\.yaml: the preset is empty"),
    "list not mapping": ("- a\n- b\n", [], None, r"p\.yaml: expected a mapping of sections"),
    "section not mapping": ("train: 5\n", [], None, r"p\.yaml: train: expected a mapping"),
    "unknown section": ("trian: {epochs: 3}\n", [], None,
                        r"unknown section 'trian'; did you mean 'train'\?"),
    "unknown key": ("train: {epoch: 3}\n", [], None,
                    r"unknown key 'train.epoch'; did you mean 'epochs'\?"),
    "wrong type": ("train: {epochs: many}\n", [], None,
                   r"train\.epochs: expected a whole number >= 1.*got 'many'"),
    "negative lr": (None, ["optimizer.lr=-0.1"], None, r"optimizer\.lr: expected .*> 0"),
    "zero lr": (None, ["optimizer.lr=0"], None, r"optimizer\.lr: expected .*> 0"),
    "zero epochs": (None, ["train.epochs=0"], None, r"train\.epochs: expected .*>= 1"),
    "zero batch": (None, ["train.batch_size=0"], None, r"train\.batch_size: expected .*>= 1"),
    "negative patience": (None, ["early_stopping.patience=-2"], None,
                          r"early_stopping\.patience: expected a whole number >= 0"),
    "fraction above 1": (None, ["data.val_fraction=1.2"], None,
                         r"data\.val_fraction: expected a finite number > 0 and < 1"),
    "non-finite": (None, ["optimizer.lr=.inf"], None, r"optimizer\.lr: expected a finite"),
    "unknown activation": (None, ["model.activation=swish"], None,
                           r"model\.activation: expected one of identity, binary_step, sigmoid"),
    "unknown optimizer": (None, ["optimizer.name=lamb"], None,
                          r"optimizer\.name: expected one of sgd, adam, adamw, adagrad, rmsprop"),
    "unknown schedule": (None, ["schedule.name=onecycle"], None,
                         r"schedule\.name: expected one of none, noam, cosine, step"),
    "unknown dataset": (None, ["data.dataset=mnist"], None,
                        r"data\.dataset: expected one of circle, xor"),
    "set without =": (None, ["optimizer.lr"], None, r"--set optimizer\.lr: expected KEY=VALUE"),
    "set unknown key": (None, ["optimizer.learning_rate=1"], None,
                        r"unknown key 'optimizer\.learning_rate'"),
    "set bad yaml": (None, ["model.hidden=[8,"], None, r"--set model\.hidden=\[8,: not valid"),
    "escaping name": (None, ["name=../../etc"], None, r"name: expected letters, digits"),
    "missing csv": ("data: {dataset: csv, path: nowhere.csv, label: y}\n", [], None,
                    r"nowhere\.csv: data\.path: no such CSV file"),
    "missing label": ("data: {dataset: csv, path: d.csv, label: target}\n", [], CSV_OK,
                      r"d\.csv: data\.label: no column 'target'; columns are: a, b, y"),
    "non-numeric feature": ("data: {dataset: csv, path: d.csv, label: y}\n", [],
                            "a,b,y\n1,2,0\n3,four,1\n",
                            r"d\.csv: feature column 'b' is not numeric: row 3 has 'four'"),
    "missing value": ("data: {dataset: csv, path: d.csv, label: y}\n", [],
                      "a,b,y\n1,2,0\n3,,1\n", r"column 'b' has a missing value at row 3"),
    "single class": ("data: {dataset: csv, path: d.csv, label: y}\n", [],
                     "a,b,y\n1,2,1\n3,4,1\n", r"label column 'y' has a single class"),
    "no rows": ("data: {dataset: csv, path: d.csv, label: y}\n", [], "a,b,y\n",
                r"d\.csv: the CSV has a header but no rows"),
    "unknown preset": ("NAME:nosuchpreset", [], None,
                       r"no preset named 'nosuchpreset'; known presets: binary-step"),
    "missing preset file": ("NAME:missing.yaml", [], None,
                            r"missing\.yaml: no such preset file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_rejects_bad_input_with_one_clear_line(case: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    text, overrides, csv, pattern = CASES[case]
    runs = tmp_path / "runs"
    runs.mkdir()
    earlier = runs / "20260101-000000-earlier"  # a run that was there before: left alone
    earlier.mkdir()
    (earlier / "status.json").write_text('{"state": "finished"}')
    if text is None:
        preset = "xor-adam"
    elif text.startswith("NAME:"):
        preset = text[5:]
    else:
        (tmp_path / "p.yaml").write_text(text)
        preset = str(tmp_path / "p.yaml")
    if csv is not None:
        (tmp_path / "d.csv").write_text(csv)
    args = ["train", preset, "--runs-dir", str(runs)]
    for override in overrides:
        args += ["--set", override]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dmt-tui: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in out + err
    assert sorted(p.name for p in runs.iterdir()) == [earlier.name]  # nothing started
    assert (earlier / "status.json").read_text() == '{"state": "finished"}'


def test_there_are_at_least_25_bad_inputs() -> None:
    assert len(CASES) >= 25


def test_bad_flags_and_export_input_through_the_real_command(tmp_path: Path) -> None:
    flag = run_cli("train", "xor-adam", "--epochs", "3")
    assert flag.returncode == 2 and "unrecognized arguments: --epochs 3" in flag.stderr
    export = run_cli("export", "no-such-run", "--runs-dir", str(tmp_path))
    assert export.returncode == 2
    assert export.stderr.startswith("dmt-tui: error: no run 'no-such-run'")
    for done in (flag, export):
        assert "Traceback" not in done.stdout + done.stderr
