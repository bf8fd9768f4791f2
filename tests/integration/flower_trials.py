"""Trial entry points for tests/integration/test_flower_events.py (run by a real Celery worker).

``trial`` reports ``val/loss = x``; with ``General/fail`` set it fails at once, as a trial whose
dependency is missing does.
"""

from __future__ import annotations

import importlib

from workers import Task


def trial(task: Task) -> None:
    p = task.connect({"x": 0.5, "fail": 0})
    if int(p["fail"]):
        importlib.import_module("hpq_flower_test_missing_module")
    task.get_logger().report_scalar("val", "loss", value=float(p["x"]), iteration=0)
