"""Trial entry points for tests/unit/test_optimizer.py (run in-process by TrialRunner threads).

Every trial reads its parameters with ``task.connect`` and is addressed as
``tests.unit.trial_fns:<name>``. Waits and loops are bounded (``MAX_SECONDS``) so that a trial
never outlives a failed test for long; a stop request reaches a trial as ``TrialStopped`` raised
by ``report_scalar`` / ``check_stop``.
"""

from __future__ import annotations

import threading
import time

from workers import Task

#: Upper bound of any trial's run time.
MAX_SECONDS = 30.0

#: Objective values ``val/loss`` at iterations 0 and 1 of :func:`shaped`.
SHAPES = {"dip": [0.1, 5.0], "flat": [1.0, 1.0], "peak": [9.0, 0.5]}

_lock = threading.Lock()
_running = 0
#: Largest number of trials executing at the same time (reset by the tests).
max_running = 0
#: Every trial that started, in order: (task id, parameters).
started: list[tuple[str, dict]] = []
_gates: dict[str, threading.Event] = {}
_all_open = threading.Event()


def reset() -> None:
    """Forget counters and close every gate."""
    global _running, max_running
    with _lock:
        _running = 0
        max_running = 0
        started.clear()
        _gates.clear()
        _all_open.clear()


def running() -> int:
    with _lock:
        return _running


def _key(x: float) -> str:
    return f"{float(x):g}"


def _gate(key: str) -> threading.Event:
    with _lock:
        return _gates.setdefault(key, threading.Event())


def release(x: float | None = None) -> None:
    """Let :func:`gated` trials with this ``x`` end (every one, now and later, when None)."""
    if x is None:
        _all_open.set()
    else:
        _gate(_key(x)).set()


class _Running:
    """Counts the trials executing right now."""

    def __init__(self, task: Task, params: dict) -> None:
        self.task = task
        self.params = dict(params)

    def __enter__(self) -> None:
        global _running, max_running
        with _lock:
            _running += 1
            max_running = max(max_running, _running)
            started.append((self.task.id, self.params))

    def __exit__(self, *exc: object) -> None:
        global _running
        with _lock:
            _running -= 1


def _sleep(seconds: float) -> None:
    """Sleep in small steps (an asynchronous exception is delivered between them)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(0.01, max(0.0, end - time.monotonic())))


def loss_of(x: float, epoch: int) -> float:
    """The toy objective: best at x = 0.3, improving with epochs."""
    return (x - 0.3) ** 2 + 1.0 / (epoch + 1)


def quadratic(task: Task) -> float:
    """Reports ``val/loss`` (and ``val/acc = 1 - loss``) once per epoch, sleeping in between."""
    p = task.connect({"x": 0.5, "epochs": 2, "sleep": 0.0})
    log = task.get_logger()
    loss = 0.0
    with _Running(task, p):
        for epoch in range(int(p["epochs"])):
            loss = loss_of(float(p["x"]), epoch)
            log.report_scalar("val", "loss", value=loss, iteration=epoch)
            log.report_scalar("val", "acc", value=1.0 - loss, iteration=epoch)
            if p["sleep"]:
                _sleep(float(p["sleep"]))
    return loss


def integer_objective(task: Task) -> None:
    """Reports an integer objective ``val/loss = n`` at iteration 7."""
    p = task.connect({"n": 3})
    with _Running(task, p):
        task.get_logger().report_scalar("val", "loss", value=int(p["n"]), iteration=7)


def shaped(task: Task) -> None:
    """Reports ``val/loss`` = ``SHAPES[shape]`` at iterations 0 and 1 (last vs best differ)."""
    p = task.connect({"shape": "flat"})
    with _Running(task, p):
        for it, value in enumerate(SHAPES[p["shape"]]):
            task.get_logger().report_scalar("val", "loss", value=value, iteration=it)


def pareto(task: Task) -> None:
    """``point = "a,b"``: reports ``val/a = a`` and ``val/b = b``."""
    p = task.connect({"point": "1,1"})
    a, b = (float(v) for v in p["point"].split(","))
    with _Running(task, p):
        task.get_logger().report_scalar("val", "a", value=a, iteration=0)
        task.get_logger().report_scalar("val", "b", value=b, iteration=0)


def by_kind(task: Task) -> float | None:
    """Behaviour chosen by ``General/kind``:

    ``ok`` reports ``val/loss = x``; ``fail`` reports a better value then raises; ``crash``
    raises without reporting; ``silent`` ends without reporting; ``other`` reports only another
    metric; ``nan`` reports a NaN objective.
    """
    p = task.connect({"kind": "ok", "x": 1.0})
    log = task.get_logger()
    with _Running(task, p):
        kind = p["kind"]
        if kind == "ok":
            log.report_scalar("val", "loss", value=float(p["x"]), iteration=0)
            return float(p["x"])
        if kind == "fail":
            log.report_scalar("val", "loss", value=float(p["x"]) - 100.0, iteration=0)
            raise RuntimeError("trial failed after reporting")
        if kind == "crash":
            raise RuntimeError("trial failed before reporting")
        if kind == "other":
            log.report_scalar("train", "loss", value=0.0, iteration=0)
        if kind == "nan":
            log.report_scalar("val", "loss", value=float("nan"), iteration=0)
        return None


def loop(task: Task) -> None:
    """Reports ``val/loss`` every ``period`` seconds (iteration 0, 1, ...) until stopped."""
    p = task.connect({"x": 0.5, "period": 0.02})
    log = task.get_logger()
    end = time.monotonic() + MAX_SECONDS
    it = 0
    with _Running(task, p):
        while time.monotonic() < end:
            log.report_scalar("val", "loss", value=loss_of(float(p["x"]), it), iteration=it)
            it += 1
            _sleep(float(p["period"]))


def gated(task: Task) -> float:
    """Reports ``val/loss = x`` at iteration 0, waits for ``release(x)`` (or a stop), reports
    iteration 1 and ends. A gate holds a job running while a test looks at the controller."""
    p = task.connect({"x": 0.5})
    x = float(p["x"])
    log = task.get_logger()
    gate = _gate(_key(x))
    with _Running(task, p):
        log.report_scalar("val", "loss", value=x, iteration=0)
        end = time.monotonic() + MAX_SECONDS
        while not (gate.is_set() or _all_open.is_set()) and time.monotonic() < end:
            _sleep(0.01)
            task.check_stop()
        log.report_scalar("val", "loss", value=x, iteration=1)
    return x


def optimizer_in_a_trial(task: Task) -> str:
    """A trial that runs an optimization, as ClearML's optimizer script run by an agent: the
    optimizer adopts the running task (``Task.current_task()``) as its record."""
    from controller import DiscreteParameterRange, GridSearch, HyperParameterOptimizer

    p = task.connect({"base": ""})
    done: list[str] = []
    opt = HyperParameterOptimizer(
        p["base"], [DiscreteParameterRange("General/x", [0.1, 0.2, 0.3])], "val", "loss", "min",
        optimizer_class=GridSearch, max_number_of_concurrent_tasks=2, pool_period_min=0.01)
    opt.start(job_complete_callback=lambda job_id, *_: done.append(job_id))
    if not opt.wait(timeout=0.5):
        opt.stop()
        raise TimeoutError("the inner optimization did not end")
    best = opt.get_top_experiments(1)[0]
    task.get_logger().report_scalar("hpo", "best", value=best.get_parameter("x"), iteration=0)
    task.get_logger().report_scalar("hpo", "callbacks", value=len(done), iteration=0)
    print(f"optimizer {opt.id} ended: {opt.end_reason}; {len(done)} callbacks")
    return best.id
