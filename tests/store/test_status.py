"""Status moves, on both engines: every move is a compare-and-set that says whether it won,
writes nothing when it lost, and appends its event to the parent's stream in the same step."""

from __future__ import annotations

import pytest

from tests.helpers import SAMPLE_ENTRY as ENTRY
from tests.helpers import queue_it, status_events
from workers import StatusConflictError, Store, Task, TaskStatus
from workers.outcomes import ClaimOutcome, StopOutcome
from workers.sweep import sweep_stale


def heartbeats(store: Store) -> dict[str, float]:
    return dict(store.stale_attempts(float("inf")))


# ------------------------------------------------------------------ transition
def test_transition_is_cas(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    assert store.transition(clone.id, clone.parent, [TaskStatus.CREATED],
                            TaskStatus.QUEUED) == (False, "queued")
    assert store.transition("missing", None, [TaskStatus.CREATED], TaskStatus.QUEUED) == (
        False, "")
    rec = store.record(clone.id)
    assert rec.status is TaskStatus.QUEUED and rec.queue == "default"
    assert rec.completed is None and rec.last_update is not None
    assert status_events(store, clone.parent) == [(clone.id, "queued", "created", "")]


def test_transition_to_a_final_status_ends_the_attempt(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    assert clone.id in heartbeats(store)
    won, prev = store.transition(clone.id, clone.parent, [TaskStatus.IN_PROGRESS],
                                 TaskStatus.FAILED, reason="broken", fields={"error": "E: x"},
                                 now=150.0)
    assert (won, prev) == (True, "in_progress")
    rec = store.record(clone.id)
    assert (rec.status, rec.status_reason, rec.completed, rec.error) == (
        TaskStatus.FAILED, "broken", 150.0, "E: x")
    assert clone.id not in heartbeats(store)
    assert status_events(store, clone.parent)[-1] == (clone.id, "failed", "in_progress", "broken")


# ---------------------------------------------------------------------- claim
def test_claim_returns_the_record_and_starts_the_attempt(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    claim = store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.attempts == 1
    rec = claim.record
    assert rec is not None and rec.id == clone.id and rec.parent == clone.parent
    assert (rec.status, rec.attempt, rec.worker, rec.attempts) == (
        TaskStatus.IN_PROGRESS, "a", "h:1", 1)
    assert rec.started == 100.0 and rec.heartbeat == 100.0 and rec.entry_point == ENTRY
    assert heartbeats(store) == {clone.id: 100.0}
    (event,) = [e for e in store.read_events(clone.parent) if e.status is TaskStatus.IN_PROGRESS]
    assert event.fields["prev"] == "queued" and event.fields["attempt"] == "1"


def test_claim_only_once(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    first = store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    second = store.claim(clone.id, clone.parent, "b", "h:2", now=100.5)
    assert first.outcome is ClaimOutcome.CLAIMED and first.attempts == 1
    assert second.outcome is ClaimOutcome.BUSY
    assert (second.attempt, second.heartbeat, second.worker) == ("a", 100.0, "h:1")
    assert clone.status is TaskStatus.IN_PROGRESS and clone.started == 100.0


def test_claim_of_a_finished_or_unknown_record(store: Store, clone: Task) -> None:
    created = store.claim(clone.id, clone.parent, "a", "h:1")
    assert (created.outcome, created.status) == (ClaimOutcome.DONE, TaskStatus.CREATED)
    assert store.claim("nope", None, "a", "h:1").outcome is ClaimOutcome.MISSING
    assert store.record(clone.id).attempts == 0


def test_claim_naming_another_parent_writes_nothing(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    claim = store.claim(clone.id, "someone-else", "a", "h:1")
    assert (claim.outcome, claim.parent) == (ClaimOutcome.PARENT, clone.parent)
    assert store.record(clone.id).status is TaskStatus.QUEUED
    assert store.read_events("someone-else") == []
    orphan = Task.create(project="p", name="o", entry_point=ENTRY)
    store.transition(orphan.id, None, [TaskStatus.CREATED], TaskStatus.QUEUED)
    claim = store.claim(orphan.id, clone.parent, "a", "h:1")
    assert (claim.outcome, claim.parent) == (ClaimOutcome.PARENT, None)
    assert store.claim(orphan.id, None, "a", "h:1").outcome is ClaimOutcome.CLAIMED


def test_claim_of_a_record_stopped_while_queued(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.set_fields(clone.id, {"stop": "budget used"})  # a stop flag a crash left queued
    assert store.claim(clone.id, clone.parent, "a", "h:1").outcome is ClaimOutcome.STOPPED
    rec = store.record(clone.id)
    assert (rec.status, rec.status_reason, rec.started) == (TaskStatus.STOPPED, "budget used",
                                                            None)
    assert status_events(store, clone.parent)[-1] == (clone.id, "stopped", "queued",
                                                      "budget used")


def test_attempts_are_bounded(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    outcomes = []
    for i in range(store.settings.max_attempts + 1):
        claim = store.claim(clone.id, clone.parent, f"t{i}", "h:1", now=float(i))
        outcomes.append(claim.outcome)
        if claim.outcome is ClaimOutcome.CLAIMED:
            assert claim.attempts == i + 1
            store.declare_dead(clone.id, clone.parent, f"t{i}", reason="lost", stale_before=1e9)
    # the last attempt's death fails the record: the next delivery finds it done
    assert outcomes == [ClaimOutcome.CLAIMED] * store.settings.max_attempts + [ClaimOutcome.DONE]
    assert clone.status is TaskStatus.FAILED
    assert clone.status_reason == f"lost; gave up after {store.settings.max_attempts} attempts"


def test_claim_out_of_attempts_fails_the_record(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    max_attempts = store.settings.max_attempts
    store.set_fields(clone.id, {"attempts": str(max_attempts)})  # requeued after its last one
    assert store.claim(clone.id, clone.parent, "a", "h:1").outcome is ClaimOutcome.FAILED
    rec = store.record(clone.id)
    assert (rec.status, rec.attempts, rec.attempt) == (TaskStatus.FAILED, max_attempts, "")
    reason = f"gave up after {max_attempts} attempts: worker lost"
    assert status_events(store, clone.parent)[-1] == (clone.id, "failed", "queued", reason)


# ---------------------------------------------------- heartbeat and dead attempts
def test_heartbeat_of_the_owner_only(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    assert store.heartbeat(clone.id, "a", now=101.0) == (True, "")
    assert heartbeats(store) == {clone.id: 101.0} and store.record(clone.id).heartbeat == 101.0
    assert store.heartbeat(clone.id, "b", now=102.0) == (False, "")
    assert heartbeats(store) == {clone.id: 101.0}
    clone.mark_stopped("enough")
    assert store.heartbeat(clone.id, "a", now=103.0) == (True, "enough")
    assert store.stale_attempts(103.0) == [] and store.stale_attempts(104.0) == [(clone.id, 103.0)]


def test_declare_dead_requeues_a_stale_attempt(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    store.heartbeat(clone.id, "a", now=101.0)
    assert store.declare_dead(clone.id, clone.parent, "a", reason="x", stale_before=100.5) is None
    assert store.declare_dead(clone.id, clone.parent, "b", reason="x", stale_before=1e9) is None
    assert store.declare_dead(clone.id, clone.parent, "a", reason="lost",
                              stale_before=102) is TaskStatus.QUEUED
    rec = store.record(clone.id)
    assert (rec.status, rec.attempt, rec.status_reason) == (TaskStatus.QUEUED, "", "lost")
    assert heartbeats(store) == {}
    assert status_events(store, clone.parent)[-1] == (clone.id, "queued", "in_progress", "lost")
    assert store.heartbeat(clone.id, "a") == (False, "")
    assert store.finish(clone.id, clone.parent, "a", TaskStatus.COMPLETED) is False
    again = store.claim(clone.id, clone.parent, "c", "h:2")
    assert again.outcome is ClaimOutcome.CLAIMED and again.attempts == 2
    assert again.record is not None and again.record.started == 100.0  # the first start stays


def test_a_retry_sets_the_dead_attempts_scalars_apart(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    for it, value in enumerate([0.3, 0.1]):
        store.report(clone.id, clone.parent, "a", "val", "loss", it, value)
    store.declare_dead(clone.id, clone.parent, "a", reason="lost", stale_before=1e9)
    store.claim(clone.id, clone.parent, "b", "h:2")
    assert store.metrics(clone.id) == {} and store.history(clone.id) == {}
    # the same iterations again: stored (not duplicates of the dead attempt's)
    store.report(clone.id, clone.parent, "b", "val", "loss", 0, 0.9)
    assert store.metric(clone.id, "val", "loss") == {"last": 0.9, "min": 0.9, "max": 0.9,
                                                     "iteration": 0}
    assert store.history(clone.id) == {"val": {"loss": {"x": [0], "y": [0.9]}}}
    assert store.history(clone.id, attempt=1) == {"val": {"loss": {"x": [0, 1],
                                                                   "y": [0.3, 0.1]}}}
    assert store.history(clone.id, attempt=2) == {}


def test_stop_pending_when_worker_lost_ends_stopped(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    clone.mark_stopped("time limit")
    assert store.declare_dead(clone.id, clone.parent, "a", reason="lost",
                              stale_before=1e9) is TaskStatus.STOPPED
    rec = store.record(clone.id)
    assert (rec.status, rec.status_reason) == (TaskStatus.STOPPED, "time limit")
    assert rec.completed is not None


def test_sweep_requeues_and_resends(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1", now=100.0)
    sent: list[tuple[str, str, str | None]] = []

    def send(task_id: str, queue: str, parent: str | None = None) -> None:
        sent.append((task_id, queue, parent))

    assert sweep_stale(store, now=102.0, send=send) == []
    ended = sweep_stale(store, now=100.0 + store.settings.heartbeat_grace + 1, send=send)
    assert ended == [(clone.id, TaskStatus.QUEUED)]
    assert sent == [(clone.id, "default", clone.parent)]
    assert clone.status is TaskStatus.QUEUED


# ---------------------------------------------------------------------- finish
def test_finish_by_owner_only(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1")
    assert not store.finish(clone.id, clone.parent, "zzz", TaskStatus.COMPLETED)
    assert store.finish(clone.id, clone.parent, "a", TaskStatus.COMPLETED, now=200.0,
                        fields={"output": "done\n", "result": "[1, 2]"})
    assert not store.finish(clone.id, clone.parent, "a", TaskStatus.FAILED)
    rec = store.record(clone.id)
    assert (rec.status, rec.completed, rec.output, rec.result) == (
        TaskStatus.COMPLETED, 200.0, "done\n", [1, 2])
    assert heartbeats(store) == {}
    assert [e[1] for e in status_events(store, clone.parent)] == ["queued", "in_progress",
                                                                  "completed"]


# ---------------------------------------------------------------- stop requests
def test_stop_queued_never_starts(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    assert store.request_stop(clone.id, clone.parent, "not needed") is StopOutcome.STOPPED
    rec = store.record(clone.id)
    assert (rec.status, rec.status_reason, rec.stop) == (TaskStatus.STOPPED, "not needed",
                                                         "not needed")
    assert status_events(store, clone.parent)[-1] == (clone.id, "stopped", "queued",
                                                      "not needed")
    assert store.claim(clone.id, clone.parent, "a", "h:1").outcome is ClaimOutcome.DONE
    assert store.request_stop(clone.id, clone.parent, "again") is StopOutcome.FINAL
    assert store.record(clone.id).stop == "not needed"


def test_stop_of_a_running_task_is_a_flag(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    store.claim(clone.id, clone.parent, "a", "h:1")
    events_before = len(store.read_events(clone.parent))
    assert store.request_stop(clone.id, clone.parent, "") is StopOutcome.FLAGGED
    rec = store.record(clone.id)
    assert (rec.status, rec.stop) == (TaskStatus.IN_PROGRESS, "stop requested")
    assert len(store.read_events(clone.parent)) == events_before  # the trial ends it
    assert store.request_stop("nope", None, "x") is StopOutcome.MISSING


def test_task_stop_and_its_outcomes(store: Store, clone: Task) -> None:
    assert clone.mark_stopped() == "stopped" and clone.status is TaskStatus.STOPPED
    assert clone.mark_stopped() is StopOutcome.FINAL


# ------------------------------------------------------------- Task.enqueue
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
    assert [e[1:3] for e in status_events(store, clone.parent)] == [("queued", "created"),
                                                                    ("created", "queued")]


def test_parameters_frozen_once_queued(store: Store, clone: Task) -> None:
    queue_it(store, clone)
    with pytest.raises(StatusConflictError, match="queued"):
        clone.set_parameters({"General/lr": 1.0})
    assert "General/lr" not in clone.get_parameters()
