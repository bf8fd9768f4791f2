"""Trial entry points run by real Celery workers in the integration tests.

Each function is addressed as ``tests.integration.trials:<name>`` (workers get the repo root on
PYTHONPATH). Faults are injected on demand: a trial looks at ``task.attempts`` (which attempt it
is) or at marker files whose paths the test passes as parameters, so that a test never has to
guess timings. Every wait here is bounded, so that a trial never outlives its test for long.

Run as a script, this file is the command trial: ``python trials.py --lr=<value>``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workers import AttemptLostError, Task, TrialStopped

#: Upper bound of any wait inside a trial (a test that fails must not leave a trial running long).
MAX_WAIT = 60.0


def _wait_for_file(path: str, timeout: float = MAX_WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def train(task: Task) -> dict[str, Any]:
    """A well-behaved trial: connect() its defaults, print, report a loss per epoch."""
    params = task.connect({"lr": 0.1, "epochs": 3, "optimizer": {"name": "sgd"}})
    assert Task.current_task() is task, "current_task() must be the running trial"
    print(f"training with lr={params['lr']} epochs={params['epochs']} "
          f"optimizer={params['optimizer']['name']}")
    log = task.get_logger()
    loss = 1.0
    for epoch in range(params["epochs"]):
        loss = params["lr"] / (epoch + 1)
        log.report_scalar("validation", "loss", value=loss, iteration=epoch)
    log.report_single_value("accuracy", 0.75)
    print("training done")
    return {"final_loss": loss}


def fail(task: Task) -> None:
    """Prints, reports one point, then raises."""
    print("about to fail")
    task.get_logger().report_scalar("train", "loss", value=1.5, iteration=0)
    _inner_failure(task.get_parameter("code", 42))


def _inner_failure(code: int) -> None:
    raise ValueError(f"boom {code}")


def die_on_first_attempt(task: Task) -> None:
    """SIGKILLs its own pool process on attempt 1; completes on a later attempt."""
    attempt = task.attempts
    print(f"attempt {attempt}")
    if attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(MAX_WAIT)  # not reached
    task.get_logger().report_scalar("train", "attempt", value=float(attempt), iteration=0)


def always_die(task: Task) -> None:
    """A poison trial: SIGKILLs its pool process on every attempt."""
    print(f"attempt {task.attempts}")
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(MAX_WAIT)  # not reached


def zombie(task: Task) -> None:
    """Attempt 1 reports, then waits (bounded) and notes in ``General/marker`` whether it was
    interrupted and whether a late report was refused; a later attempt completes at once."""
    attempt = task.attempts
    log = task.get_logger()
    if attempt > 1:
        log.report_scalar("train", "loss", value=2.0, iteration=attempt)
        print(f"attempt {attempt} done")
        return
    marker = Path(task.get_parameter("marker"))
    log.report_scalar("train", "loss", value=1.0, iteration=attempt)
    try:
        deadline = time.monotonic() + MAX_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.02)
    except AttemptLostError:
        notes = ["interrupted"]
        try:
            log.report_scalar("train", "loss", value=111.0, iteration=99)
        except AttemptLostError:
            notes.append("late report refused")
        marker.write_text(", ".join(notes))
        raise
    marker.write_text("not interrupted")


def hold(task: Task) -> None:
    """Reports iteration 0, then waits for the file ``General/release`` and reports iteration 1."""
    log = task.get_logger()
    log.report_scalar("train", "loss", value=1.0, iteration=0)
    if not _wait_for_file(task.get_parameter("release")):
        raise TimeoutError("never released")
    log.report_scalar("train", "loss", value=0.5, iteration=1)
    print("released")


def hang_on_first_attempt(task: Task) -> None:
    """Attempt 1 reports and then hangs (bounded); a later attempt completes at once."""
    attempt = task.attempts
    log = task.get_logger()
    log.report_scalar("train", "attempt", value=float(attempt), iteration=attempt)
    if attempt == 1:
        time.sleep(MAX_WAIT)
    print(f"finished on attempt {attempt}")


def report_until_stopped(task: Task) -> None:
    """Reports every 20 ms (bounded); says so when it sees TrialStopped, and lets it propagate."""
    log = task.get_logger()
    try:
        for i in range(int(MAX_WAIT / 0.02)):
            log.report_scalar("train", "loss", value=1.0 / (i + 1), iteration=i)
            time.sleep(0.02)
    except TrialStopped as exc:
        print(f"saw TrialStopped: {exc}")
        raise


def ignore_stop(task: Task) -> None:
    """Reports once, then ignores TrialStopped and keeps sleeping (bounded)."""
    try:
        task.get_logger().report_scalar("train", "loss", value=1.0, iteration=0)
        while not task.should_stop():
            time.sleep(0.02)
        task.get_logger().report_scalar("train", "loss", value=0.5, iteration=1)
    except TrialStopped:
        print("ignoring the stop request")
    deadline = time.monotonic() + MAX_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.02)


def quick(task: Task) -> None:
    """Reports one value and returns."""
    task.get_logger().report_scalar("train", "done", value=1.0, iteration=0)


def command_main(argv: list[str]) -> int:
    """The command trial: report ``--lr=<value>`` through ``Task.current_task()``.

    ``--exit=N`` exits with N; ``--loop`` then reports every 20 ms until stopped; ``--silent``
    then sleeps without reporting (bounded); ``--ignore-term`` ignores SIGTERM.
    """
    lr, code = None, 0
    for arg in argv:
        if arg.startswith("--lr="):
            lr = float(arg.split("=", 1)[1])
        elif arg.startswith("--exit="):
            code = int(arg.split("=", 1)[1])
    if "--ignore-term" in argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(f"argv={argv}")
    print(f"HPQ_TASK_ID={os.environ.get('HPQ_TASK_ID', '')}")
    task = Task.current_task()
    if task is None or lr is None:
        print("no current task or no --lr", file=sys.stderr)
        return 3
    print(f"current_task={task.id}")
    task.get_logger().report_scalar("cmd", "lr", value=lr, iteration=0)
    if os.environ.get("HPQ_TASK_ID") != task.id:
        return 4
    if "--loop" in argv:
        try:
            for i in range(1, int(MAX_WAIT / 0.02)):
                task.get_logger().report_scalar("cmd", "loop", value=float(i), iteration=i)
                time.sleep(0.02)
        except TrialStopped as exc:
            print(f"command saw TrialStopped: {exc}", flush=True)
            raise
    if "--silent" in argv:
        print("sleeping without reporting", flush=True)
        time.sleep(MAX_WAIT)
    return code


if __name__ == "__main__":
    sys.exit(command_main(sys.argv[1:]))


def train_with_files(task: Task) -> None:
    """Report a loss for two epochs, saving a checkpoint file and an artifact file each time."""
    params = task.connect({"lr": 0.1})
    work = Path(tempfile.mkdtemp(prefix="hpq-trial-"))
    for epoch in range(2):
        state = work / "state.txt"
        state.write_text(f"{epoch} {params['lr']}")
        task.save_checkpoint(state, iteration=epoch)
        task.get_logger().report_scalar("validation", "loss", value=params["lr"] / (epoch + 1),
                                        iteration=epoch)
    task.upload_artifact("notes", state)
    shutil.rmtree(work)
