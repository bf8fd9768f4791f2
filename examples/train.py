"""The code of a base task: a toy "training" whose validation loss depends on lr and dropout.

A worker calls ``main(task)``; ``task.connect`` returns the clone's parameters (defaults here).
"""

from __future__ import annotations

import math
import time


def main(task) -> float:
    p = task.connect({"lr": 0.1, "dropout": 0.25, "epochs": 10, "sleep": 0.0})
    log = task.get_logger()
    loss = 1.0
    for epoch in range(int(p["epochs"])):
        # converges towards a minimum at lr = 0.1, dropout = 0.3
        floor = (math.log10(p["lr"]) + 1) ** 2 + (p["dropout"] - 0.3) ** 2
        loss = floor + math.exp(-0.5 * (epoch + 1) * p["lr"] * 10)
        log.report_scalar("validation", "loss", value=loss, iteration=epoch)
        if p["sleep"]:
            time.sleep(p["sleep"])
    print(f"final loss {loss:.4f}")
    return loss
