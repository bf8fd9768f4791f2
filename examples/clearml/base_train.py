"""A training script written the ClearML way: run it once by hand to make the base task.

    python examples/clearml/base_train.py            # records the task "examples/clearml base train"
    python examples/clearml/hpo_controller.py        # optimizes it

Only the import differs from ClearML (``from clearml import Task, Logger``). Run by hand, the task
records this script (path, working directory, interpreter, arguments), the ``General`` and
``Args`` parameters and the scalars, and ends ``completed``. A worker runs the same script for
each clone the optimizer makes: ``Task.init`` then returns the clone, and ``connect`` and
``parse_args`` return the clone's values.
"""

from __future__ import annotations

import argparse
import math
import time

from workers import Logger, Task

parser = argparse.ArgumentParser(description="a toy training run")
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--momentum", type=float, default=0.5)
parser.add_argument("--sleep", type=float, default=0.05, help="seconds per epoch")

task = Task.init(project_name="examples", task_name="clearml base train")
opts = parser.parse_args()  # captured as Args/lr, Args/momentum, Args/sleep
params = task.connect({"epochs": 8, "batch_size": 32, "dropout": 0.25})  # section General

logger = Logger.current_logger()
loss = accuracy = 0.0
for epoch in range(int(params["epochs"])):
    # a toy loss surface: best at lr = 0.03, momentum = 0.9, batch_size = 64, dropout = 0.2
    floor = ((math.log10(opts.lr) + 1.5) ** 2 + (opts.momentum - 0.9) ** 2
             + (math.log2(params["batch_size"]) - 6) ** 2 / 10 + (params["dropout"] - 0.2) ** 2)
    loss = floor + math.exp(-0.4 * (epoch + 1))
    accuracy = 1.0 / (1.0 + loss)
    logger.report_scalar("validation", "loss", value=loss, iteration=epoch)
    logger.report_scalar("validation", "accuracy", value=accuracy, iteration=epoch)
    time.sleep(opts.sleep)
logger.report_single_value("final accuracy", accuracy)
logger.report_text(f"lr={opts.lr} momentum={opts.momentum} {params}: loss {loss:.4f}")
