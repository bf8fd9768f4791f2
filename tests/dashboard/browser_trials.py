"""Trial entry points for the browser tests (run by real Celery workers).

``curve`` reports ``val/loss = x + 1/(it+1)`` and ``train/loss`` for iterations 0..4, then waits
(bounded) for ``release-<x>`` or ``release-all`` in ``General/gate_dir`` and reports iteration
5. With ``General/fail`` set it fails at once, as a trial whose dependency is missing does.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.integration.hpo_trials import wait_for_release
from workers import Task


def curve(task: Task) -> None:
    p = task.connect({"x": 0.5, "fail": 0, "gate_dir": ""})
    if int(p["fail"]):
        importlib.import_module("hpq_browser_test_missing_module")
    x = float(p["x"])
    log = task.get_logger()
    for it in range(5):
        log.report_scalar("val", "loss", value=x + 1.0 / (it + 1), iteration=it)
        log.report_scalar("train", "loss", value=x + 0.5 / (it + 1), iteration=it)
    wait_for_release(task, Path(p["gate_dir"]), x)
    log.report_scalar("val", "loss", value=x + 1.0 / 6, iteration=5)
