"""hpqueue's execution layer: task records in Redis, the Celery app, and the in-trial API.

Training code imports only this package (it does not need optuna or numpy)::

    def main(task):
        p = task.connect({"lr": 0.1, "epochs": 10})
        for epoch in range(p["epochs"]):
            task.get_logger().report_scalar("validation", "loss", value=..., iteration=epoch)

or, written the ClearML way, a script (see :mod:`workers.clearml_task`)::

    task = Task.init(project_name="examples", task_name="train")
    p = task.connect({"lr": 0.1, "epochs": 10})
    opts = argparse.ArgumentParser(...).parse_args()   # recorded as Args/...
    Logger.current_logger().report_scalar("validation", "loss", value=..., iteration=epoch)
"""

from .errors import (
    AttemptLostError,
    EntryPointError,
    HpqError,
    InvalidScalarError,
    InvalidTaskError,
    PlaceholderError,
    RedisUnavailableError,
    StatusConflictError,
    TaskNotFoundError,
    TrialRequestError,
    TrialStopped,
)
from .record import TaskRecord
from .status import TaskStatus
from .store import Store, get_store, set_store
from .task import Artifact, Logger, Task


def current_task() -> Task | None:
    """The task this process runs as a trial, or None (same as ``Task.current_task()``)."""
    return Task.current_task()


__all__ = [
    "Artifact",
    "AttemptLostError",
    "EntryPointError",
    "HpqError",
    "InvalidScalarError",
    "InvalidTaskError",
    "Logger",
    "PlaceholderError",
    "RedisUnavailableError",
    "StatusConflictError",
    "Store",
    "Task",
    "TaskNotFoundError",
    "TaskRecord",
    "TaskStatus",
    "TrialRequestError",
    "TrialStopped",
    "current_task",
    "get_store",
    "set_store",
]
