"""The ``hpq dashboard`` command (click), part of the ``hpq`` group."""

from __future__ import annotations

import click


@click.command("dashboard", short_help="serve a live web UI of the optimizers")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to bind (keep the loopback default; see the README to expose it)")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="port to listen on")
@click.option("--read-only", is_flag=True, help="turn the actions (stop) off")
def dashboard(host: str, port: int, read_only: bool) -> None:
    """Serve a live web UI of every optimizer in the namespace (HPQ_REDIS_URL, HPQ_NAMESPACE)."""
    from .server import serve  # the web stack is imported only for this command

    serve(host=host, port=port, read_only=read_only)


if __name__ == "__main__":
    dashboard()
