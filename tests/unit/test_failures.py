"""Failures in plain sight: grouping by error, the scheduler's end reasons and warnings, the
progress line, and the optimizer's failure callback and warning (trials run in-process on the
fakeredis store)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import pytest

from controller import HyperParameterOptimizer, Mapping
from controller.budget import Budget
from controller.failures import MAX_ERROR_CHARS, NO_REASON, JobFailure, error_line, group_failures
from controller.jobs import Job
from controller.loop import FIRST_FAILURES, Scheduler
from controller.objective import MultiObjective, Objective
from controller.parameters import DiscreteParameterRange
from controller.persistence import OptimizerRepository, Progress, SchedulerState, restore_scheduler
from controller.strategies import GridSearch
from workers import Store, Task
from workers.status import TaskStatus

from .test_report import inline_workers  # noqa: F401 - a fixture

S = TaskStatus
ENTRY = f"{__name__}:trial"
LOSS = MultiObjective([Objective("val", "loss", "min")])


def trial(task: Task) -> None:
    """``mode``: ``ok`` reports val/loss = x; ``import`` and ``value`` fail with two errors."""
    p = task.connect({"x": 0.5, "mode": "ok"})
    if p["mode"] == "import":
        import hpq_test_missing_module  # type: ignore[import-not-found]  # noqa: F401
    if p["mode"] == "value":
        raise ValueError(f"bad x {p['x']}\nsecond line")
    task.get_logger().report_scalar("val", "loss", value=p["x"], iteration=0)


# --------------------------------------------------------------------------- grouping
def job(index: int, status: str = "failed", reason: str = "") -> Job:
    return Job(f"j{index}", index, {}, status=TaskStatus(status), reason=reason)


def test_error_line_is_the_first_non_blank_line_cut_short() -> None:
    assert error_line("\n  ValueError: bad  \nTraceback ...") == "ValueError: bad"
    assert error_line("") == error_line(None) == error_line(" \n ") == NO_REASON
    long = error_line("E" * 1000)
    assert len(long) == MAX_ERROR_CHARS and long.endswith("…")


def test_failures_grouped_by_error_most_frequent_first() -> None:
    jobs = [job(3, reason="ModuleNotFoundError: no x\nmore"), job(1, reason="ValueError: bad"),
            job(2, reason="ModuleNotFoundError: no x"), job(0, "completed"), job(4),
            job(5, reason="Another: one")]
    groups = group_failures(jobs)
    assert [(g.error, g.count, g.example_id, g.example_index) for g in groups] == [
        ("ModuleNotFoundError: no x", 2, "j2", 2),  # the example: the first by job index
        ("Another: one", 1, "j5", 5), ("ValueError: bad", 1, "j1", 1), (NO_REASON, 1, "j4", 4)]
    assert [g.error for g in group_failures(jobs, top=2)] == [groups[0].error, groups[1].error]
    assert groups[0].to_dict() == {"error": "ModuleNotFoundError: no x", "count": 2,
                                   "example": "j2", "example_index": 2}
    assert group_failures([job(0, "completed"), job(1, "stopped", "stopped by user")]) == []


# -------------------------------------------------------------------------- scheduler
ids = (f"s{i}" for i in itertools.count())


def scheduler(values: list[float], concurrency: int = 2, **kwargs: object) -> Scheduler:
    strategy = GridSearch(hyper_parameters=[DiscreteParameterRange("General/x", values)],
                          objective_metric=LOSS, seed=1)
    return Scheduler(strategy, LOSS, concurrency=concurrency, budget=Budget(None, None, None),
                     **kwargs)  # type: ignore[arg-type]


def end(s: Scheduler, job_id: str, status: TaskStatus, reason: str = "", now: float = 1.0):
    out = s.on_status(job_id, S.IN_PROGRESS, now)
    out.extend(s.on_status(job_id, status, now + 1, reason))
    return out


def test_all_jobs_failed_is_the_end_reason() -> None:
    s = scheduler([1, 2, 3], concurrency=3)
    jobs = [j.id for j in s.launch(0.0, lambda: next(ids))]
    out = end(s, jobs[0], S.FAILED, "ImportError: no x")
    assert out.failed == [jobs[0]] and s.last_failure == JobFailure(jobs[0], 0, "ImportError: no x")
    end(s, jobs[1], S.FAILED, "ImportError: no x")
    end(s, jobs[2], S.FAILED, "KeyError: 'y'")
    assert s.launch(3.0, lambda: next(ids)) == [] and s.exhausted
    assert s.done == "all 3 jobs failed: ImportError: no x (2 of them; 1 other error)"
    assert s.top_error() == ("ImportError: no x", 2)


def test_one_success_keeps_the_natural_reason() -> None:
    s = scheduler([1, 2])
    a, b = (j.id for j in s.launch(0.0, lambda: next(ids)))
    end(s, a, S.FAILED, "ImportError: no x")
    end(s, b, S.COMPLETED)
    s.launch(3.0, lambda: next(ids))
    assert s.done == "search space exhausted"
    s = scheduler([1])
    (c,) = (j.id for j in s.launch(0.0, lambda: next(ids)))
    end(s, c, S.FAILED, "ImportError: no x")
    s.launch(3.0, lambda: next(ids))
    assert s.done == "all 1 jobs failed: ImportError: no x"


def test_max_failed_jobs_ends_the_optimization_and_stops_the_others() -> None:
    s = scheduler([1, 2, 3, 4], concurrency=3, max_failed_jobs=2)
    a, b, c = (j.id for j in s.launch(0.0, lambda: next(ids)))
    assert not end(s, a, S.FAILED, "OSError: disk").stops
    out = end(s, b, S.FAILED, "OSError: disk")
    assert [stop.job_id for stop in out.stops] == [c]
    assert s.ending == "max_failed_jobs (2) reached: 2 jobs failed; most common error (2): " \
                       "OSError: disk"
    assert s.launch(3.0, lambda: next(ids)) == []
    s.on_status(c, S.STOPPED, 4.0, "stopped")
    assert s.done == s.ending
    with pytest.raises(ValueError, match="max_failed_jobs must be >= 1"):
        scheduler([1], max_failed_jobs=0)


def test_the_first_jobs_failing_alike_warn_once() -> None:
    s = scheduler(list(range(6)), concurrency=6)
    jobs = [j.id for j in s.launch(0.0, lambda: next(ids))]
    warnings = []
    for jid in jobs[:FIRST_FAILURES + 2]:
        warnings += end(s, jid, S.FAILED, "ModuleNotFoundError: No module named 'x'\ntb").warnings
    assert warnings == [(
        f"the first {FIRST_FAILURES} jobs all failed with the same error: ModuleNotFoundError: "
        f"No module named 'x' (see hpq job {jobs[FIRST_FAILURES - 1]}); the optimization goes on "
        "(max_failed_jobs ends it early)")]
    # different errors, or a success among the first jobs: no warning
    for reasons in (["A: 1", "B: 2", "A: 1"], ["A: 1", None, "A: 1"]):
        s = scheduler([1, 2, 3], concurrency=3)
        found = []
        for jid, reason in zip([j.id for j in s.launch(0.0, lambda: next(ids))], reasons):
            found += end(s, jid, S.COMPLETED if reason is None else S.FAILED, reason or "").warnings
        assert found == []


def test_restore_rebuilds_the_failures_and_does_not_warn_again() -> None:
    s = scheduler(list(range(5)), concurrency=5)
    jobs = [j.id for j in s.launch(0.0, lambda: next(ids))]
    for n, jid in enumerate(jobs[:FIRST_FAILURES]):
        end(s, jid, S.FAILED, f"E: {n % 2}", now=float(n))
    state = SchedulerState.from_dict(SchedulerState.of(s).to_dict())
    assert state.last_failure == JobFailure(jobs[2], 2, "E: 0")
    resumed = scheduler(list(range(5)), concurrency=5)
    restore_scheduler(resumed, [Job.from_row(j.id, j.to_row()) for j in s.jobs.values()],
                      state, None)
    assert resumed.errors == s.errors and resumed.last_failure == s.last_failure
    assert end(resumed, jobs[3], S.FAILED, "E: 0").warnings == []


def test_progress_line_counts_failures_and_shows_the_latest() -> None:
    failure = JobFailure("j3", 3, "ModuleNotFoundError: No module named 'x' " + "x" * 200)
    progress = Progress("in_progress", True, 4, 1, 0, None, None, 2.0,
                        {"failed": 3, "completed": 1}, failure)
    line = progress.line()
    assert line.startswith("done 4 (failed 3) | running 1 | queued 0 | best - | 2.0s | "
                           "last failure: job #3 ModuleNotFoundError: No module named 'x' xxx")
    assert len(line) < 200 and line.endswith("…")
    assert Progress("in_progress", True, 1, 0, 0, [0.5], 0, 1.0).line() == \
        "done 1 | running 0 | queued 0 | best 0.5 (job #0) | 1.0s"


# -------------------------------------------------------------------------- optimizer
@pytest.fixture
def base(store: Store) -> Iterator[Task]:
    yield Task.create("failures", "trial", entry_point=ENTRY,
                      parameters={"General/x": 0.5, "General/mode": "ok"}, store=store)


def optimizer(store: Store, base: Task, modes: list[str], **kwargs: object
              ) -> HyperParameterOptimizer:
    return HyperParameterOptimizer(
        base.id, [], "val", "loss", optimizer_class=Mapping,
        values=[{"General/x": 0.1 * i, "General/mode": m} for i, m in enumerate(modes)],
        max_number_of_concurrent_tasks=1, pool_period_min=0.001, store=store,
        **kwargs)  # type: ignore[arg-type]


@pytest.mark.timeout(20)
def test_a_run_whose_trials_all_fail_says_so(store: Store, base: Task, inline_workers,  # noqa: F811
                                             caplog: pytest.LogCaptureFixture) -> None:
    opt = optimizer(store, base, ["import"] * 4)
    failed: list[tuple[str, str, dict]] = []
    with caplog.at_level(logging.WARNING, logger="hpqueue.optimizer"):
        opt.start(job_failed_callback=lambda *args: failed.append(args))
        assert opt.wait(timeout=0.5)
    error = "ModuleNotFoundError: No module named 'hpq_test_missing_module'"
    assert opt.end_reason == f"all 4 jobs failed: {error}"
    assert [(reason, params["General/x"]) for _, reason, params in failed] == \
        [(error, pytest.approx(0.1 * i)) for i in range(4)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "the first 3 jobs all failed with the same error" in warnings[0]
    assert error in warnings[0] and opt.id in warnings[0]
    progress = OptimizerRepository(store).progress(opt.id)
    assert progress.failed == 4 and progress.last_failure is not None
    assert progress.last_failure.error == error and progress.last_failure.index == 3
    assert store.record(opt.id).status_reason == opt.end_reason
    # every failed job was notified once: a resumed session calls nothing again
    saved = OptimizerRepository(store).load(opt.id)
    assert all(j.notified for j in saved.jobs)


@pytest.mark.timeout(20)
def test_max_failed_jobs_ends_early(store: Store, base: Task, inline_workers) -> None:  # noqa: F811
    opt = optimizer(store, base, ["value", "ok", "value", "ok", "ok"], max_failed_jobs=2)
    opt.start()
    assert opt.wait(timeout=0.5)
    assert opt.end_reason == ("max_failed_jobs (2) reached: 2 jobs failed; most common error "
                              "(1): ValueError: bad x 0.0")
    assert len(OptimizerRepository(store).load(opt.id).jobs) == 3
    with pytest.raises(ValueError, match="max_failed_jobs must be a positive integer"):
        optimizer(store, base, ["ok"], max_failed_jobs=0)


@pytest.mark.timeout(20)
def test_failure_callback_fires_for_failures_missed_by_an_earlier_session(
        store: Store, base: Task, inline_workers) -> None:  # noqa: F811
    opt = optimizer(store, base, ["value", "ok"])
    opt.start(job_failed_callback=lambda *args: None)
    assert opt.wait(timeout=0.5)
    repo = OptimizerRepository(store)
    failed_job = next(j for j in repo.load(opt.id).jobs if j.status == S.FAILED)
    failed_job.notified = False  # as if the session had died before its callback ran
    repo.save_rows(opt.id, [failed_job])
    store.set_fields(opt.id, {"status": "stopped"})
    seen: list[str] = []
    resumed = HyperParameterOptimizer.resume(opt.id, store=store)
    resumed.start(job_failed_callback=lambda job_id, reason, params: seen.append(reason))
    assert resumed.wait(timeout=0.5)
    assert seen == ["ValueError: bad x 0.0\nsecond line"]
