#!/usr/bin/env python
"""Controller failover: how long after ``kill -9`` of the worker running a controller does the
controller go on, on another worker?

    python bench/failover.py             # 3 runs with HPQ_HEARTBEAT_GRACE=5; prints the table
    python bench/failover.py --runs 5 --grace 10

One run (:func:`run_scenario`, which tests/integration/test_clearml_failover.py runs too):

1. the example training script (``examples/clearml/base_train.py``) is run by hand once: the base
   task; two worker processes consume the training queue, one worker the services queue;
2. ``tests/integration/clearml/failover_controller.py`` is run by hand: it sends itself to the
   services queue (``execute_remotely``) and exits; the services worker runs it: a grid search
   of 8 jobs, 2 at a time;
3. once two jobs have completed, a second services worker is started, then the first one is
   killed with SIGKILL (its whole process group);
4. the controller task's attempt is declared dead after the heartbeat grace, the task is queued
   again and the second services worker runs the script again: ``HyperParameterOptimizer``
   adopts a task that holds optimizer state and continues it; the lease of the dead attempt is
   taken over at once (it names the attempt).

Reported, from the kill: when the new controller session started (its saved timing), and when it
created its first job (its first decision; the jobs running at the kill may have ended by then).
The benchmark starts its own ``redis-server`` and uses a private namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from controller.persistence import OptimizerRepository
from workers import Store, Task, TaskStatus
from workers.local import LocalWorkers

BASE_SCRIPT = ROOT / "examples" / "clearml" / "base_train.py"
CONTROLLER = ROOT / "tests" / "integration" / "clearml" / "failover_controller.py"
#: Seconds per epoch of each training job (8 epochs).
EPOCH_SECONDS = "0.3"


@dataclass
class Failover:
    """The outcome of one run."""

    controller: Task
    killed_at: float
    #: seconds from the kill to the new controller session's start
    resumed_after: float
    #: seconds from the kill to the first job the new controller created (None: it created none)
    first_decision_after: float | None
    callbacks: list[dict[str, object]]
    old_pid: int


def wait(predicate: object, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def run_script(script: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, str(script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{done.stdout}\n{done.stderr}")


def run_scenario(store: Store, workdir: Path, timeout: float = 240) -> Failover:
    """One failover (see the module docstring), in the store and environment of the caller
    (``HPQ_REDIS_URL``, ``HPQ_NAMESPACE``, the heartbeat settings)."""
    suffix = uuid.uuid4().hex[:8]
    services, training = f"services-{suffix}", f"training-{suffix}"
    callbacks = workdir / f"callbacks-{suffix}.jsonl"
    run_script(BASE_SCRIPT, "--sleep", EPOCH_SECONDS)
    started: list[LocalWorkers] = []
    try:
        for queues, concurrency in (([training], 2), ([services], 1)):
            started.append(LocalWorkers(queues, concurrency=concurrency, url=store.url))
            started[-1].wait_ready(timeout=60)
        first = started[-1]
        run_script(CONTROLLER, services, training, str(callbacks))
        controller = Task.get_tasks(project_name="clearml-it",
                                    task_name="^failover controller$", store=store)[-1]
        wait(lambda: sum(t.status is TaskStatus.COMPLETED
                         for t in Task.get_tasks(parent=controller.id, store=store)) >= 2,
             timeout, "two completed jobs")
        old_pid = json.loads(callbacks.read_text().splitlines()[0])["pid"]
        started.append(LocalWorkers([services], concurrency=1, url=store.url))
        started[-1].wait_ready(timeout=60)
        killed_at = time.time()
        os.killpg(first.proc.pid, signal.SIGKILL)
        controller.wait_for_status(timeout=timeout)
        timing = OptimizerRepository(store).load(controller.id).state.timing
        assert timing is not None
        after = sorted(t.created for t in Task.get_tasks(parent=controller.id, store=store)
                       if t.created > killed_at)
        lines = [json.loads(line) for line in callbacks.read_text().splitlines()]
        return Failover(controller, killed_at, timing.session_started - killed_at,
                        after[0] - killed_at if after else None, lines, int(old_pid))
    finally:
        for w in started:
            w.stop(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--grace", type=float, default=5.0, help="HPQ_HEARTBEAT_GRACE (s)")
    args = parser.parse_args()
    from workers import app as app_module
    from workers import set_store
    from workers.config import Settings
    from workers.procs import start_redis_server

    with tempfile.TemporaryDirectory() as tmp, start_redis_server(
            Path(tmp) / "redis", config={"save": "", "appendonly": "no"}) as server:
        os.environ.update({"HPQ_REDIS_URL": server.url, "HPQ_NAMESPACE": "failover",
                           "HPQ_HOME": str(Path(tmp) / "home"),
                           "HPQ_HEARTBEAT_INTERVAL": "0.5",
                           "HPQ_HEARTBEAT_GRACE": str(args.grace),
                           "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                          os.environ.get("PYTHONPATH", "")])})
        settings = Settings.from_env()
        store = Store.connect(server.url, settings)
        set_store(store)
        app_module.configure(settings, server.url)
        rows = []
        for n in range(args.runs):
            result = run_scenario(store, Path(tmp))
            rows.append(result)
            print(f"run {n + 1}: new controller session {result.resumed_after:.2f} s after "
                  f"the kill, first decision after {result.first_decision_after:.2f} s",
                  flush=True)
        resumed = statistics.median(r.resumed_after for r in rows)
        decided = statistics.median(r.first_decision_after or float("nan") for r in rows)
        print(f"\nheartbeat grace {args.grace:g} s, {args.runs} runs (medians): new controller "
              f"session {resumed:.2f} s after the kill ({resumed - args.grace:.2f} s past the "
              f"grace), first decision {decided:.2f} s ({decided - args.grace:.2f} s past the "
              f"grace)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
