"""A dashboard server on the test's real redis-server (its own namespace), on a free port, and a
headless Chromium (:mod:`tests.dashboard.browser`) for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from controller.dashboard import DashboardServer
from workers import Store

if TYPE_CHECKING:
    from .browser import Browser


@pytest.fixture
def dashboard(real_store: Store) -> Iterator[DashboardServer]:
    server = DashboardServer(real_store).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium (the test module imports :mod:`.browser`, which skips it when Chromium
    or Playwright is missing)."""
    from .browser import Browser

    b = Browser()
    try:
        yield b
    finally:
        b.close()
