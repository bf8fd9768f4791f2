"""Trial dispatchers (controller/dispatch) on fakeredis: trials run in-process, stops and archive
flags through the store, the process's default."""

from __future__ import annotations

import pytest

from controller.dispatch import (
    CeleryDispatcher,
    InProcessDispatcher,
    get_dispatcher,
    set_dispatcher,
)
from tests.unit import trial_fns
from workers import Store, Task, TaskStatus


def queued(store: Store, n: int, entry: str = "quadratic") -> list[Task]:
    base = Task.create("dispatch", entry, entry_point=f"tests.unit.trial_fns:{entry}",
                       parameters={"x": 0.5, "epochs": 1, "sleep": 0.0}, store=store)
    tasks = [Task.clone(base, parameters={"x": i / 10}) for i in range(n)]
    for task in tasks:
        store.transition(task.id, None, [TaskStatus.CREATED], TaskStatus.QUEUED,
                         fields={"queue": "default"})
    return tasks


@pytest.mark.timeout(20)
def test_in_process_trials_run_in_the_order_sent_on_a_pool(store: Store) -> None:
    trial_fns.reset()
    tasks = queued(store, 3)
    dispatcher = InProcessDispatcher(store, threads=1)
    dispatcher.send([t.id for t in tasks], "ignored")
    assert dispatcher.close(timeout=15)
    assert all(t.status is TaskStatus.COMPLETED for t in tasks)
    assert [task_id for task_id, _ in trial_fns.started] == [t.id for t in tasks]
    assert trial_fns.max_running == 1


@pytest.mark.timeout(20)
def test_in_process_trials_each_on_a_thread_and_stopped_through_the_store(store: Store) -> None:
    trial_fns.reset()
    running, waiting = queued(store, 2, "gated")
    dispatcher = InProcessDispatcher(store)
    dispatcher.send([running.id], "ignored")
    running.wait_for_status([TaskStatus.IN_PROGRESS], timeout=10)
    dispatcher.stop(running.id, None, "enough")
    dispatcher.stop(waiting.id, None, "never mind")  # queued: stopped at once
    assert dispatcher.close(timeout=15)
    assert running.status is TaskStatus.STOPPED and running.status_reason == "enough"
    assert waiting.status is TaskStatus.STOPPED and waiting.status_reason == "never mind"
    dispatcher.archive(running.id, True)
    assert running.record["archived"] == "1"
    dispatcher.archive(running.id, False)
    assert running.record["archived"] == "0"


def test_bad_thread_count_and_the_default(store: Store) -> None:
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        InProcessDispatcher(store, threads=0)
    assert isinstance(get_dispatcher(store), CeleryDispatcher)
    mine = InProcessDispatcher(store)
    set_dispatcher(mine)
    try:
        assert get_dispatcher(store) is mine
    finally:
        set_dispatcher(None)
    assert isinstance(get_dispatcher(store), CeleryDispatcher)
