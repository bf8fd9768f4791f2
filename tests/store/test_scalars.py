"""Scalar reports, on both engines: last/min/max and history in one atomic step, duplicates
ignored, NaN and inf kept, the attempt's token checked, and the scalar event carrying the
aggregate the store computed -- which is what the optimizer's job table holds."""

from __future__ import annotations

import math

import pytest

from controller.budget import Budget
from controller.jobs import SeriesStats
from controller.loop import Scheduler
from controller.objective import MultiObjective, Objective
from controller.parameters import UniformParameterRange
from controller.strategies import RandomSearch
from workers import AttemptLostError, InvalidScalarError, Store, Task, TrialStopped
from workers.outcomes import ReportStatus, ScalarStats
from workers.status import TaskStatus

#: decreasing, increasing, out of order, NaN first and between, infinities, a duplicate
SEQUENCE = [(0, math.nan), (1, 3.0), (2, 1.0), (4, 2.0), (3, 0.5), (5, math.nan),
            (6, math.inf), (2, 9.0), (7, -math.inf), (8, 4.0)]


def same(a: object, b: object) -> bool:
    """Equality of stats dicts that holds for NaN == NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# ------------------------------------------------------------- the report script
def test_report_outcomes(store: Store, running: tuple[Task, str]) -> None:
    task, _ = running
    parent = task.parent

    def report(token: str, task_id: str = task.id, iteration: int = 1) -> object:
        return store.report(task_id, parent, token, "v", "loss", iteration, 0.5)

    assert report("tok").status is ReportStatus.STORED
    assert report("tok").status is ReportStatus.DUPLICATE
    assert report("other", iteration=2).status is ReportStatus.LOST
    assert report("tok", task_id="nope").status is ReportStatus.MISSING
    assert report("", iteration=3).status is ReportStatus.STORED  # from outside a trial
    assert store.history(task.id)["v"]["loss"] == {"x": [1, 3], "y": [0.5, 0.5]}
    Task.get_task(task.id).mark_stopped("enough")
    reported = report("tok", iteration=4)
    assert (reported.status, reported.stop) == (ReportStatus.STORED, "enough")


def test_last_min_max_and_history(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    for it, v in enumerate([3.0, 1.0, 2.0]):
        log.report_scalar("validation", "loss", value=v, iteration=it)
    m = task.get_last_scalar_metrics()["validation"]["loss"]
    assert m == {"last": 2.0, "min": 1.0, "max": 3.0, "iteration": 2}
    hist = task.get_reported_scalars()["validation"]["loss"]
    assert hist == {"x": [0, 1, 2], "y": [3.0, 1.0, 2.0]}


def test_duplicate_report_stored_once(store: Store, running: tuple[Task, str]) -> None:
    task, parent = running
    log = task.get_logger()
    log.report_scalar("v", "loss", value=1.0, iteration=5)
    log.report_scalar("v", "loss", value=9.0, iteration=5)
    assert task.get_reported_scalars()["v"]["loss"] == {"x": [5], "y": [1.0]}
    assert task.get_last_scalar_metrics()["v"]["loss"]["max"] == 1.0
    assert [e.value for e in store.read_events(parent) if e.kind == "scalar"] == [1.0]


def test_out_of_order_keeps_highest_iteration_as_last(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    log.report_scalar("v", "acc", value=0.5, iteration=10)
    log.report_scalar("v", "acc", value=0.9, iteration=3)
    m = task.get_last_scalar_metrics()["v"]["acc"]
    assert m["last"] == 0.5 and m["iteration"] == 10 and m["max"] == 0.9


def test_nan_and_inf_kept(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    log.report_scalar("v", "loss", value=math.nan, iteration=0)
    m = task.get_last_scalar_metrics()["v"]["loss"]
    assert math.isnan(m["last"]) and math.isnan(m["min"]) and math.isnan(m["max"])
    log.report_scalar("v", "loss", value=math.inf, iteration=1)
    log.report_scalar("v", "loss", value=-math.inf, iteration=2)
    log.report_scalar("v", "loss", value=math.nan, iteration=3)
    m = task.get_last_scalar_metrics()["v"]["loss"]
    assert math.isnan(m["last"]) and m["min"] == -math.inf and m["max"] == math.inf
    ys = task.get_reported_scalars()["v"]["loss"]["y"]
    assert math.isnan(ys[0]) and ys[1:3] == [math.inf, -math.inf] and math.isnan(ys[3])


def test_single_value_last_wins(running: tuple[Task, str]) -> None:
    task, _ = running
    task.get_logger().report_single_value("accuracy", 0.8)
    task.get_logger().report_single_value("accuracy", 0.9)
    assert task.get_last_scalar_metrics()["Summary"]["accuracy"]["last"] == 0.9
    assert task.get_reported_scalars()["Summary"]["accuracy"] == {"x": [0], "y": [0.9]}


@pytest.mark.parametrize("value", ["0.1", None, True, [1.0], object()])
def test_non_numeric_scalar_rejected(running: tuple[Task, str], value: object) -> None:
    task, _ = running
    with pytest.raises(InvalidScalarError, match="real number"):
        task.get_logger().report_scalar("v", "loss", value=value, iteration=0)  # type: ignore
    assert task.get_last_scalar_metrics() == {}


def test_bad_iteration_and_names_rejected(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    with pytest.raises(InvalidScalarError, match="iteration"):
        log.report_scalar("v", "loss", value=1.0, iteration=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidScalarError, match="title"):
        log.report_scalar("", "loss", value=1.0, iteration=1)
    with pytest.raises(InvalidScalarError, match="series"):
        log.report_scalar("v", "a\x1fb", value=1.0, iteration=1)
    assert task.get_last_scalar_metrics() == {}


def test_numpy_scalar_accepted(running: tuple[Task, str]) -> None:
    np = pytest.importorskip("numpy")
    task, _ = running
    task.get_logger().report_scalar("v", "loss", value=np.float32(0.5), iteration=np.int64(1))
    assert task.get_last_scalar_metrics()["v"]["loss"] == {"last": 0.5, "min": 0.5, "max": 0.5,
                                                           "iteration": 1}


def test_stop_raises_at_the_report_after_a_write_saw_it(running: tuple[Task, str]) -> None:
    task, _ = running
    assert not task.should_stop()
    assert Task.get_task(task.id).mark_stopped("enough") == "flagged"
    log = task.get_logger()
    log.report_scalar("v", "loss", value=1.0, iteration=0)  # written behind: its answer later
    assert task.flush()
    with pytest.raises(TrialStopped, match="enough"):
        log.report_scalar("v", "loss", value=2.0, iteration=1)
    assert task.get_last_scalar_metrics()["v"]["loss"]["last"] == 2.0  # stored all the same


def test_a_stop_seen_by_should_stop_raises_at_the_next_report(running: tuple[Task, str]) -> None:
    task, _ = running
    Task.get_task(task.id).mark_stopped("enough")
    assert task.should_stop()
    with pytest.raises(TrialStopped, match="enough"):
        task.get_logger().report_scalar("v", "loss", value=1.0, iteration=0)


def test_zombie_attempt_cannot_report(store: Store, running: tuple[Task, str]) -> None:
    task, _ = running
    assert store.declare_dead(task.id, task.parent, "tok", reason="test",
                              stale_before=1e18) is TaskStatus.QUEUED
    log = task.get_logger()
    log.report_scalar("v", "loss", value=1.0, iteration=0)
    with pytest.raises(AttemptLostError):
        task.flush()
    with pytest.raises(AttemptLostError):
        log.report_scalar("v", "loss", value=2.0, iteration=1)
    assert store.metrics(task.id) == {} and store.history(task.id) == {}


def test_reports_are_written_in_order_behind_the_call(store: Store,
                                                      running: tuple[Task, str]) -> None:
    task, parent = running
    cursor = store.read_events(parent)[-1].id
    log = task.get_logger()
    for it in range(50):
        log.report_scalar("v", "loss", value=float(it), iteration=it)
    with pytest.raises(InvalidScalarError):  # bad input raises at the call, nothing is queued
        log.report_scalar("v", "loss", value=1.0, iteration=1.5)
    assert task.flush(timeout=30)
    events = store.read_events(parent, cursor)
    assert [int(e.fields["iter"]) for e in events] == list(range(50))
    assert task.get_last_scalar_metrics()["v"]["loss"] == {"last": 49.0, "min": 0.0,
                                                           "max": 49.0, "iteration": 49}


# ------------------------------------------------------------------ scalar events
def test_scalar_events_carry_the_stored_aggregate(store: Store,
                                                  running: tuple[Task, str]) -> None:
    task, parent = running
    cursor = store.read_events(parent)[-1].id
    log = task.get_logger()
    for it, value in SEQUENCE:
        log.report_scalar("v", "loss", value=value, iteration=it)
        task.flush()  # written behind the call: wait for it before reading
        (event,) = store.read_events(parent, cursor) or [None]
        if it == 2 and value == 9.0:  # the duplicate: no event
            assert event is None
            continue
        assert event is not None and event.kind == "scalar" and event.task_id == task.id
        cursor = event.id
        assert (event.fields["title"], event.fields["series"], event.iteration) == ("v", "loss",
                                                                                  it)
        assert same(event.value, value)
        assert event.stats is not None
        assert same(event.stats.as_dict(), store.metric(task.id, "v", "loss"))
    assert store.read_events(parent, cursor) == []


def test_the_job_table_holds_what_the_store_holds(store: Store,
                                                  running: tuple[Task, str]) -> None:
    """The optimizer's scheduler, fed the events as the driver feeds it, ends with the stats of
    the store's metrics hash; the rule applied without a store (simulations) agrees too."""
    task, parent = running
    objective = MultiObjective([Objective("v", "loss", "min"), Objective("v", "acc", "max")])
    strategy = RandomSearch(hyper_parameters=[UniformParameterRange("General/lr", 0.0, 1.0)],
                            objective_metric=objective, seed=0)
    sched = Scheduler(strategy, objective, concurrency=1, budget=Budget(None, None, None))
    (job,) = sched.launch(0.0, lambda: task.id)
    sched.on_status(task.id, TaskStatus.IN_PROGRESS, 0.0)
    folded = [SeriesStats(), SeriesStats()]
    log = task.get_logger()
    cursor = store.read_events(parent)[-1].id
    for it, value in SEQUENCE:  # compared after every report, not only at the end
        log.report_scalar("v", "loss", value=value, iteration=it)
        log.report_scalar("v", "acc", value=-value, iteration=it)
        task.flush()  # written behind the call: wait for it before reading
        for event in store.read_events(parent, cursor):
            cursor = event.id
            value, iteration = event.value, event.iteration
            assert value is not None and iteration is not None
            sched.on_scalar(event.task_id, event.fields["title"], event.fields["series"],
                            iteration, value, event.stats)
            folded[["loss", "acc"].index(event.fields["series"])].add(iteration, value)
        for index, series in enumerate(["loss", "acc"]):
            stored = store.metric(task.id, "v", series)
            assert same(job.to_row()["stats"][index], stored), (it, series)
            assert same(folded[index].as_dict(), stored), (it, series)
    assert job.objective_values(objective) == [4.0, -4.0]


def test_stats_of_events_written_before_they_carried_them() -> None:
    """A scalar event without the aggregate (an older writer) leaves the rule to the reader."""
    from workers.outcomes import Event

    old = Event("1-0", "t", "scalar", {"title": "v", "series": "loss", "iter": "3",
                                       "value": "0.5"})
    assert old.stats is None and old.value == 0.5 and old.iteration == 3
    new = Event("2-0", "t", "scalar", {**old.fields, "last": "0.5", "last_iter": "3",
                                       "min": "nan", "max": "1e999"})
    assert new.stats is not None and new.stats.iteration == 3 and new.stats.max == math.inf
    assert math.isnan(new.stats.min)
    stats = SeriesStats()
    stats.add(3, 0.5, ScalarStats(0.5, 7, 0.25, 0.75))  # the store's word wins
    assert stats.as_dict() == {"last": 0.5, "min": 0.25, "max": 0.75, "iteration": 7}
