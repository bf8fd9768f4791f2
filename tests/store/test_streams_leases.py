"""Event streams and leases, on both engines."""

from __future__ import annotations

import threading
import time

from tests.helpers import SAMPLE_ENTRY as ENTRY
from tests.helpers import queue_it
from workers import Store, Task, TaskStatus


def test_events_with_cursor(store: Store) -> None:
    base = Task.create(project="p", name="b", entry_point=ENTRY)
    task = Task.clone(base)
    queue_it(store, task)
    store.claim(task.id, task.parent, "tok", "h:1")
    events = store.read_events(base.id)
    assert [(e.kind, e.status) for e in events] == [("status", TaskStatus.QUEUED),
                                                    ("status", TaskStatus.IN_PROGRESS)]
    assert all(e.task_id == task.id for e in events)
    cursor = events[-1].id
    store.report(task.id, task.parent, "tok", "v", "loss", 7, 0.25)
    (new,) = store.read_events(base.id, cursor)
    assert new.kind == "scalar" and new.task_id == task.id and new.status is None
    assert new.value == 0.25 and new.iteration == 7
    assert store.read_events(base.id, new.id) == []
    assert store.read_events(base.id, count=1) == events[:1]


def test_a_task_without_parent_writes_to_the_root_stream(store: Store) -> None:
    orphan = Task.create(project="p", name="o", entry_point=ENTRY)
    queue_it(store, orphan)
    (event,) = store.read_events(None)
    assert (event.task_id, event.status) == (orphan.id, TaskStatus.QUEUED)
    assert store.keys.events(None).endswith(":events:root")


def test_blocking_read_wakes_on_a_control_event(store: Store) -> None:
    assert store.read_events("opt", block_ms=20) == []  # waits, then nothing
    timer = threading.Timer(0.1, store.post_control, ("opt", "stop"))
    timer.start()
    try:
        (event,) = store.read_events("opt", "$", block_ms=5000)  # [] had it timed out
    finally:
        timer.join()
    assert (event.kind, event.task_id, event.fields["command"]) == ("control", "", "stop")
    assert event.status is None and event.stats is None


def test_status_event_added_in_a_caller_transaction(store: Store) -> None:
    pipe = store.redis.pipeline(transaction=True)
    store.add_status_event(pipe, "t1", "opt", "queued", "created")
    pipe.execute()
    (event,) = store.read_events("opt")
    assert (event.task_id, event.status, event.fields["prev"], event.fields["reason"]) == (
        "t1", TaskStatus.QUEUED, "created", "")


def holder(store: Store, key: str) -> tuple[str | None, float]:
    """(owner, seconds left) of a lease, read straight from Redis."""
    return store.redis.get(key), max(store.redis.pttl(key), 0) / 1000.0


def test_leases(store: Store) -> None:
    key = f"{store.keys.ns}:lease:o1"
    assert holder(store, key) == (None, 0.0)
    assert store.acquire_lease(key, "a", 10.0)
    assert store.acquire_lease(key, "a", 10.0)  # the owner again: renewed
    assert not store.acquire_lease(key, "b", 10.0)
    owner, left = holder(store, key)
    assert owner == "a" and 0 < left <= 10.0
    assert not store.renew_lease(key, "b", 10.0)
    assert store.renew_lease(key, "a", 20.0) and holder(store, key)[1] > 10.0
    store.release_lease(key, "b")  # not b's to release
    assert holder(store, key)[0] == "a"
    store.release_lease(key, "a")
    assert holder(store, key) == (None, 0.0)
    assert store.renew_lease(key, "b", 10.0)  # a free lease is taken by renewing it
    assert holder(store, key)[0] == "b"


def test_an_expired_lease_is_free(store: Store) -> None:
    key = f"{store.keys.ns}:lease:o2"
    assert store.acquire_lease(key, "a", 0.05)
    deadline = time.monotonic() + 5
    while holder(store, key)[0] is not None:
        assert time.monotonic() < deadline, "the lease did not expire"
        time.sleep(0.02)
    assert store.acquire_lease(key, "b", 10.0)
