"""Trial entry points for tests/integration/test_optimizer_real.py (run by real Celery workers).

Addressed as ``tests.integration.hpo_trials:<name>``. The test steers a trial through files in
``General/gate_dir``: a trial writes ``ran-<x>-<task id>-<attempt>`` when it starts and waits for
``release-<x>`` (or ``release-all``) before it ends. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from workers import Task

#: Upper bound of any wait inside a trial.
MAX_WAIT = 60.0


def key(x: float) -> str:
    return f"{float(x):g}"


def gated(task: Task) -> float:
    """Reports ``val/loss = x`` (iteration 0), waits for its release file, reports iteration 1."""
    p = task.connect({"x": 0.5, "gate_dir": ""})
    x = float(p["x"])
    gate = Path(p["gate_dir"])
    (gate / f"ran-{key(x)}-{task.id}-{task.attempts}").write_text(str(os.getpid()))
    log = task.get_logger()
    log.report_scalar("val", "loss", value=x, iteration=0)
    wait_for_release(task, gate, x)
    log.report_scalar("val", "loss", value=x, iteration=1)
    return x


@contextlib.contextmanager
def release_and_kill(gate: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test starts (append them to the list): when it leaves, every gated trial
    is released and every process still running is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        (gate / "release-all").write_text("")
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def wait_for_release(task: Task, gate: Path, x: float) -> None:
    """Wait (at most :data:`MAX_WAIT`) for ``release-<x>`` or ``release-all`` in ``gate``;
    a stop request ends the wait (TrialStopped)."""
    deadline = time.monotonic() + MAX_WAIT
    while not ((gate / f"release-{key(x)}").exists() or (gate / "release-all").exists()):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
        task.check_stop()


def report_until_stopped(task: Task) -> None:
    """Reports ``val/loss`` every 50 ms (bounded) until the stop request ends it."""
    p = task.connect({"x": 0.5})
    log = task.get_logger()
    deadline = time.monotonic() + MAX_WAIT
    it = 0
    while time.monotonic() < deadline:
        log.report_scalar("val", "loss", value=(float(p["x"]) - 0.3) ** 2 + 1 / (it + 1),
                          iteration=it)
        it += 1
        time.sleep(0.05)
