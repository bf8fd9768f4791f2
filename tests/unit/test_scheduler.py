"""The scheduler's semantics with an injected clock (no Redis, no workers)."""

from __future__ import annotations

import itertools
import math

import pytest

from controller.budget import Budget
from controller.loop import Archive, Scheduler
from controller.objective import MultiObjective, Objective, parse_sign
from controller.parameters import DiscreteParameterRange, UniformParameterRange
from controller.stopping import FailureRate, MedianStopping, MetricThreshold, build_policies
from controller.strategies import GridSearch, RandomSearch
from workers.status import TaskStatus

S = TaskStatus
LR = UniformParameterRange("General/lr", 0.0, 1.0, step_size=0.1)


def make(strategy_cls=RandomSearch, *, sign="min", concurrency=2, total=None, per_job=None,
         compute=None, max_iter=None, policies=(), top_k=None, objective=None,
         params=(LR,)) -> Scheduler:
    objective = objective or MultiObjective([Objective("val", "loss", sign)])
    strategy = strategy_cls(hyper_parameters=list(params), objective_metric=objective, seed=7)
    return Scheduler(strategy, objective, concurrency=concurrency,
                     budget=Budget(total, max_iter, compute), time_limit_per_job=per_job,
                     policies=policies, save_top_k=top_k)


ids = (f"j{i}" for i in itertools.count())


def launch(s: Scheduler, now: float = 0.0) -> list[str]:
    return [j.id for j in s.launch(now, lambda: next(ids))]


def run(s: Scheduler, jid: str, values: list[float], status=S.COMPLETED, now=1.0):
    out = s.on_status(jid, S.IN_PROGRESS, now)
    for it, v in enumerate(values):
        out.extend(s.on_scalar(jid, "val", "loss", it, v))
    out.extend(s.on_status(jid, status, now + 1))
    return out


def test_signs() -> None:
    assert parse_sign("min") == ("min", False) and parse_sign("MAX_GLOBAL") == ("max", True)
    assert parse_sign("maximize") == ("max", False)
    with pytest.raises(ValueError, match="not one of"):
        parse_sign("smallest")
    stats = {"last": 3.0, "min": 1.0, "max": 5.0, "iteration": 2}
    assert Objective("t", "s", "min").value(stats) == 3.0
    assert Objective("t", "s", "min_global").value(stats) == 1.0
    assert Objective("t", "s", "max_global").value(stats) == 5.0
    assert Objective("t", "s", "min").value({"last": math.nan}) is None


def test_concurrency_counts_queued_and_running_and_total_is_never_exceeded() -> None:
    s = make(concurrency=3, total=5)
    first = launch(s)
    assert len(first) == 3 and launch(s) == []
    s.on_status(first[0], S.IN_PROGRESS, 1)
    assert launch(s) == []  # running still occupies its slot
    run(s, first[0], [1.0])
    assert len(launch(s)) == 1
    for jid in list(s.active):
        run(s, jid, [0.5])
    assert len(launch(s)) == 1 and s.created == 5
    for jid in list(s.active):
        run(s, jid, [0.5])
    assert launch(s) == [] and s.done == "total_max_jobs reached"


def test_grid_exhaustion_ends() -> None:
    s = make(GridSearch, concurrency=10, params=[DiscreteParameterRange("General/a", [1, 2])])
    jobs = launch(s)
    assert len(jobs) == 2 and s.exhausted and s.done is None
    for jid in jobs:
        run(s, jid, [1.0])
    assert s.done == "search space exhausted"


def test_time_limit_per_job_stops_only_long_jobs() -> None:
    s = make(per_job=1.0)
    a, b = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0.0)
    s.on_status(b, S.IN_PROGRESS, 50.0)
    out = s.housekeeping(61.0)
    assert [st.job_id for st in out.stops] == [a]
    assert s.housekeeping(62.0).stops == []  # asked once


def test_max_iteration_per_job() -> None:
    s = make(max_iter=3)
    (a, _) = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0)
    for it in range(4):
        assert s.on_scalar(a, "val", "loss", it, 1.0).stops == []
    out = s.on_scalar(a, "val", "loss", 4, 1.0)
    assert [st.job_id for st in out.stops] == [a] and "max_iteration" in out.stops[0].reason


def test_compute_time_limit_stops_running_and_launches_nothing() -> None:
    s = make(compute=1.0, concurrency=2)  # one minute of summed run time
    a, b = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0.0)
    s.on_status(b, S.IN_PROGRESS, 0.0)
    assert s.housekeeping(20.0).stops == []
    out = s.housekeeping(31.0)  # 2 jobs x 31 s > 60 s
    assert {st.job_id for st in out.stops} == {a, b} and s.ending == "compute_time_limit reached"
    assert launch(s, 32.0) == []
    s.on_status(a, S.STOPPED, 33.0)
    s.on_status(b, S.STOPPED, 33.0)
    assert s.done == "compute_time_limit reached"


def test_deadline_stops_everything() -> None:
    s = make()
    a, b = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0.0)
    out = s.housekeeping(100.0, deadline=100.0)
    assert {st.job_id for st in out.stops} == {a, b} and s.ending == "time limit reached"


def test_notify_once_and_failed_without_objective_never_ranks() -> None:
    s = make(concurrency=3)
    a, b, c = launch(s)
    out = run(s, a, [2.0, 1.0])
    assert [n.job_id for n in out.notify] == [a]
    assert s.on_status(a, S.COMPLETED, 5.0).notify == []  # duplicate event
    out = s.on_status(b, S.IN_PROGRESS, 1.0)
    out.extend(s.on_status(b, S.FAILED, 2.0))
    assert out.notify == [] and s.leaderboard.top() == [a]
    out = run(s, c, [0.5], status=S.FAILED)
    assert out.notify == [] and s.leaderboard.top() == [a]


