"""Reading YAML that a user or another process wrote, safely: presets, `--set` values and
run folders' config.yaml. Torch-free: the app reads config.yaml through here too."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A user's mistake in a preset or a `--set`: the message is shown as it is."""


MAX_FILE_BYTES = 1_000_000  # a preset or config.yaml is a few hundred bytes; refuse anything huge
MAX_YAML_VALUES = 10_000  # values after expanding aliases: a preset has about fifty


class _Refused(Exception):
    """YAML that parses but is refused (an alias bomb, a duplicate key), with its line."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


class _Loader(yaml.SafeLoader):
    """The safe loader, with YAML 1.2 floats (`1e-3` is a number, not a string), no
    duplicate keys, and aliases that may not expand past MAX_YAML_VALUES (a 1 KB
    "billion laughs" otherwise expands to gigabytes when a message or a copy walks it)."""

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _count_values(node, {}, set())
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise _Refused(f"duplicate key '{key_node.value}' (first on line "
                                   f"{seen[key_node.value]}); each key may appear once", line)
                seen[key_node.value] = line
        return super().construct_mapping(node, deep)


def _count_values(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """The number of values `node` stands for with every alias expanded; each distinct node
    is counted once (memoized), so the count itself costs the document's size."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_nodes:
        raise _Refused("an alias refers to the list or mapping that contains it",
                       node.start_mark.line + 1)
    size = 1
    if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
        open_nodes.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [n for pair in node.value for n in pair]
        for child in children:
            size += _count_values(child, sizes, open_nodes)
            if size > MAX_YAML_VALUES:
                raise _Refused(f"aliases expand to more than {MAX_YAML_VALUES:,} values; a "
                               f"preset needs far fewer", node.start_mark.line + 1)
        open_nodes.discard(id(node))
    sizes[id(node)] = size
    return size


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$"
               r"|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)
# That pattern matches plain integers too; YAML's int resolver, added earlier, wins for those.


def parse_yaml(source: str, where: str) -> Any:
    """YAML text to Python, safely; a syntax error, a duplicate key or an alias bomb names
    `where` and the line. Every reader of presets and config.yaml goes through here."""
    if len(source) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: {len(source):,} characters, over the {MAX_FILE_BYTES:,} "
                          f"a preset may have")
    try:
        return yaml.load(source, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except _Refused as err:
        raise ConfigError(f"{where}: refused (line {err.line}): {err.problem}") from None
    except RecursionError:
        raise ConfigError(f"{where}: refused: lists or mappings nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML{line}: {problem}") from None


def read_small_file(path: Path, what: str = "preset") -> str:
    """A preset or config.yaml as text: a regular file (never a FIFO or a device, which
    would block or never end) of at most MAX_FILE_BYTES, UTF-8. Raises ConfigError."""
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer, for ever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ConfigError(f"{path}: not a regular file ({_kind(info.st_mode)}); "
                          f"a {what} must be a YAML file")
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{path}: {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,} "
                              f"a {what} may have")
        try:
            data = file.read(MAX_FILE_BYTES + 1)
            return data.decode("utf-8")
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the {what}: {err.strerror or err}") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); a {what} is YAML "
                              f"text") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"
