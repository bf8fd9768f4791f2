"""A trial entry point for tests/integration/test_strategies_real.py.

``train_waits_for_stop`` reports examples/train.py's loss; with ``wait_after=k`` it waits after
its report of iteration ``k`` until it is asked to stop (at most 60 s), so that a test can check
an early-stopping decision without racing the trial's end.
"""

from __future__ import annotations

import math
import time

from workers import Task


def train_waits_for_stop(task: Task) -> float:
    p = task.connect({"lr": 0.1, "dropout": 0.25, "epochs": 10, "wait_after": -1})
    log = task.get_logger()
    loss = 1.0
    for epoch in range(int(p["epochs"])):
        floor = (math.log10(p["lr"]) + 1) ** 2 + (p["dropout"] - 0.3) ** 2
        loss = floor + math.exp(-0.5 * (epoch + 1) * p["lr"] * 10)
        log.report_scalar("validation", "loss", value=loss, iteration=epoch)
        if epoch == p["wait_after"]:
            deadline = time.monotonic() + 60
            while not task.should_stop() and time.monotonic() < deadline:
                time.sleep(0.02)
    return loss
