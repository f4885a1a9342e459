"""No key and no file ends the app: an error that escapes a handler is logged and shown, and
the app goes on; one that reaches Textual's top level is written to a crash log.

Textual stops a widget's message loop (and then the app) at the first exception out of one
of its handlers, and prints a traceback. So the screens' handlers are wrapped here
(`guard_handlers`), keys' actions are wrapped in `DmtApp.run_action`, and what still gets
through is written to `dmt-tui-crash-<time>.log` in the runs folder for `dmt-tui` to name.
"""

from __future__ import annotations

import functools
import inspect
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App

ERRORS_LOG = "dmt-tui-errors.log"  # errors the app survived, each kind written once
CRASH_LOG = "dmt-tui-crash-{stamp}.log"  # the one that ended it
GUARDED_PREFIXES = ("on_", "action_", "watch_")

T = TypeVar("T", bound=type)


def _log_folder(app: App[Any]) -> Path:
    """The runs folder when it can be written, else the temporary folder."""
    folder = getattr(app, "runs_dir", None)
    if isinstance(folder, Path):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return folder
        except OSError:
            pass
    return Path(tempfile.gettempdir())


def _write(path: Path, text: str, mode: str) -> Path | None:
    try:
        with open(path, mode, encoding="utf-8") as f:
            f.write(text)
    except OSError:
        return None
    return path


def _traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _origin(error: BaseException) -> str | None:
    """Where the error was raised: the innermost frame's file and line."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None


def report_error(app: App[Any], where: str, error: BaseException) -> None:
    """Log an error the app survives and show it once; the same error again (a panel that
    fails at every redraw, reached from a timer or from a key) is counted, neither logged
    nor shown again. The same error: raised at the same line, of the same type and text."""
    seen: dict[tuple[str, str, str], int] = app.__dict__.setdefault("_dmt_errors_seen", {})
    key = (_origin(error) or where, type(error).__name__, str(error)[:200])
    seen[key] = seen.get(key, 0) + 1
    if seen[key] > 1:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    log = _write(_log_folder(app) / ERRORS_LOG,
                 f"--- {stamp} in {where}\n{_traceback_text(error)}\n", "a")
    detail = f"\ndetails in {log}" if log else ""
    try:
        app.notify(f"{where}: {type(error).__name__}: {error}{detail}"[:500],
                   title="Unexpected error (the app goes on)", severity="error", timeout=15)
    except Exception:  # noqa: BLE001 - the report itself must never be what ends the app
        pass


def write_crash_log(app: App[Any], error: BaseException) -> Path | None:
    """The traceback of the error that ends the app, in the runs folder; its path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = f"dmt-tui stopped on an unexpected error at {stamp}\n\n{_traceback_text(error)}"
    return _write(_log_folder(app) / CRASH_LOG.format(stamp=stamp), text, "w")


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    where = method.__qualname__
    if inspect.iscoroutinefunction(method):
        @functools.wraps(method)
        async def guarded_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 - shown and logged, see report_error
                report_error(self.app, where, error)
                return None
        return guarded_async

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - shown and logged, see report_error
            report_error(self.app, where, error)
            return None
    return guarded


def guard_handlers(*also: str) -> Callable[[T], T]:
    """Class decorator: every `on_*`, `action_*` and `watch_*` method defined in the class,
    and the methods named in `also` (timer callbacks), report an exception and return
    instead of raising it into Textual."""
    def decorate(cls: T) -> T:
        for name, value in list(vars(cls).items()):
            if callable(value) and (name.startswith(GUARDED_PREFIXES) or name in also):
                setattr(cls, name, _guarded(value))
        return cls
    return decorate
