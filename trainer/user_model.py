"""model.kind: python: the model comes from a function in the user's own Python file.

This runs the user's code, with the trainer's rights (README, "Your own model"). The file is
imported under a module name of its own (never put on sys.path, so it shadows nothing and
nothing imports it by accident); the builder gets (n_features, n_outputs, config) and must
return a torch.nn.Module. Every way that can go wrong is one ConfigError naming the file and
the function, raised from `loop.prepare`, before the run folder is made.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from torch import nn

from dmt_tui.presets.config_types import ModelConfig
from dmt_tui.presets.schema import ConfigError


def _one_line(err: BaseException) -> str:
    """`ValueError: bad width`: the exception's type and the first line of its text."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _import(path: Path) -> Any:
    """The user's file as a module named after its absolute path, so that two files called
    `net.py` do not meet in sys.modules."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"dmt_user_model_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: model.path: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by its name
    try:
        spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - a SyntaxError, an ImportError, a SystemExit...
        del sys.modules[name]
        if isinstance(err, KeyboardInterrupt):
            raise
        raise ConfigError(f"{path}: model.path: importing the file failed: "
                          f"{_one_line(err)}") from None
    return module


def build_user_model(model: ModelConfig, n_features: int, n_outputs: int,
                     config: dict[str, Any] | None = None) -> nn.Module:
    """Import model.path, call model.builder(n_features, n_outputs, config), check that it
    returned a module with trainable parameters. Raises ConfigError."""
    path = Path(str(model["path"])).expanduser()
    builder_name = str(model["builder"])
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a regular file"
        raise ConfigError(f"{path}: model.path: {what}; model.kind: python needs the Python "
                          f"file that defines {builder_name}()")
    module = _import(path)
    builder = getattr(module, builder_name, None)
    if builder is None:
        known = sorted(n for n, v in vars(module).items() if callable(v) and not
                       n.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        listed = f"; it defines: {', '.join(known)}" if known else ""
        raise ConfigError(f"{path}: model.builder: no function '{builder_name}' in the "
                          f"file{listed}")
    if not callable(builder):
        raise ConfigError(f"{path}: model.builder: '{builder_name}' is a "
                          f"{type(builder).__name__}, not a function")
    where = f"{path}: {builder_name}({n_features}, {n_outputs}, config)"
    try:
        built = builder(n_features, n_outputs, copy.deepcopy(config or {}))
    except BaseException as err:  # noqa: BLE001 - the user's code may raise anything
        if isinstance(err, KeyboardInterrupt):
            raise
        raise ConfigError(f"{where} raised {_one_line(err)}") from None
    if not isinstance(built, nn.Module):
        raise ConfigError(f"{where} returned {type(built).__name__}, not a torch.nn.Module")
    if not any(p.requires_grad for p in built.parameters()):
        raise ConfigError(f"{where} returned a {type(built).__name__} with no trainable "
                          f"parameters; there is nothing to train")
    return built
