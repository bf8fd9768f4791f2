"""Trial entry points of the chaos tests, run by real Celery workers
(``tests.chaos.trials:<name>``). Every wait is bounded (:data:`MAX_WAIT`)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from workers import Task
from workers.errors import AttemptLostError

#: Upper bound of any wait inside a trial.
MAX_WAIT = 60.0


def steps(task: Task) -> float:
    """Reports ``val/loss`` (a function of ``x``) at iterations 0..2, 50 ms apart; returns it."""
    p = task.connect({"x": 0.5, "pause": 0.05})
    x, pause = float(p["x"]), float(p["pause"])
    log = task.get_logger()
    for it in range(3):
        time.sleep(pause)
        log.report_scalar("val", "loss", value=(x - 0.3) ** 2 + 0.01 * (2 - it), iteration=it)
    task.flush()  # what the writes answered (a lost attempt) is raised here at the latest
    return x


def blocked(task: Task) -> None:
    """Reports once, then sleeps in one C call (bounded by :data:`MAX_WAIT`): an exception sent
    to its thread (the stop's interrupt) waits for the call to return."""
    task.get_logger().report_scalar("val", "loss", value=1.0, iteration=0)
    time.sleep(MAX_WAIT)


def dies_after_reporting(task: Task) -> None:
    """Reports ``val/loss`` at iterations 0..2 -- attempt 1 tiny values, then it SIGKILLs its
    own pool process; a later attempt 1.0, 0.9, 0.8 and completes."""
    attempt = task.attempts
    log = task.get_logger()
    for it in range(3):
        value = 0.001 * (it + 1) if attempt == 1 else 1.0 - 0.1 * it
        log.report_scalar("val", "loss", value=value, iteration=it)
    if attempt == 1:
        task.flush()  # the reports are written (behind the calls) before the process dies
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(MAX_WAIT)  # not reached


def noted_steps(task: Task) -> float:
    """:func:`steps`; an attempt that loses the trial (declared dead while cut off from Redis)
    tries one more report, and writes to ``General/notes``/``<task id>.<attempt>`` what
    happened: ``interrupted`` and, if that report was refused, ``, late report refused``."""
    attempt = task.attempts
    notes = Path(task.get_parameter("notes"))
    try:
        return steps(task)
    except AttemptLostError:
        said = ["interrupted"]
        try:
            task.get_logger().report_scalar("val", "loss", value=999.0, iteration=99)
        except AttemptLostError:
            said.append("late report refused")
        (notes / f"{task.id}.{attempt}").write_text(", ".join(said))
        raise
