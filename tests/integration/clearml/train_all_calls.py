"""A training script that uses every call of hpqueue's ClearML Task API (run by hand or by a
worker as a clone; see tests/integration/test_clearml_workflow.py).

It uploads an ``effective`` artifact with the values it ran with, so that a test can see which
values won. ``--mode`` picks how it ends: ``ok``, ``raise``, ``exit3``, ``mark_completed``,
``close``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workers import Logger, Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--layers", type=int, nargs="+", default=[32, 32])
parser.add_argument("--data", type=Path, default=Path("/data/train"))  # JSON cannot hold a Path
parser.add_argument("--model-config", required=True)
parser.add_argument("--mode", default="ok")
opts = parser.parse_args()  # before Task.init: connected when it runs

task = Task.init(project_name="clearml-it", task_name="train all calls",
                 task_type=Task.TaskTypes.training, tags=["it"], output_uri=False,
                 auto_resource_monitoring=False)
assert Task.init(project_name="clearml-it", task_name="train all calls") is task
params = task.connect({"epochs": 3, "dropout": 0.25, "net": {"width": 8}})


class Optimizer:
    momentum = 0.9
    nesterov = False


task.connect(Optimizer, name="Optimizer")
seed = task.connect(argparse.Namespace(seed=1), name="Seed")
schedule = task.connect_configuration({"kind": "cosine", "warmup": 1}, name="schedule")
model_path = task.connect_configuration(Path(opts.model_config), name="model")
task.set_parameter("General/note", "hello")
logger = task.get_logger()
assert Logger.current_logger() is logger

loss = 0.0
for epoch in range(params["epochs"]):
    loss = opts.lr * (1 - Optimizer.momentum) + params["dropout"] / (epoch + 1)
    logger.report_scalar("validation", "loss", value=loss, iteration=epoch)
logger.report_single_value("final loss", loss)
logger.report_text(f"finished with loss {loss}")

effective = {"task_id": task.id, "main": task.is_main_task(), "lr": opts.lr,
             "layers": opts.layers, "data": str(opts.data), "epochs": params["epochs"],
             "dropout": params["dropout"], "width": params["net"]["width"],
             "momentum": Optimizer.momentum, "seed": seed.seed, "schedule": schedule,
             "model": json.loads(Path(model_path).read_text()),
             "as_dict": task.get_parameters_as_dict(cast=True)}
task.upload_artifact("effective", effective)
assert task.artifacts["effective"].get() == effective

if opts.mode == "raise":
    raise RuntimeError("boom")
if opts.mode == "exit3":
    sys.exit(3)
if opts.mode == "mark_completed":
    task.mark_completed()
    print("not reached")
if opts.mode == "close":
    task.close()
    print("closed; the process carries on")
