"""Headless Debian Chromium driven by Playwright, for the browser tests of the dashboard and the
report. Importing this module skips the importing test module when Chromium or Playwright is
missing. Screenshots go under ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.dashboard import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
WAIT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium: apt-get install -y chromium chromium-driver",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright)")


class Browser:
    """Headless Chromium; collects every console error and page error, per page name."""

    def __init__(self) -> None:
        self._pw = sync_api.sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=str(CHROMIUM),
                                                args=CHROMIUM_ARGS)
        self.errors: dict[str, list[str]] = {}

    def page(self, name: str = "main") -> Any:
        """A page in a fresh context (its own storage: no token unless given one)."""
        page = self.browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
        page.set_default_timeout(WAIT_MS)
        errors = self.errors.setdefault(name, [])
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("dialog", lambda d: d.accept())
        return page

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def points(page: Any, selector: str, attribute: str = "data-points") -> int:
    """The number of data items the chart in ``selector`` drew (once it has drawn)."""
    page.wait_for_selector(f"{selector}[{attribute}]")
    return int(page.get_attribute(selector, attribute))
