"""A script that sends itself to a worker with ``execute_remotely`` (see
tests/integration/test_clearml_workflow.py): ``remote_controller.py QUEUE [--clone]``.

Run by hand it records its task, enqueues it (or a clone) on QUEUE and exits; run by the worker,
``Task.init`` returns the queued task, ``execute_remotely`` does nothing, and it reports where it
ran.
"""

from __future__ import annotations

import argparse
import os

from workers import Task

parser = argparse.ArgumentParser()
parser.add_argument("queue")
parser.add_argument("--clone", action="store_true")
args = parser.parse_args()

task = Task.init(project_name="clearml-it", task_name="remote controller",
                 task_type=Task.TaskTypes.optimizer, reuse_last_task_id=False)
settings = task.connect({"answer": 41})
task.execute_remotely(queue_name=args.queue, clone=args.clone, exit_process=True)
task.get_logger().report_scalar("ran", "remote", value=1.0, iteration=0)
task.upload_artifact("where", {"task_id": task.id, "current": Task.current_task().id,
                               "worker_env": os.environ.get("HPQ_TASK_ID"),
                               "answer": settings["answer"]})
