"""``hpq dashboard``: a live web UI over the optimizers of one Redis namespace.

    from controller.dashboard import serve
    serve(host="127.0.0.1", port=8765, read_only=False, store=None)   # blocks until Ctrl-C

Modules: :mod:`.data` (every read and the actions: the one seam to the saved state),
:mod:`.aggregate` (what the charts draw, computed server-side), :mod:`.live` (event streams
followed with blocking reads), :mod:`.app` (routes), :mod:`.server`, :mod:`.cli` (the click
command). The web stack (Starlette, uvicorn) is imported on first use, so that ``hpq`` starts
without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import DashboardServer, serve

__all__ = ["DashboardServer", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
