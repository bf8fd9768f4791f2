"""Status moves: every move is a compare-and-set that says whether it won."""

from __future__ import annotations

import pytest

from workers import StatusConflictError, Store, Task, TaskStatus
from workers.sweep import sweep_stale

ENTRY = "tests.unit.sample_entry:train"


@pytest.fixture
def clone(store: Store) -> Task:
    base = Task.create(project="p", name="b", entry_point=ENTRY)
    return Task.clone(base)


def queue_it(store: Store, t: Task) -> None:
    won, prev = store.transition(t.id, t.parent, [TaskStatus.CREATED], TaskStatus.QUEUED,
                                 fields={"queue": "default"})
    assert won and prev == "created"


def test_transition_is_cas(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    won, prev = store.transition(clone.id, clone.parent, [TaskStatus.CREATED], TaskStatus.QUEUED)
    assert not won and prev == "queued"
    assert store.transition("missing", None, [TaskStatus.CREATED], TaskStatus.QUEUED) == (False, "")


def test_claim_only_once(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    first = store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    second = store.claim(clone.id, clone.parent, "b", "h:2", now=100.5)
    assert first.outcome == "claimed" and first.attempts == 1
    assert second.outcome == "busy" and second.attempt == "a" and second.worker == "h:1"
    assert clone.status is TaskStatus.IN_PROGRESS and clone.started == 100.0


def test_finish_by_owner_only(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1")
    assert not store.finish(clone.id, clone.parent, "zzz", TaskStatus.COMPLETED)
    assert store.finish(clone.id, clone.parent, "a", TaskStatus.COMPLETED, now=200.0)
    assert not store.finish(clone.id, clone.parent, "a", TaskStatus.FAILED)
    assert clone.status is TaskStatus.COMPLETED and clone.completed == 200.0


def test_stop_queued_never_starts(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    assert clone.mark_stopped() == "stopped"
    assert clone.status is TaskStatus.STOPPED
    assert store.claim(clone.id, clone.parent, "a", "h:1").outcome == "done"
    assert clone.mark_stopped() == "final"


def test_enqueue_only_from_created(store: Store, clone: Task,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    sent = []
    monkeypatch.setattr("workers.app.send_trial", lambda tid, q, parent: sent.append((tid, q)))
    clone.enqueue("gpu")
    assert sent == [(clone.id, "gpu")] and clone.status is TaskStatus.QUEUED
    with pytest.raises(StatusConflictError, match="only a created task"):
        clone.enqueue("gpu")


def test_enqueue_rolls_back_when_send_fails(store: Store, clone: Task,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(tid: str, q: str, parent: str | None) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("workers.app.send_trial", boom)
    with pytest.raises(ConnectionError):
        clone.enqueue()
    assert clone.status is TaskStatus.CREATED


def test_heartbeat_and_dead_attempt(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    assert store.heartbeat(clone.id, "a", now=101.0) == (True, "")
    assert store.declare_dead(clone.id, clone.parent, "a", reason="x", stale_before=100.5) == ""
    assert store.declare_dead(clone.id, clone.parent, "b", reason="x", stale_before=1e9) == ""
    assert store.declare_dead(clone.id, clone.parent, "a", reason="x", stale_before=102) == "queued"
    assert store.heartbeat(clone.id, "a") == (False, "")
    again = store.claim(clone.id, clone.parent, "c", "h:2")
    assert again.outcome == "claimed" and again.attempts == 2


def test_attempts_are_bounded(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    outcomes = []
    for i in range(store.settings.max_attempts + 1):
        claim = store.claim(clone.id, clone.parent, f"t{i}", "h:1", now=float(i))
        outcomes.append(claim.outcome)
        if claim.outcome == "claimed":
            store.declare_dead(clone.id, clone.parent, f"t{i}", reason="lost", stale_before=1e9)
    assert outcomes[:-1] == ["claimed"] * store.settings.max_attempts
    assert clone.status is TaskStatus.FAILED
    assert "gave up" in clone.status_reason


def test_sweep_requeues_and_resends(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    sent: list[tuple[str, str]] = []
    assert sweep_stale(store, now=102.0, send=lambda t, q, parent: sent.append((t, q))) == []
    ended = sweep_stale(store, now=100.0 + store.settings.heartbeat_grace + 1,
                        send=lambda t, q, parent: sent.append((t, q)))
    assert ended == [(clone.id, "queued")] and sent == [(clone.id, "default")]
    assert clone.status is TaskStatus.QUEUED


def test_stop_pending_when_worker_lost_ends_stopped(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    clone.mark_stopped("time limit")
    assert store.declare_dead(clone.id, clone.parent, "a", reason="lost", stale_before=1e9) \
        == "stopped"
    assert clone.status is TaskStatus.STOPPED


def test_parameters_frozen_once_queued(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    with pytest.raises(StatusConflictError, match="queued"):
        clone.set_parameters({"General/lr": 1.0})
