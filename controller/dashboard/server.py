"""Running the dashboard: :func:`serve` (the ``hpq dashboard`` command) and
:class:`DashboardServer` (a server on a background thread, for tests and benchmarks)."""

from __future__ import annotations

import secrets
import sys
import threading
import time
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

from workers.connection import mask_url
from workers.store import Store

from .app import create_app

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                          timeout_graceful_shutdown=2, access_log=False)


def new_token() -> str:
    """A random token for the actions (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def serve(host: str = "127.0.0.1", port: int = 8765, read_only: bool = False,
          store: Store | None = None, *, token: str | None = None,
          out: TextIO = sys.stdout) -> None:
    """Serve the dashboard of every optimizer in ``store``'s namespace until Ctrl-C.

    Prints the URL with the action token (``…/#token=…``: the fragment never reaches a server
    log). ``read_only`` turns the actions off. Binding anything but a loopback address prints
    how to expose it safely. ValueError for a port outside 1..65535.
    """
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be within 1..65535, got {port}")
    if store is None:
        from workers.store import get_store

        store = get_store()
    token = token or new_token()
    app = create_app(store, token=token, read_only=read_only, host=host)
    server = uvicorn.Server(_config(app, host, port))
    shown = f"[{host}]" if ":" in host else host
    print(f"hpq dashboard: namespace {store.keys.ns!r} on "
          f"{mask_url(store.url) or 'the given store'}",
          file=out)
    if read_only:
        print(f"  http://{shown}:{port}/  (read-only: actions are off)", file=out)
    else:
        print(f"  http://{shown}:{port}/#token={token}", file=out)
        print(f"  token for the actions (stop an optimization or a job): {token}", file=out)
    if host not in LOOPBACK:
        print(f"  warning: listening on {host}: whoever reaches this port sees every "
              "optimization, and the token travels in clear over HTTP. Prefer the default "
              "127.0.0.1 with an SSH tunnel (ssh -L 8765:127.0.0.1:8765 host), or a reverse "
              "proxy with TLS and authentication; add --read-only when nobody needs actions.",
              file=out)
    out.flush()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn shut down, then re-raised the Ctrl-C
        pass
    print("hpq dashboard: stopped", file=out)


class DashboardServer:
    """A dashboard on a background thread; ``port=0`` picks a free port (see :attr:`url`)."""

    def __init__(self, store: Store, *, host: str = "127.0.0.1", port: int = 0,
                 read_only: bool = False, token: str | None = None) -> None:
        self.token = token or new_token()
        self.host = host
        self.app = create_app(store, token=self.token, read_only=read_only, host=host)
        self._server = uvicorn.Server(_config(self.app, host, port))
        self._thread = threading.Thread(target=self._server.run, name="hpq-dashboard",
                                        daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> DashboardServer:
        """Start serving; RuntimeError if the server is not up within ``timeout`` seconds."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """End the event streams, then the server."""
        self.app.state.hub.close()
        self._server.should_exit = True
        self._thread.join(timeout)
