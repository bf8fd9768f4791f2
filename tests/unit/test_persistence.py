"""The optimizer's saved state (controller/persistence) on fakeredis: the typed state and its
encoding, one pass saved in one transaction with the new records created by the store, load,
progress, listing and the lease."""

from __future__ import annotations

import pytest

from controller.jobs import Job, SeriesStats
from controller.persistence import (
    BestPoint,
    OptimizerKeys,
    OptimizerRepository,
    Resources,
    SavedState,
    SchedulerState,
    Timing,
)
from workers import Store, Task, TaskNotFoundError, TaskStatus
from workers.task import clone_record

#: A state hash as hpqueue has always written it (compact JSON per part).
OLD_STATE = {
    "cursor": "1700000000000-3",
    "saved_at": "1700000012.5",
    "strategy": '{"seen":[1,2],"rng":"abc"}',
    "scheduler": '{"counts":{"completed":2,"failed":1},"iterations_used":6,"ending":null,'
                 '"exhausted":false}',
    "timing": '{"session_started":1700000000.0,"elapsed_before":30.0,'
              '"time_limit":["minutes",5.0]}',
    "budget": '{"jobs":{"limit":4,"used":0.75}}',
    "resources": '{"running":1,"pending":2,"time":1700000010.0}',
}


def test_state_reads_and_writes_the_saved_format_unchanged() -> None:
    state = SavedState.from_fields(OLD_STATE)
    assert state.cursor == "1700000000000-3" and state.saved_at == 1700000012.5
    assert state.strategy == {"seen": [1, 2], "rng": "abc"}
    assert state.scheduler == SchedulerState({"completed": 2, "failed": 1}, 6, None, False)
    assert state.timing == Timing(1700000000.0, 30.0, ("minutes", 5.0))
    assert state.resources == Resources(1, 2, 1700000010.0)
    assert state.to_fields() == OLD_STATE
    # elapsed: up to the last save when no controller runs it, up to now while one does
    assert state.elapsed_seconds(live=False, now=1700000100.0) == 42.5
    assert state.elapsed_seconds(live=True, now=1700000100.0) == 130.0


def test_an_empty_state_and_parts_left_out() -> None:
    state = SavedState.from_fields({})  # an optimizer that never ran
    assert state.cursor == "0-0" and state.strategy is None and state.timing is None
    assert state.scheduler == SchedulerState() and state.elapsed_seconds(False, 5.0) == 0.0
    # parts that are None are not written: a save keeps the ones saved before
    assert set(SavedState(cursor="1-0").to_fields()) == {"cursor", "scheduler"}


def _optimizer(store: Store) -> tuple[str, dict[str, str]]:
    base = Task.create("p", "train", entry_point="tests.unit.sample_entry:train",
                       parameters={"General/lr": 0.1}, store=store)
    opt = Task.create("p", "optimizer", task_type="optimizer", store=store)
    store.set_fields(opt.id, {"configuration": "{}"})
    return opt.id, base.record


def _job(index: int, status: TaskStatus = TaskStatus.QUEUED) -> Job:
    return Job(id=f"j{index}", index=index, parameters={"General/lr": index / 10},
               status=status, created_at=100.0 + index, stats=[SeriesStats()])


def _record(base: dict[str, str], opt_id: str, job: Job) -> dict[str, str]:
    return clone_record(base, parent=opt_id, parameters=job.parameters, task_id=job.id,
                        extra={"created": repr(job.created_at)})


def test_a_pass_is_saved_with_its_new_records_queued(store: Store) -> None:
    opt_id, base = _optimizer(store)
    repo = OptimizerRepository(store)
    jobs = [_job(1), _job(0)]
    state = SavedState(cursor="0-0", saved_at=5.0, strategy={"n": 2},
                       scheduler=SchedulerState(iterations_used=3))
    best = [BestPoint(4.0, "j0", 0, [0.5])]
    saved = repo.save_pass(opt_id, state, jobs=jobs, best=best,
                           new_records=[_record(base, opt_id, j) for j in reversed(jobs)],
                           queue="gpu")
    for job_id in ("j0", "j1"):
        record = store.get(job_id)
        assert (record["status"], record["queue"], record["parent"]) == ("queued", "gpu", opt_id)
    assert store.find(parent=opt_id) == ["j0", "j1"]
    assert set(store.find(project="p")) >= {"j0", "j1"}
    events = store.read_events(opt_id)
    assert [(e.task_id, e.fields["status"], e.fields["prev"]) for e in events] == [
        ("j0", "queued", "created"), ("j1", "queued", "created")]
    assert saved.event_ids == [e.id for e in events] and saved.newest_before == "0-0"
    assert saved.cursor_after("0-0") == events[-1].id  # nothing else came: skip its own events

    loaded = repo.load(opt_id)
    assert loaded.state == SavedState.from_fields(state.to_fields())
    assert [j.id for j in loaded.jobs] == ["j0", "j1"]  # by job index
    assert loaded.jobs[1].to_row() == jobs[0].to_row()
    assert loaded.best == best and not loaded.live


