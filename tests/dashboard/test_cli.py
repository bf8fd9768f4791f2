"""``hpq dashboard`` as a process: prints its URL with the token, serves, ends on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner

from controller.dashboard.cli import dashboard
from workers import Store
from workers.procs import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_options_are_checked() -> None:
    result = CliRunner().invoke(dashboard, ["--port", "70000"])
    assert result.exit_code == 2 and "70000" in result.output
    help_text = CliRunner().invoke(dashboard, ["--help"]).output
    assert "--read-only" in help_text and "127.0.0.1" in help_text


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_the_command_serves_and_prints_its_token(real_store: Store) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "controller.dashboard.cli", "--port",
                             str(port)], cwd=ROOT, env=os.environ.copy(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = re.search(r"(http://127\.0\.0\.1:\d+/)#token=(\S+)", "".join(lines))
        assert url, lines
        assert url.group(1) == f"http://127.0.0.1:{port}/"
        token = url.group(2)
        with httpx2.Client(base_url=url.group(1), timeout=10) as client:
            for _ in range(200):
                try:
                    if client.get("/").status_code == 200:
                        break
                except httpx2.TransportError:
                    time.sleep(0.05)
            assert client.get("/api/optimizations").json() == []
            r = client.post("/api/job/nope/stop", headers={"X-HPQ-Token": token})
            assert r.status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    assert proc.stdout.read().strip().endswith("hpq dashboard: stopped")
