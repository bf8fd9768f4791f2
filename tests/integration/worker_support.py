"""What the tests of the execution layer share (tests/integration/test_workers.py and the
chaos tests of worker faults): trials of :mod:`tests.integration.trials`, their events, real
worker processes."""

from __future__ import annotations

from typing import Any

from workers import Store, Task, TaskStatus
from workers.local import LocalWorkers
from workers.store import Event

PROJECT = "integration"


def entry(name: str) -> str:
    return f"tests.integration.trials:{name}"


def make_clone(trial: str, parameters: dict[str, Any] | None = None, **create: Any) -> Task:
    """A base task running ``trials:<trial>`` and a clone of it (the clone is what runs)."""
    base = Task.create(PROJECT, trial, entry_point=entry(trial), **create)
    return Task.clone(base, name=f"{trial} clone", parameters=parameters)


def events_of(store: Store, task: Task) -> list[Event]:
    """Every event of ``task`` in its parent's stream, oldest first."""
    out: list[Event] = []
    cursor = "0-0"
    while True:
        batch = store.read_events(task.parent, cursor)
        if not batch:
            return [e for e in out if e.task_id == task.id]
        out += batch
        cursor = batch[-1].id


def statuses_of(store: Store, task: Task) -> list[str]:
    return [e.fields["status"] for e in events_of(store, task) if e.kind == "status"]


def final_statuses_of(store: Store, task: Task) -> list[str]:
    return [s for s in statuses_of(store, task) if TaskStatus(s).is_final]


def has_scalar(task: Task, title: str, series: str, iteration: int = 0) -> bool:
    history = task.get_reported_scalars().get(title, {}).get(series, {"x": []})
    return iteration in history["x"]


def start_workers(store: Store, queue: str, concurrency: int) -> LocalWorkers:
    workers = LocalWorkers([queue], concurrency=concurrency, url=store.url)
    try:
        workers.wait_ready(timeout=60)
    except BaseException:
        workers.stop(timeout=10)
        raise
    return workers
