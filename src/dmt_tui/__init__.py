"""dmt-tui: train small PyTorch models and watch them learn in the terminal.

`dmt_tui.Run` streams a script's own training loop into a run folder (dmt_tui.api). It is
imported on first use, so `import dmt_tui` loads neither torch nor Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dmt_tui.api import Run

__version__ = "0.1.0"
__all__ = ["Run", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Run":
        from dmt_tui.api import Run

        return Run
    raise AttributeError(f"module 'dmt_tui' has no attribute {name!r}")
