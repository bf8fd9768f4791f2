"""A trial's reports are sent on the process's report pipe and their replies read later
(workers/reporting.py): whatever happens to the connection or the server's script cache in
between, every point is stored once, and the scalar events come in the order reported."""

from __future__ import annotations

import fakeredis
import pytest

from workers import Store, Task


def report_range(task: Task, first: int, last: int) -> None:
    log = task.get_logger()
    for it in range(first, last):
        log.report_scalar("v", "loss", value=float(it), iteration=it)


def assert_stored_once_in_order(store: Store, task: Task, parent: str, n: int) -> None:
    assert task.flush(timeout=30)
    history = store.history(task.id)["v"]["loss"]
    assert sorted(history["x"]) == list(range(n))
    events = [e for e in store.read_events(parent, "0-0", count=10 * n) if e.kind == "scalar"]
    assert [int(e.fields["iter"]) for e in events] == list(range(n))


def test_reports_outlive_a_script_flush(store: Store, running: tuple[Task, str]) -> None:
    task, parent = running
    report_range(task, 0, 50)
    store.redis.script_flush()  # a restarted server's empty script cache: NOSCRIPT replies
    report_range(task, 50, 100)
    assert_stored_once_in_order(store, task, parent, 100)


def test_reports_are_sent_again_on_a_new_connection(store: Store,
                                                    running: tuple[Task, str]) -> None:
    if isinstance(store.redis, fakeredis.FakeRedis):
        pytest.skip("fakeredis has no CLIENT KILL")
    task, parent = running
    report_range(task, 0, 50)
    store.redis.client_kill_filter(_type="normal", skipme=True)  # the pipe's connection too
    report_range(task, 50, 100)
    assert_stored_once_in_order(store, task, parent, 100)
