"""Scalars and the event stream on fakeredis."""

from __future__ import annotations

import math

import pytest

from workers import AttemptLostError, InvalidScalarError, Store, Task, TrialStopped
from workers.status import TaskStatus

ENTRY = "tests.unit.sample_entry:train"


@pytest.fixture
def running(store: Store) -> tuple[Task, str]:
    """A clone in progress, and the handle its trial would get."""
    base = Task.create(project="p", name="b", entry_point=ENTRY)
    clone = Task.clone(base)
    store.transition(clone.id, clone.parent, [TaskStatus.CREATED], TaskStatus.QUEUED)
    assert store.claim(clone.id, clone.parent, "tok", "host:1").outcome == "claimed"
    return Task(clone.id, token="tok"), base.id


def test_last_min_max_and_history(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    for it, v in enumerate([3.0, 1.0, 2.0]):
        log.report_scalar("validation", "loss", value=v, iteration=it)
    m = task.get_last_scalar_metrics()["validation"]["loss"]
    assert m == {"last": 2.0, "min": 1.0, "max": 3.0, "iteration": 2}
    hist = task.get_reported_scalars()["validation"]["loss"]
    assert hist == {"x": [0, 1, 2], "y": [3.0, 1.0, 2.0]}


def test_duplicate_report_stored_once(running: tuple[Task, str]) -> None:
    task, _ = running
    log = task.get_logger()
    log.report_scalar("v", "loss", value=1.0, iteration=5)
    log.report_scalar("v", "loss", value=9.0, iteration=5)
    assert task.get_reported_scalars()["v"]["loss"] == {"x": [5], "y": [1.0]}
    assert task.get_last_scalar_metrics()["v"]["loss"]["max"] == 1.0


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


def test_numpy_scalar_accepted(running: tuple[Task, str]) -> None:
    np = pytest.importorskip("numpy")
    task, _ = running
    task.get_logger().report_scalar("v", "loss", value=np.float32(0.5), iteration=np.int64(1))
    assert task.get_last_scalar_metrics()["v"]["loss"]["last"] == 0.5


def test_events_with_cursor(store: Store, running: tuple[Task, str]) -> None:
    task, parent = running
    events = store.read_events(parent)
    kinds = [(e.kind, e.fields.get("status")) for e in events]
    assert kinds == [("status", "queued"), ("status", "in_progress")]
    cursor = events[-1].id
    task.get_logger().report_scalar("v", "loss", value=0.25, iteration=7)
    new = store.read_events(parent, cursor)
    assert len(new) == 1 and new[0].kind == "scalar" and new[0].task_id == task.id
    assert new[0].value == 0.25 and new[0].iteration == 7
    assert store.read_events(parent, new[0].id) == []


def test_stop_flag_raises_after_storing(store: Store, running: tuple[Task, str]) -> None:
    task, _ = running
    assert not task.should_stop()
    assert Task.get_task(task.id).mark_stopped("enough") == "flagged"
    assert task.should_stop()
    with pytest.raises(TrialStopped, match="enough"):
        task.get_logger().report_scalar("v", "loss", value=1.0, iteration=0)
    assert task.get_last_scalar_metrics()["v"]["loss"]["last"] == 1.0


def test_zombie_attempt_cannot_report(store: Store, running: tuple[Task, str]) -> None:
    task, _ = running
    assert store.declare_dead(task.id, task.parent, "tok", reason="test",
                              stale_before=1e18) == "queued"
    with pytest.raises(AttemptLostError):
        task.get_logger().report_scalar("v", "loss", value=1.0, iteration=0)
    assert task.get_last_scalar_metrics() == {}