def test_a_pass_keeps_the_cursor_when_another_event_came_first(store: Store) -> None:
    opt_id, base = _optimizer(store)
    repo = OptimizerRepository(store)
    first = repo.save_pass(opt_id, SavedState(), new_records=[_record(base, opt_id, _job(0))],
                           queue="q")
    cursor = first.cursor_after("0-0")
    store.post_control(opt_id, "wake")  # an event the loop has not read yet
    second = repo.save_pass(opt_id, SavedState(cursor=cursor),
                            new_records=[_record(base, opt_id, _job(1))], queue="q")
    assert second.newest_before != cursor and len(second.event_ids) == 1
    assert second.cursor_after(cursor) == cursor  # the wake-up event must still be read
    assert repo.save_pass(opt_id, SavedState()).event_ids == []  # no records: no events


def test_rows_and_state_saved_alone_keep_the_rest(store: Store) -> None:
    opt_id, _ = _optimizer(store)
    repo = OptimizerRepository(store)
    repo.save_pass(opt_id, SavedState(timing=Timing(1.0)), jobs=[_job(0), _job(1)])
    done = _job(1, TaskStatus.COMPLETED)
    done.notified = True
    repo.save_rows(opt_id, [done])
    repo.save_state(opt_id, SavedState(cursor="9-0", saved_at=3.0))
    loaded = repo.load(opt_id)
    assert [(j.id, j.status, j.notified) for j in loaded.jobs] == [
        ("j0", TaskStatus.QUEUED, False), ("j1", TaskStatus.COMPLETED, True)]
    assert loaded.state.cursor == "9-0" and loaded.state.timing == Timing(1.0)


def test_progress_listing_and_lease(store: Store) -> None:
    opt_id, _ = _optimizer(store)
    repo = OptimizerRepository(store)
    with pytest.raises(TaskNotFoundError):
        repo.progress("missing")
    state = SavedState.from_fields(OLD_STATE)
    repo.save_pass(opt_id, state, best=[BestPoint(1.0, "a", 0, [0.9]),
                                        BestPoint(2.0, "b", 3, [0.4])])
    progress = repo.progress(opt_id, now=1700000100.0)
    assert (progress.live, progress.done, progress.best, progress.best_job) == (
        False, 3, [0.4], 3)
    assert (progress.running, progress.queued) == (0, 0)  # resources only while it runs
    # saved before failures were kept: the count, no last failure
    assert progress.line() == ("done 3 (failed 1) | running 0 | queued 0 | best 0.4 (job #3) | "
                               "42.5s")

    assert repo.acquire_lease(opt_id, "me", 10.0)
    assert not repo.acquire_lease(opt_id, "other", 10.0)
    assert repo.renew_lease(opt_id, "me", 10.0) and not repo.renew_lease(opt_id, "other", 10.0)
    live = repo.progress(opt_id, now=1700000100.0)
    assert (live.live, live.running, live.queued, live.elapsed_seconds) == (True, 1, 2, 130.0)
    assert repo.load(opt_id).live
    repo.release_lease(opt_id, "me")
    assert not repo.load(opt_id).live

    other, _ = _optimizer(store)
    repo.save_state(other, SavedState())
    not_an_optimizer = Task.create("p", "plain", entry_point="tests.unit.sample_entry:train",
                                   store=store)
    repo.save_state(not_an_optimizer.id, SavedState())
    listed = [rec.id for rec, _ in repo.list_optimizers()]
    assert listed == [other, opt_id]  # newest first; records without configuration left out


def test_the_key_names_are_the_saved_ones() -> None:
    keys = OptimizerKeys("hpq")
    assert [keys.jobs("o"), keys.state("o"), keys.best("o"), keys.lease("o")] == [
        "hpq:opt:o:jobs", "hpq:opt:o:state", "hpq:opt:o:best", "hpq:opt:o:lease"]
    assert keys.id_of_state(keys.state("abc")) == "abc"