def test_stopped_job_with_objective_ranks() -> None:
    s = make()
    a, b = launch(s)
    run(s, a, [3.0], status=S.STOPPED)
    run(s, b, [4.0])
    assert s.leaderboard.top() == [a, b]


def test_min_global_vs_last() -> None:
    for sign, expected in (("min", ["b", "a"]), ("min_global", ["a", "b"])):
        s = make(sign=sign)
        x, y = launch(s)
        run(s, x, [0.1, 5.0])  # best 0.1, last 5.0
        run(s, y, [1.0, 1.0])
        names = {x: "a", y: "b"}
        assert [names[j] for j in s.leaderboard.top()] == expected


def test_archive_below_top_k_and_never_running() -> None:
    s = make(concurrency=4, top_k=2)
    a, b, c, d = launch(s)
    s.on_status(d, S.IN_PROGRESS, 0)
    s.on_scalar(d, "val", "loss", 0, 99.0)  # running and bad: never archived
    changes: list[Archive] = []
    for jid, v in ((a, 3.0), (b, 2.0), (c, 1.0)):
        changes += run(s, jid, [v]).archives
    assert changes == [Archive(a, True)]
    run(s, d, [0.5])
    assert s.jobs[b].archived and not s.jobs[d].archived and not s.jobs[c].archived


def test_archive_restores_a_job_that_climbs_back() -> None:
    objective = MultiObjective([Objective("val", "loss", "min"), Objective("val", "acc", "max")])
    s = make(objective=objective, concurrency=3, top_k=1)
    a, b, c = launch(s)

    def finish(jid: str, loss: float, acc: float):
        s.on_status(jid, S.IN_PROGRESS, 0)
        s.on_scalar(jid, "val", "loss", 0, loss)
        s.on_scalar(jid, "val", "acc", 0, acc)
        return s.on_status(jid, S.COMPLETED, 1).archives

    finish(a, 1.0, 0.5)
    assert finish(b, 2.0, 0.9) == [Archive(b, True)]  # front {a, b}: crowding keeps a first
    assert s.leaderboard.ranked()[0] == a
    changes = finish(c, 0.5, 0.4)  # dominates nothing of b; a and c share a front now
    assert all(isinstance(ch, Archive) for ch in changes)
    archived = {j for j, job in s.jobs.items() if job.archived}
    assert len(archived) == 2 and s.leaderboard.ranked()[0] not in archived


def test_pareto_ranking() -> None:
    objective = MultiObjective([Objective("t", "a", "min"), Objective("t", "b", "max")])
    ranked = objective.rank([("dominated", [2.0, 1.0]), ("x", [1.0, 1.0]), ("y", [3.0, 9.0])])
    assert ranked[-1] == "dominated" and set(ranked[:2]) == {"x", "y"}


def test_metric_threshold_ends_everything() -> None:
    s = make(policies=[MetricThreshold(0.05)])
    a, b = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0)
    out = s.on_scalar(a, "val", "loss", 0, 0.04)
    assert {st.job_id for st in out.stops} == {a, b} and "early stopping" in s.ending


def test_failure_rate() -> None:
    s = make(policies=build_policies([{"kind": "failure_early_stopping", "percent": 50}]),
             concurrency=2)
    a, b = launch(s)
    s.on_status(a, S.IN_PROGRESS, 0)
    out = s.on_status(a, S.FAILED, 1)
    assert [st.job_id for st in out.stops] == [b] and "1 of 2 jobs failed" in s.ending


def test_failure_rate_validation() -> None:
    with pytest.raises(ValueError, match="percent"):
        FailureRate(0)
    with pytest.raises(ValueError, match="unknown early_stopping kind"):
        build_policies([{"kind": "magic"}])


def test_median_stopping() -> None:
    s = make(policies=[MedianStopping(grace_iterations=2, min_samples=2)], concurrency=3)
    good1, good2, bad = launch(s)
    for jid in (good1, good2, bad):
        s.on_status(jid, S.IN_PROGRESS, 0)
    for it in range(4):
        assert s.on_scalar(good1, "val", "loss", it, 1.0 - 0.1 * it).stops == []
        assert s.on_scalar(good2, "val", "loss", it, 0.9 - 0.1 * it).stops == []
    assert s.on_scalar(bad, "val", "loss", 0, 5.0).stops == []  # before the grace
    assert s.on_scalar(bad, "val", "loss", 1, 5.0).stops == []
    out = s.on_scalar(bad, "val", "loss", 2, 5.0)
    assert [st.job_id for st in out.stops] == [bad] and "median" in out.stops[0].reason


def test_restore_round_trip() -> None:
    from controller.jobs import Job

    s = make(concurrency=3, total=6)
    a, b, c = launch(s)
    run(s, a, [1.0])
    s.on_status(b, S.IN_PROGRESS, 0)
    rows = {j.id: j.to_row() for j in s.jobs.values()}
    r = make(concurrency=3, total=6)
    r.restore([Job.from_row(k, v) for k, v in rows.items()], dict(s.counts), s.iterations_used,
              s.ending, s.exhausted)
    assert set(r.active) == {b, c} and r.leaderboard.top() == [a] and r.created == 3
    assert len(launch(r)) == 1
