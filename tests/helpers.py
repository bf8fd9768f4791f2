"""Helpers shared by the test modules."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from workers import Store, Task, TaskStatus

if TYPE_CHECKING:
    from controller import HyperParameterOptimizer
    from workers.local import LocalWorkers

T = TypeVar("T")

#: an entry point that imports (trials run in tests/integration use their own)
SAMPLE_ENTRY = "tests.unit.sample_entry:train"
#: Run a test on both Celery brokers (the ``broker`` fixture of tests/conftest.py): the store's
#: Redis, and RabbitMQ (marked ``rabbitmq``; skipped when no RabbitMQ answers).
BOTH_BROKERS = pytest.mark.parametrize(
    "broker", ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)], indirect=True)


def wait_until(predicate: Callable[[], T], timeout: float, what: str, poll: float = 0.02) -> T:
    """The first truthy value of ``predicate()``; AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)


def make_base(**overrides: Any) -> Task:
    """A base task on the default store: project ``p``, name ``train``, three parameters."""
    args: dict[str, Any] = {"project": "p", "name": "train", "entry_point": SAMPLE_ENTRY,
                            "parameters": {"General/lr": 0.1, "General/epochs": 3,
                                           "Args/opt": "adam"}}
    return Task.create(**{**args, **overrides})


def queue_it(store: Store, task: Task) -> None:
    """Move ``task`` created -> queued on queue ``default``."""
    assert store.transition(task.id, task.parent, [TaskStatus.CREATED], TaskStatus.QUEUED,
                            fields={"queue": "default"}) == (True, "created")


def status_events(store: Store, parent: str | None) -> list[tuple[str, str, str, str]]:
    """``(task, status, prev, reason)`` of every status event in ``parent``'s stream."""
    return [(e.task_id, e.fields["status"], e.fields["prev"], e.fields["reason"])
            for e in store.read_events(parent) if e.kind == "status"]


def final_events(store: Store, parent: str) -> Counter[str]:
    """Number of final-status events per child of ``parent`` in its event stream."""
    counts: Counter[str] = Counter()
    cursor = "0-0"
    while batch := store.read_events(parent, cursor):
        cursor = batch[-1].id
        counts.update(e.task_id for e in batch
                      if e.kind == "status" and e.status is not None and e.status.is_final)
    return counts


class Crash(BaseException):
    """Ends the driver's loop as abruptly as a kill would (no final report)."""


def crash(opt: HyperParameterOptimizer) -> None:
    """Kill the controller thread between two passes of its loop, without finalizing."""
    opt._finalize = lambda: None  # type: ignore[method-assign]
    driver = opt._driver
    assert driver is not None

    def boom() -> bool:
        raise Crash()

    driver._step = boom  # type: ignore[method-assign]
    driver.store.post_control(opt.id, "wake")  # end the blocking read now
    assert opt._thread is not None
    opt._thread.join(10)
    assert not opt._thread.is_alive() and isinstance(driver.error, Crash)


@contextmanager
def running_workers(url: str, queue: str, concurrency: int) -> Iterator[LocalWorkers]:
    """Real Celery prefork worker processes (``concurrency`` of them) consuming ``queue``,
    ready when the block starts, stopped when it ends."""
    from workers.local import LocalWorkers

    workers = LocalWorkers([queue], concurrency=concurrency, url=url)
    try:
        workers.wait_ready(timeout=60)
        yield workers
    finally:
        workers.stop(timeout=30)
