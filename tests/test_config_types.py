"""The typed view of a config: one TypedDict per section, naming exactly the schema's keys,
so that mypy refuses a misspelt key where the trainer reads one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dmt_tui.presets import load_preset
from dmt_tui.presets.config_types import SECTIONS, RunConfig, typed
from dmt_tui.presets.schema import SCHEMA, TOP_LEVEL


def test_every_section_type_names_exactly_the_schemas_keys() -> None:
    assert set(SECTIONS) == set(SCHEMA)
    for section, keys in SCHEMA.items():
        assert set(SECTIONS[section].__annotations__) == set(keys), section
    assert set(RunConfig.__annotations__) == {*TOP_LEVEL, *SCHEMA}


def test_a_resolved_preset_has_every_typed_key() -> None:
    config = typed(load_preset("xor-adam"))
    for section, kind in SECTIONS.items():
        assert set(config[section]) == set(kind.__annotations__)  # type: ignore[literal-required]


def test_mypy_refuses_a_misspelt_key(tmp_path: Path) -> None:
    (tmp_path / "reader.py").write_text(
        "from dmt_tui.presets.config_types import RunConfig\n\n\n"
        "def epochs(config: RunConfig) -> int:\n"
        "    return config['train']['epoch']\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                           "--ignore-missing-imports", "--follow-imports=silent", "reader.py"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    assert 'TypedDict "TrainConfig" has no key "epoch"' in done.stdout
    assert 'Did you mean "epochs"?' in done.stdout
