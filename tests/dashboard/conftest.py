"""A dashboard server on the test's real redis-server (its own namespace), on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.dashboard import DashboardServer
from workers import Store


@pytest.fixture
def dashboard(real_store: Store) -> Iterator[DashboardServer]:
    server = DashboardServer(real_store).start()
    try:
        yield server
    finally:
        server.stop()
