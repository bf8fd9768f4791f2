"""Trials that record which GPUs they were given, for tests/integration/test_gpus.py.

Each writes ``<General/out>/<task id>-<attempt>.json`` with the devices it saw
(``CUDA_VISIBLE_DEVICES``, ``task.gpus``), its process ids and its run interval, and holds its
devices for ``General/seconds``. Run as a script it is the command trial
(``python gpu_trials.py``); ``General/die`` makes attempt 1 SIGKILL its own pool process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from workers import Task


def _record(task: Task, kind: str) -> dict[str, object]:
    started = time.time()
    time.sleep(float(task.get_parameter("seconds", 0.3)))
    return {"task": task.id, "attempt": task.attempts, "kind": kind, "pid": os.getpid(),
            "ppid": os.getppid(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "order": os.environ.get("CUDA_DEVICE_ORDER"), "gpus": list(task.gpus),
            "start": started, "end": time.time()}


def _write(task: Task, seen: dict[str, object]) -> None:
    out = Path(task.get_parameter("out"))
    tmp = out / f".{task.id}-{seen['attempt']}.json"
    tmp.write_text(json.dumps(seen))
    tmp.rename(out / f"{task.id}-{seen['attempt']}.json")


def record_gpus(task: Task) -> None:
    """The callable trial."""
    seen = _record(task, "callable")
    _write(task, seen)
    if task.get_parameter("die", False) and task.attempts == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def command_main() -> int:
    """The command trial (a subprocess of the pool process)."""
    task = Task.current_task()
    if task is None:
        print("not run by a worker", file=sys.stderr)
        return 3
    _write(task, _record(task, "command"))
    return 0


if __name__ == "__main__":
    sys.exit(command_main())
