"""The heartbeat interrupts a callable trial only while it runs, never the code after it."""

from __future__ import annotations

import dataclasses
import threading
import time

from workers import Store, Task, TaskStatus
from workers.runner import TrialRunner


def test_heartbeat_never_interrupts_a_thread_after_its_trial_ended(store: Store) -> None:
    # a heartbeat every 0.5 ms: its check that the attempt is no longer alive (the trial just
    # finished) used to raise AttemptLostError in whatever the thread ran next
    store.settings = dataclasses.replace(store.settings, heartbeat_interval=0.0005)
    base = Task.create("p", "b", entry_point="tests.unit.sample_entry:train",
                       parameters={"lr": 0.1})
    late: list[BaseException] = []
    outcomes: list[str] = []

    def worker(task_id: str) -> None:
        try:
            outcomes.append(TrialRunner(store, task_id).run())
            time.sleep(0.005)  # the worker goes on with something else
        except BaseException as exc:  # noqa: BLE001 - what the test looks for
            late.append(exc)

    threads: list[threading.Thread] = []
    for _ in range(120):
        clone = Task.clone(base)
        store.transition(clone.id, clone.parent, [TaskStatus.CREATED], TaskStatus.QUEUED)
        thread = threading.Thread(target=worker, args=(clone.id,))
        thread.start()
        threads.append(thread)
        if len(threads) >= 8:
            threads.pop(0).join(10)
    for thread in threads:
        thread.join(10)
    assert late == []
    assert outcomes == ["completed"] * 120
