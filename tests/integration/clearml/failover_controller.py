"""A ClearML-style controller that runs on a services worker (see
tests/integration/test_clearml_failover.py and bench/failover.py)::

    failover_controller.py SERVICES_QUEUE TRAINING_QUEUE CALLBACKS_FILE

Run by hand it records its task and sends itself to SERVICES_QUEUE (``execute_remotely``); on the
worker it grid-searches ``Args/lr`` of the example base task ("examples/clearml base train"),
two jobs at a time, appending one JSON line per job-complete callback to CALLBACKS_FILE (written
and fsynced before the callback returns).
"""

from __future__ import annotations

import argparse
import json
import os

from controller import DiscreteParameterRange, GridSearch, HyperParameterOptimizer
from workers import Task

LRS = [0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2]

parser = argparse.ArgumentParser()
parser.add_argument("services_queue")
parser.add_argument("training_queue")
parser.add_argument("callbacks")
args = parser.parse_args()

task = Task.init(project_name="clearml-it", task_name="failover controller",
                 task_type=Task.TaskTypes.optimizer, reuse_last_task_id=False)
base = Task.get_task(project_name="examples", task_name="clearml base train")
optimizer = HyperParameterOptimizer(
    base_task_id=base.id, hyper_parameters=[DiscreteParameterRange("Args/lr", LRS)],
    objective_metric_title="validation", objective_metric_series="loss",
    objective_metric_sign="min", optimizer_class=GridSearch,
    max_number_of_concurrent_tasks=2, execution_queue=args.training_queue, pool_period_min=0.01)
task.execute_remotely(queue_name=args.services_queue, exit_process=True)


def on_complete(job_id: str, value: float, iteration: int, params: dict, best: str) -> None:
    with open(args.callbacks, "a") as f:
        f.write(json.dumps({"job": job_id, "pid": os.getpid()}) + "\n")
        f.flush()
        os.fsync(f.fileno())


optimizer.start(job_complete_callback=on_complete)
optimizer.wait()
print(f"controller {os.getpid()} ended: {optimizer.end_reason}")
