"""HyperParameterOptimizer (the facade) on fakeredis, with jobs run in-process.

The process's dispatcher is :class:`InProcessWorkers`, an in-process dispatcher that runs each
trial with a real :class:`workers.runner.TrialRunner` on its own thread (claim, heartbeat, report,
stop, finish: the same code a Celery worker runs). Trials live in :mod:`tests.unit.trial_fns`.

Nothing here asserts a duration except very generous bounds; tests wait on conditions with
timeouts, and hold jobs running with gates (``trial_fns.release``) instead of sleeping.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import controller.driver as driver_module
from controller import (
    DiscreteParameterRange,
    GridSearch,
    HyperParameterOptimizer,
    RandomSearch,
    UniformParameterRange,
)
from controller.dispatch import InProcessDispatcher, set_dispatcher
from controller.persistence import OptimizerKeys
from tests.helpers import Crash, crash, wait_until
from tests.unit import trial_fns
from workers import Store, Task, TaskStatus
from workers import app as workers_app
from workers.app import TrialLabel
from workers.errors import StatusConflictError, TaskNotFoundError
from workers.task import bind_current

PROJECT = "hpo-unit"
X = "General/x"


# ----------------------------------------------------------------------------- helpers


def holds_for(predicate: Callable[[], bool], seconds: float) -> bool:
    """True if ``predicate()`` stays true for ``seconds`` (used to show nothing more happens)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not predicate():
            return False
        time.sleep(0.01)
    return True


class InProcessWorkers(InProcessDispatcher):
    """Stands in for Celery: each sent trial runs in a thread with a real TrialRunner; the trials
    sent are recorded.

    ``hold_after = n`` keeps every trial sent after the n-th one queued (not started) until
    :meth:`release_held`.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.sent: list[tuple[float, str]] = []
        self.hold_after: int | None = None
        self.held: list[str] = []
        self._lock = threading.Lock()

    def send(self, task_ids: Sequence[str], queue: str, parent: str | None = None,
             labels: Mapping[str, TrialLabel] | None = None) -> None:
        for task_id in task_ids:
            with self._lock:
                self.sent.append((time.time(), task_id))
                if self.hold_after is not None and len(self.sent) > self.hold_after:
                    self.held.append(task_id)
                    continue
            self.run_trial(task_id)

    def release_held(self) -> None:
        with self._lock:
            held, self.held, self.hold_after = self.held, [], None
        for task_id in held:
            self.run_trial(task_id)

    def sent_ids(self) -> list[str]:
        with self._lock:
            return [t for _, t in self.sent]

    def teardown(self) -> None:
        """Let every trial end: open the gates, start the held ones, stop the rest."""
        trial_fns.release()
        self.release_held()
        ids = self.store.find(status=[TaskStatus.QUEUED.value, TaskStatus.IN_PROGRESS.value])
        for task_id, rec in zip(ids, self.store.get_many(ids)):
            if rec is not None:
                self.store.request_stop(task_id, rec.get("parent") or None, "test teardown")
        self.close(trial_fns.MAX_SECONDS + 5)


class Env:
    """What a test needs: the store, the in-process workers and optimizer/base builders."""

    def __init__(self, store: Store, workers: InProcessWorkers) -> None:
        self.store = store
        self.workers = workers
        self.optimizers: list[HyperParameterOptimizer] = []

    def base(self, entry: str, parameters: dict[str, Any], project: str = PROJECT) -> Task:
        return Task.create(project, entry, entry_point=f"tests.unit.trial_fns:{entry}",
                           parameters=parameters)

    def optimizer(self, base: Task, hyper_parameters: list, **kwargs: Any
                  ) -> HyperParameterOptimizer:
        kwargs.setdefault("objective_metric_title", "val")
        kwargs.setdefault("objective_metric_series", "loss")
        kwargs.setdefault("objective_metric_sign", "min")
        kwargs.setdefault("max_number_of_concurrent_tasks", 2)
        kwargs.setdefault("pool_period_min", 0.01)
        kwargs.setdefault("seed", 11)
        opt = HyperParameterOptimizer(base.id, hyper_parameters, **kwargs)
        self.optimizers.append(opt)
        return opt

    def children(self, opt: HyperParameterOptimizer) -> list[Task]:
        return Task.get_tasks(parent=opt.id)

    def active_children(self, opt: HyperParameterOptimizer) -> int:
        """Queued plus running children, read in one MULTI (a consistent snapshot)."""
        ids = self.store.redis.zrange(self.store.keys.children(opt.id), 0, -1)
        pipe = self.store.redis.pipeline(transaction=True)
        for task_id in ids:
            pipe.hget(self.store.keys.task(task_id), "status")
        return sum(s in ("queued", "in_progress") for s in pipe.execute())


@pytest.fixture
def env(store: Store) -> Iterator[Env]:
    """The ``store`` fixture with short heartbeat/stop timings, and in-process workers as the
    process's dispatcher."""
    store.settings = dataclasses.replace(store.settings, heartbeat_interval=0.05,
                                         heartbeat_grace=5.0, stop_grace=1.0)
    trial_fns.reset()
    workers = InProcessWorkers(store)
    set_dispatcher(workers)
    e = Env(store, workers)
    try:
        yield e
    finally:
        for opt in e.optimizers:
            if opt._thread is not None and opt._thread.is_alive():
                opt.stop(timeout=0.5)
        workers.teardown()
        set_dispatcher(None)
        bind_current(None)
        trial_fns.reset()


def grid(values: list[Any], name: str = X) -> list[DiscreteParameterRange]:
    return [DiscreteParameterRange(name, values)]


class Calls:
    """A job_complete_callback that records its calls."""

    def __init__(self, raises: bool = False) -> None:
        self.calls: list[tuple[str, Any, Any, dict, str | None]] = []
        self.raises = raises
        self.lock = threading.Lock()

    def __call__(self, job_id: str, value: Any, iteration: Any, params: dict,
                 best: str | None) -> None:
        with self.lock:
            self.calls.append((job_id, value, iteration, params, best))
        if self.raises:
            raise RuntimeError("callback bug")

    @property
    def ids(self) -> list[str]:
        with self.lock:
            return [c[0] for c in self.calls]


def run_to_end(opt: HyperParameterOptimizer, callback: Any = None, timeout: float = 30.0
               ) -> None:
    opt.start(job_complete_callback=callback)
    assert opt.wait(timeout=timeout / 60), "optimization did not end"


# ====================================================================== construction errors
def test_unknown_hyper_parameter_is_an_error_listing_the_base_names(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 2, "sleep": 0.0})
    with pytest.raises(ValueError) as info:
        env.optimizer(base, [UniformParameterRange("General/lr", 0.0, 1.0),
                             UniformParameterRange(X, 0.0, 1.0)])
    message = str(info.value)
    assert "General/lr" in message
    for name in ("General/epochs", "General/sleep", "General/x"):
        assert name in message
    # nothing was written: the base is the only task
    assert [t.id for t in Task.get_tasks()] == [base.id]


@pytest.mark.parametrize("sign", ["min", "max", "min_global", "max_global", "minimize",
                                  "maximize", "MAX"])
def test_accepted_signs(env: Env, sign: str) -> None:
    base = env.base("shaped", {"shape": "flat"})
    opt = env.optimizer(base, grid(["flat"], "General/shape"), objective_metric_sign=sign)
    assert opt.objective_metric.sign == sign


@pytest.mark.parametrize("sign", ["smallest", "", "mini", None, ["min"]])
def test_bad_sign_is_a_value_error(env: Env, sign: Any) -> None:
    base = env.base("shaped", {"shape": "flat"})
    with pytest.raises((ValueError, TypeError)) as info:
        env.optimizer(base, grid(["flat"], "General/shape"), objective_metric_sign=sign)
    if isinstance(sign, str):
        assert info.type is ValueError and "not one of" in str(info.value)
    with pytest.raises(ValueError, match="not one of"):
        env.optimizer(base, grid(["flat"], "General/shape"), objective_metric_title=["val"] * 2,
                      objective_metric_series=["loss", "acc"],
                      objective_metric_sign=["min", "biggest"])


def test_mismatched_objective_arguments(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 2, "sleep": 0.0})
    with pytest.raises(TypeError):
        env.optimizer(base, grid([0.1]), objective_metric_title="val",
                      objective_metric_series=["loss"], objective_metric_sign="min")
    with pytest.raises(TypeError):
        env.optimizer(base, grid([0.1]), objective_metric_title=["val", "val"],
                      objective_metric_series=["loss", "acc"], objective_metric_sign="min")
    with pytest.raises(ValueError, match="same"):
        env.optimizer(base, grid([0.1]), objective_metric_title=["val", "val"],
                      objective_metric_series=["loss", "acc"], objective_metric_sign=["min"])


@pytest.mark.parametrize("kwargs", [
    {"max_number_of_concurrent_tasks": 0},
    {"max_number_of_concurrent_tasks": 1.5},
    {"total_max_jobs": 0},
    {"total_max_jobs": 2.5},
    {"time_limit_per_job": -1},
    {"compute_time_limit": 0},
    {"optimization_time_limit": -5},
    {"pool_period_min": 0},
    {"max_iteration_per_job": 0},
    {"min_iteration_per_job": -2},
    {"save_top_k_tasks_only": "3"},
    {"execution_queue": ""},
])
def test_bad_limits_are_value_errors(env: Env, kwargs: dict[str, Any]) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 2, "sleep": 0.0})
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        env.optimizer(base, grid([0.1]), **kwargs)
    assert [t.id for t in Task.get_tasks()] == [base.id]


def test_unknown_strategy_argument_missing_base_and_bad_class(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 2, "sleep": 0.0})
    with pytest.raises(TypeError, match="learning_rat"):
        env.optimizer(base, grid([0.1]), learning_rat=0.1)
    with pytest.raises(TaskNotFoundError):
        HyperParameterOptimizer("no-such-task", grid([0.1]), "val", "loss")
    with pytest.raises(TypeError, match="SearchStrategy"):
        env.optimizer(base, grid([0.1]), optimizer_class=dict)


# ============================================================================ objectives
@pytest.mark.parametrize(("sign", "best", "values"), [
    ("min", "peak", {"dip": 5.0, "flat": 1.0, "peak": 0.5}),
    ("minimize", "peak", {"dip": 5.0, "flat": 1.0, "peak": 0.5}),
    ("min_global", "dip", {"dip": 0.1, "flat": 1.0, "peak": 0.5}),
    ("max", "dip", {"dip": 5.0, "flat": 1.0, "peak": 0.5}),
    ("maximize", "dip", {"dip": 5.0, "flat": 1.0, "peak": 0.5}),
    ("max_global", "peak", {"dip": 5.0, "flat": 1.0, "peak": 9.0}),
])
def test_sign_last_versus_global(env: Env, sign: str, best: str, values: dict[str, float]
                                 ) -> None:
    base = env.base("shaped", {"shape": "flat"})
    calls = Calls()
    opt = env.optimizer(base, grid(["dip", "flat", "peak"], "General/shape"),
                        optimizer_class=GridSearch, objective_metric_sign=sign)
    run_to_end(opt, calls)
    got = {params["General/shape"]: value for _, value, _, params, _ in calls.calls}
    assert got == values
    top = opt.get_top_experiments(3)
    assert top[0].get_parameter("shape") == best
    ordered = sorted(values, key=values.get, reverse=sign.startswith("max"))
    assert [t.get_parameter("shape") for t in top] == ordered


def test_two_objectives_rank_by_non_dominated_sort(env: Env) -> None:
    base = env.base("pareto", {"point": "1,1"})
    points = ["3,3", "0,2", "2,2", "2,0", "1,1"]
    calls = Calls()
    opt = env.optimizer(base, grid(points, "General/point"), optimizer_class=GridSearch,
                        objective_metric_title=["val", "val"],
                        objective_metric_series=["a", "b"],
                        objective_metric_sign=["min", "min"])
    run_to_end(opt, calls)
    ranked = [t.get_parameter("point") for t in opt.get_top_experiments(5)]
    # front 1 = {0,2  2,0  1,1}; then 2,2 (dominated by 1,1); then 3,3
    assert set(ranked[:3]) == {"0,2", "2,0", "1,1"} and ranked[3:] == ["2,2", "3,3"]
    # the callback gets lists for several objectives
    for _, value, iteration, params, _ in calls.calls:
        a, b = (float(v) for v in params["General/point"].split(","))
        assert value == [a, b] and iteration == [0, 0]
    details = opt.get_top_experiments_details(1)
    assert set(details[0]["metrics"]) == {"val/a", "val/b"}


# ============================================================================== callback
def test_callback_fires_once_per_job_with_float_and_int(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 3, "sleep": 0.0})
    calls = Calls()
    xs = [0.0, 0.1, 0.2, 0.3, 0.5, 0.9]
    opt = env.optimizer(base, grid(xs), optimizer_class=GridSearch)
    run_to_end(opt, calls)
    assert opt.end_reason == "search space exhausted"
    children = env.children(opt)
    assert len(children) == len(xs)
    assert sorted(calls.ids) == sorted(t.id for t in children)  # once per job
    best_so_far: tuple[float, str] | None = None
    for job_id, value, iteration, params, best in calls.calls:
        assert isinstance(value, float) and type(iteration) is int
        assert iteration == 2 and value == pytest.approx(trial_fns.loss_of(params[X], 2))
        assert params == {X: Task.get_task(job_id).get_parameter("x")}
        if best_so_far is None or value < best_so_far[0]:
            best_so_far = (value, job_id)
        assert best == best_so_far[1]
    # nothing more arrives later
    assert holds_for(lambda: len(calls.calls) == len(xs), 0.3)


def test_callback_value_of_an_integer_objective_is_a_float(env: Env) -> None:
    base = env.base("integer_objective", {"n": 3})
    calls = Calls()
    opt = env.optimizer(base, grid([3, 5], "General/n"), optimizer_class=GridSearch)
    run_to_end(opt, calls)
    assert sorted((c[1], c[2]) for c in calls.calls) == [(3.0, 7), (5.0, 7)]
    for _, value, iteration, _, _ in calls.calls:
        assert type(value) is float and type(iteration) is int


def test_raising_callback_is_logged_and_never_stops_the_optimizer(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    calls = Calls(raises=True)
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3, 0.4, 0.5]), optimizer_class=GridSearch)
    run_to_end(opt, calls)
    assert opt.end_reason == "search space exhausted"
    assert len(calls.calls) == 5 and len(set(calls.ids)) == 5
    assert all(t.status is TaskStatus.COMPLETED for t in env.children(opt))
    assert Task.get_task(opt.id).status is TaskStatus.COMPLETED
    assert sum("job_complete_callback raised" in r.getMessage() for r in caplog.records) == 5


def test_jobs_without_objective_never_rank_nor_notify(env: Env) -> None:
    base = env.base("by_kind", {"kind": "ok", "x": 1.0})
    kinds = ["fail", "crash", "ok", "silent", "other", "nan"]
    calls = Calls()
    opt = env.optimizer(base, grid(kinds, "General/kind"), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=6)
    run_to_end(opt, calls)
    assert opt.end_reason == "search space exhausted"
    by_kind = {t.get_parameter("kind"): t for t in env.children(opt)}
    assert {k: t.status.value for k, t in by_kind.items()} == {
        "fail": "failed", "crash": "failed", "ok": "completed", "silent": "completed",
        "other": "completed", "nan": "completed"}
    ok = by_kind["ok"].id
    assert calls.ids == [ok]
    assert [t.id for t in opt.get_top_experiments(10)] == [ok]
    assert [t.id for t in opt.get_top_experiments(10, include_running=True)] == [ok]
    assert [d["task_id"] for d in opt.get_top_experiments_details(10)] == [ok]
    assert [p[0] for p in opt.get_top_experiments_id_metrics_pair(10)] == [ok]
    assert Task.get_task(opt.id).status is TaskStatus.COMPLETED


# ================================================================================= top-k
def test_top_k_queries(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 2, "sleep": 0.0})
    xs = [0.9, 0.3, 0.5, 0.0, 0.2]
    opt = env.optimizer(base, grid(xs), optimizer_class=GridSearch)
    run_to_end(opt)
    expected = sorted(xs, key=lambda x: trial_fns.loss_of(x, 1))
    top = opt.get_top_experiments(3)
    assert all(isinstance(t, Task) for t in top)
    assert [t.get_parameter("x") for t in top] == expected[:3]
    assert opt.get_top_experiments(0) == [] and len(opt.get_top_experiments(99)) == 5
    assert [t.id for t in opt.get_optimizer().get_top_experiments(3)] == [t.id for t in top]

    details = opt.get_top_experiments_details(2)
    assert [d["task_id"] for d in details] == [t.id for t in top[:2]]
    first = details[0]
    assert first["hyper_parameters"] == {X: expected[0]}
    loss = first["metrics"]["val/loss"]
    assert set(first["metrics"]) == {"val/loss"}
    assert loss["metric"] == "val" and loss["variant"] == "loss"
    assert loss["value"] == pytest.approx(trial_fns.loss_of(expected[0], 1))
    assert loss["min_value"] == pytest.approx(trial_fns.loss_of(expected[0], 1))
    assert loss["max_value"] == pytest.approx(trial_fns.loss_of(expected[0], 0))
    full = opt.get_top_experiments_details(1, all_metrics=True, all_hyper_parameters=True)[0]
    assert set(full["metrics"]) == {"val/loss", "val/acc"}
    assert full["hyper_parameters"] == {X: expected[0], "General/epochs": 2,
                                        "General/sleep": 0.0}

    pairs = opt.get_top_experiments_id_metrics_pair(3)
    assert [p[0] for p in pairs] == [t.id for t in top]
    assert pairs[0][1]["val/loss"]["value"] == loss["value"]
    assert opt.get_optimizer().get_top_experiments_id_metrics_pair(3) == pairs
    assert len(opt.get_top_experiments_id_metrics_pair(2, all_metrics=True)[0][1]) == 2

    post_hoc = HyperParameterOptimizer.get_optimizer_top_experiments(
        "val", "loss", "max_global", opt.id, 2)
    assert [t.get_parameter("x") for t in post_hoc] == sorted(
        xs, key=lambda x: trial_fns.loss_of(x, 0), reverse=True)[:2]


def test_running_jobs_are_ranked_only_on_request(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    calls = Calls()
    opt = env.optimizer(base, grid([0.4, 0.1, 0.3]), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=3)
    trial_fns.release(0.4)
    opt.start(job_complete_callback=calls)
    wait_until(lambda: len(calls.calls) == 1, 10, "the released job to finish")
    wait_until(lambda: len(opt.get_top_experiments(5, include_running=True)) == 3, 10,
               "both held jobs to report")
    finished = calls.ids[0]
    assert [t.id for t in opt.get_top_experiments(5)] == [finished]
    running = opt.get_top_experiments(5, include_running=True)
    assert [t.get_parameter("x") for t in running] == [0.1, 0.3, 0.4]
    assert opt.get_num_active_experiments() == 2
    assert {t.get_parameter("x") for t in opt.get_active_experiments()} == {0.1, 0.3}
    assert [d["task_id"] for d in opt.get_top_experiments_details(5)] == [finished]
    trial_fns.release()
    assert opt.wait(timeout=0.5)
    assert [t.get_parameter("x") for t in opt.get_top_experiments(5)] == [0.1, 0.3, 0.4]
    assert opt.get_num_active_experiments() == 0


def test_only_completed_excludes_stopped_jobs(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.02})
    opt = env.optimizer(base, grid([0.2, 0.6]), optimizer_class=GridSearch,
                        max_iteration_per_job=2)
    run_to_end(opt)
    assert {t.status for t in env.children(opt)} == {TaskStatus.STOPPED}
    assert len(opt.get_top_experiments_details(5)) == 2  # stopped with the objective: ranks
    assert opt.get_top_experiments_details(5, only_completed=True) == []
    assert opt.get_top_experiments_id_metrics_pair(5, only_completed=True) == []


def archived_flags(env: Env, opt: HyperParameterOptimizer) -> dict[Any, bool]:
    """``{x: archived}`` of the optimizer's jobs."""
    return {t.get_parameter("x"): t.archived for t in env.children(opt)}


def test_save_top_k_archives_finished_jobs_below_k_but_never_running_ones(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, grid([0.9, 0.5, 0.1, 0.3, 0.7]), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=5, save_top_k_tasks_only=2)
    calls = Calls()
    opt.start(job_complete_callback=calls)
    wait_until(lambda: trial_fns.running() == 5, 10, "five running jobs")
    for x in (0.1, 0.3, 0.5):
        trial_fns.release(x)
    wait_until(lambda: len(calls.calls) == 3, 10, "three finished jobs")
    # 0.9 and 0.7 run with values worse than the top 2: running jobs are never archived
    assert archived_flags(env, opt) == {0.1: False, 0.3: False, 0.5: True, 0.9: False,
                                        0.7: False}
    trial_fns.release()
    assert opt.wait(timeout=0.5)
    assert archived_flags(env, opt) == {0.1: False, 0.3: False, 0.5: True, 0.9: True,
                                        0.7: True}
    # archived jobs are still results (ClearML keeps them too), best first
    assert [t.get_parameter("x") for t in opt.get_top_experiments(5)] == [0.1, 0.3, 0.5,
                                                                        0.7, 0.9]


def test_save_top_k_restores_a_job_that_climbs_back(env: Env) -> None:
    base = env.base("pareto", {"point": "1,1"})
    snapshots: list[dict[Any, bool]] = []
    opt = env.optimizer(base, grid(["1.0,0.5", "2.0,0.9", "0.5,0.4"], "General/point"),
                        optimizer_class=GridSearch, max_number_of_concurrent_tasks=1,
                        objective_metric_title=["val", "val"],
                        objective_metric_series=["a", "b"],
                        objective_metric_sign=["min", "max"], save_top_k_tasks_only=1)
    notified: list[str] = []

    def snapshot(job_id: str, *_: Any) -> None:
        # archive flags of the jobs whose end the controller has handled (this one included)
        notified.append(job_id)
        snapshots.append({t.get_parameter("point"): t.archived for t in env.children(opt)
                          if t.id in notified})

    run_to_end(opt, snapshot)
    # the callback runs after the archive changes of the job that just ended
    assert snapshots[0] == {"1.0,0.5": False}
    assert snapshots[1] == {"1.0,0.5": False, "2.0,0.9": True}
    # with the third point, all three are on the Pareto front and 2.0,0.9 becomes the
    # extreme with the largest crowding distance: it climbs back and is restored
    assert snapshots[2] == {"1.0,0.5": True, "2.0,0.9": False, "0.5,0.4": True}
    assert opt.get_top_experiments(1)[0].get_parameter("point") == "2.0,0.9"


# ========================================================================= jobs and slots
def test_total_max_jobs_and_concurrency_count_running_jobs(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, [UniformParameterRange(X, 0.0, 1.0)], optimizer_class=RandomSearch,
                        max_number_of_concurrent_tasks=3, total_max_jobs=7)
    samples: list[int] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            samples.append(env.active_children(opt))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    opt.start()
    wait_until(lambda: trial_fns.running() == 3, 10, "three running jobs")
    assert holds_for(lambda: len(env.children(opt)) == 3, 0.3)  # no fourth while 3 run
    first = trial_fns.started[0][1]["x"]
    trial_fns.release(first)
    wait_until(lambda: len(env.children(opt)) == 4, 10, "a job for the freed slot")
    assert holds_for(lambda: len(env.children(opt)) == 4, 0.2)
    trial_fns.release()
    assert opt.wait(timeout=0.5)
    stop_sampling.set()
    sampler.join()
    assert len(env.children(opt)) == 7 and opt.end_reason == "total_max_jobs reached"
    assert len(trial_fns.started) == 7
    assert trial_fns.max_running == 3
    assert max(samples) <= 3
    assert Task.get_task(opt.id).status is TaskStatus.COMPLETED


def test_concurrency_counts_queued_jobs(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    env.workers.hold_after = 1  # every job after the first stays queued
    calls = Calls()
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3, 0.4]), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=2)
    opt.start(job_complete_callback=calls)
    wait_until(lambda: len(calls.calls) == 1, 10, "the first job to finish")
    wait_until(lambda: len(env.children(opt)) == 3, 10, "a job for the freed slot")
    # two queued jobs, nothing running: both slots are taken
    assert holds_for(lambda: len(env.children(opt)) == 3, 0.3)
    assert opt.get_num_active_experiments() == 2 and env.active_children(opt) == 2
    env.workers.release_held()
    assert opt.wait(timeout=0.5)
    assert len(env.children(opt)) == 4 and len(calls.calls) == 4


def test_time_limit_per_job_stops_long_jobs(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.02})
    calls = Calls()
    opt = env.optimizer(base, grid([0.2, 0.4]), optimizer_class=GridSearch,
                        time_limit_per_job=0.01)  # 0.6 s
    run_to_end(opt, calls)
    for task in env.children(opt):
        assert task.status is TaskStatus.STOPPED
        assert "time_limit_per_job" in task.status_reason
        assert 0.5 <= task.completed - task.started < trial_fns.MAX_SECONDS - 5
    assert len(calls.calls) == 2  # stopped with the objective: ranks and notifies
    assert opt.end_reason == "search space exhausted"


def test_max_iteration_per_job_stops_a_job_past_it(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.01})
    calls = Calls()
    opt = env.optimizer(base, grid([0.2]), optimizer_class=GridSearch, max_iteration_per_job=5)
    run_to_end(opt, calls)
    (task,) = env.children(opt)
    assert task.status is TaskStatus.STOPPED and "max_iteration_per_job" in task.status_reason
    last = task.get_last_scalar_metrics()["val"]["loss"]["iteration"]
    assert 5 < last < 500
    (_, _, iteration, _, _) = calls.calls[0]
    assert iteration == last


def test_compute_time_limit_stops_running_jobs_and_launches_no_more(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.02})
    opt = env.optimizer(base, [UniformParameterRange(X, 0.0, 1.0)],
                        max_number_of_concurrent_tasks=2, compute_time_limit=0.02)  # 1.2 s
    run_to_end(opt)
    assert opt.end_reason == "compute_time_limit reached"
    children = env.children(opt)
    assert len(children) == 2  # no new job once the budget is used up
    assert all(t.status is TaskStatus.STOPPED for t in children)
    assert sum(t.completed - t.started for t in children) >= 1.0
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.COMPLETED and "summary" in record.artifacts


# ========================================================================= time and ending
def test_no_time_limit(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1]), optimizer_class=GridSearch)
    assert not opt.is_active() and not opt.is_running()
    assert opt.elapsed() == -1.0
    assert opt.reached_time_limit() is False and opt.get_time_limit() is None
    assert opt.wait(timeout=0.01)  # not started: nothing to wait for
    opt.stop()  # not started: nothing to stop
    run_to_end(opt)
    assert opt.reached_time_limit() is False and opt.get_time_limit() is None
    assert opt.elapsed() > 0
    assert opt.start() is True  # already started


def test_time_limit_counts_from_start(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, grid([0.1]), optimizer_class=GridSearch,
                        optimization_time_limit=1.0)
    time.sleep(0.3)  # construction and start are apart
    before = time.time()
    opt.start()
    after = time.time()
    deadline = opt.get_time_limit().timestamp()
    assert before + 60 <= deadline <= after + 60
    assert not opt.reached_time_limit()
    assert opt.is_active()
    opt.set_time_limit(in_minutes=2.0)
    assert before + 120 <= opt.get_time_limit().timestamp() <= after + 120
    opt.set_time_limit(in_minutes=None)
    assert opt.get_time_limit() is None and not opt.reached_time_limit()
    opt.stop()


def test_deadline_stops_every_queued_and_running_job_and_completes(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.02})
    env.workers.hold_after = 2  # the third job stays queued
    calls = Calls()
    opt = env.optimizer(base, [UniformParameterRange(X, 0.0, 1.0)],
                        max_number_of_concurrent_tasks=3)
    opt.set_time_limit(in_minutes=0.02)  # 1.2 s after start()
    time.sleep(0.2)
    started = time.time()
    opt.start(job_complete_callback=calls)
    wait_until(lambda: trial_fns.running() == 2 and len(env.children(opt)) == 3, 10,
               "two running jobs and one queued")
    assert opt.wait(timeout=0.5)
    assert time.time() - started >= 1.2 - 0.05
    assert opt.reached_time_limit() and not opt.is_active()
    assert opt.end_reason == "time limit reached"
    children = env.children(opt)
    assert len(children) == 3
    assert all(t.status is TaskStatus.STOPPED for t in children)
    assert all(t.status_reason == "time limit reached" for t in children)
    queued = [t for t in children if t.started is None]
    assert len(queued) == 1  # stopped while still queued: it never ran
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.COMPLETED
    assert record.status_reason == "time limit reached"
    summary = record.artifacts["summary"].get()
    assert summary["reason"] == "time limit reached" and summary["jobs"] == 3
    assert len(summary["top"]) == 2 and len(calls.calls) == 2
    assert opt.elapsed() >= 0.02


def test_stop_ends_the_optimizer_stopped(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3]), optimizer_class=GridSearch)
    assert not opt.is_active()
    opt.start()
    assert opt.is_active() and opt.is_running()
    wait_until(lambda: trial_fns.running() == 2, 10, "two running jobs")
    opt.stop()
    assert not opt.is_active()
    assert opt.end_reason == "stopped by user"
    assert all(t.status is TaskStatus.STOPPED for t in env.children(opt))
    assert len(env.children(opt)) == 2
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.STOPPED
    assert record.artifacts["summary"].get()["reason"] == "stopped by user"
    opt.stop()  # again: nothing happens


def test_a_completed_optimizer_does_not_start_again(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1]), optimizer_class=GridSearch)
    run_to_end(opt)
    again = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(again)
    with pytest.raises(StatusConflictError, match="already completed"):
        again.start()


def test_reaction_is_event_driven_not_polled(env: Env) -> None:
    """Each next job is dispatched as soon as the previous one ends, although the polling
    period is 5 minutes (the measured latencies are printed)."""
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=1, pool_period_min=5.0)
    started = time.monotonic()
    run_to_end(opt)
    total = time.monotonic() - started
    children = sorted(env.children(opt), key=lambda t: t.created)
    latencies = [b.created - a.completed for a, b in itertools.pairwise(children)]
    print(f"dispatch latency after a job ended: median {statistics.median(latencies) * 1000:.1f}"
          f" ms, max {max(latencies) * 1000:.1f} ms; whole run {total:.2f} s")
    assert len(children) == 6
    assert all(0 <= lat < 30 for lat in latencies)  # pool_period_min is 300 s
    assert total < 60


# ====================================================================== optimizer record
def test_the_optimizer_is_a_task_record(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1, 0.2]), optimizer_class=GridSearch, total_max_jobs=2,
                        save_top_k_tasks_only=1)
    record = Task.get_task(opt.id)
    assert record.task_type == "optimizer" and "optimization" in record.tags
    assert record.name == f"Optimizing: {base.name}" and record.project == PROJECT
    assert record.status is TaskStatus.CREATED
    config = json.loads(record.record["configuration"])
    assert config["base_task_id"] == base.id and config["total_max_jobs"] == 2
    assert config["objectives"] == [{"title": "val", "series": "loss", "sign": "min"}]
    assert config["hyper_parameters"][0]["name"] == X
    assert config["optimizer_class"].endswith(":GridSearch")
    assert record.get_parameters()["opt/save_top_k_tasks_only"] == 1
    run_to_end(opt)
    children = env.children(opt)
    assert len(children) == 2 and all(t.parent == opt.id for t in children)
    assert all(t.project == PROJECT and "optimization" in t.tags for t in children)
    keys = OptimizerKeys(env.store.keys.ns)  # the saved format, read raw
    state = env.store.redis.hgetall(keys.state(opt.id))
    assert {"cursor", "strategy", "scheduler", "budget"} <= set(state)
    jobs = env.store.redis.hgetall(keys.jobs(opt.id))
    assert set(jobs) == {t.id for t in children}
    assert Task.get_task(opt.id).status is TaskStatus.COMPLETED


def test_spawn_project_and_auto_connect_task(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1, 0.2]), optimizer_class=GridSearch,
                        spawn_project="spawned")
    run_to_end(opt)
    spawned = Task.get_tasks(project="spawned")
    assert {t.id for t in spawned} >= {t.id for t in env.children(opt)}
    assert len(env.children(opt)) == 2
    assert all(t.project == "spawned" for t in env.children(opt))

    mine = Task.create("mine", "my optimizer", task_type="optimizer")
    opt2 = env.optimizer(base, grid([0.3]), optimizer_class=GridSearch, auto_connect_task=mine)
    assert opt2.id == mine.id
    assert "optimization" in mine.tags and json.loads(mine.record["configuration"])
    run_to_end(opt2)
    assert [t.project for t in env.children(opt2)] == ["mine"]
    assert mine.status is TaskStatus.COMPLETED and "summary" in mine.artifacts


# ================================================================================ resume
def test_resume_after_a_crash_carries_on(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    xs = [0.5, 0.4, 0.3, 0.2, 0.1, 0.6]
    first_calls = Calls()
    opt = env.optimizer(base, grid(xs), optimizer_class=GridSearch, total_max_jobs=5,
                        max_number_of_concurrent_tasks=2)
    opt.start(job_complete_callback=first_calls)
    trial_fns.release(0.5)
    trial_fns.release(0.4)
    wait_until(lambda: len(first_calls.calls) == 2, 10, "two finished jobs")
    wait_until(lambda: trial_fns.running() == 2, 10, "jobs 0.3 and 0.2 to run")
    time.sleep(0.7)  # at least one housekeeping pass (0.6 s) saves the state meanwhile
    crash(opt)
    elapsed_first = opt.elapsed()
    assert Task.get_task(opt.id).status is TaskStatus.IN_PROGRESS
    # while no controller runs, one of the running jobs ends
    trial_fns.release(0.3)
    by_x = {t.get_parameter("x"): t for t in env.children(opt)}
    wait_until(lambda: by_x[0.3].status is TaskStatus.COMPLETED, 10, "0.3 to end")
    assert sorted(by_x) == [0.2, 0.3, 0.4, 0.5]

    second_calls = Calls()
    resumed = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(resumed)
    assert resumed.id == opt.id
    assert resumed.elapsed() == -1.0
    resumed_at = time.time()
    resumed.start(job_complete_callback=second_calls)
    wait_until(lambda: len(env.children(resumed)) == 5, 10, "the fifth job")
    trial_fns.release()
    assert resumed.wait(timeout=0.5)

    assert resumed.end_reason == "total_max_jobs reached"  # the job budget continued
    children = env.children(resumed)
    assert len(children) == 5
    xs_run = [p["x"] for _, p in trial_fns.started]
    assert sorted(xs_run) == [0.1, 0.2, 0.3, 0.4, 0.5]  # each ran once; the grid continued
    assert len(trial_fns.started) == 5
    assert all(t.attempts == 1 for t in children)
    assert all(t.status is TaskStatus.COMPLETED for t in children)
    first = {p[X] for _, _, _, p, _ in first_calls.calls}
    second = [p[X] for _, _, _, p, _ in second_calls.calls]
    assert first == {0.5, 0.4}
    assert sorted(second) == [0.1, 0.2, 0.3]  # re-attached, ended while down, and new
    assert [t.get_parameter("x") for t in resumed.get_top_experiments(5)] == [
        0.1, 0.2, 0.3, 0.4, 0.5]
    # elapsed time continues from the last saved pass (at most one housekeeping period old)
    assert resumed.elapsed() >= elapsed_first - 0.011
    assert resumed.elapsed() * 60 > time.time() - resumed_at + 0.1
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.COMPLETED
    assert record.artifacts["summary"].get()["jobs"] == 5


def test_resume_keeps_the_strategy_state_of_random_search(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    space = grid([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    opt = env.optimizer(base, space, optimizer_class=RandomSearch,
                        max_number_of_concurrent_tasks=2)
    opt.start()
    wait_until(lambda: trial_fns.running() == 2, 10, "two running jobs")
    first_two = [p["x"] for _, p in trial_fns.started]
    trial_fns.release(first_two[0])
    wait_until(lambda: trial_fns.running() == 2 and len(trial_fns.started) == 3, 10,
               "a third job")
    crash(opt)
    resumed = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(resumed)
    trial_fns.release()
    resumed.start()
    assert resumed.wait(timeout=0.5)
    assert resumed.end_reason == "search space exhausted"
    xs_run = sorted(p["x"] for _, p in trial_fns.started)
    assert xs_run == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]  # no configuration twice


def test_resume_of_a_task_that_is_not_an_optimizer(env: Env) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    with pytest.raises(ValueError, match="not an hpqueue optimizer"):
        HyperParameterOptimizer.resume(base.id)
    with pytest.raises(TaskNotFoundError):
        HyperParameterOptimizer.resume("missing")


def crash_in(opt: HyperParameterOptimizer, method: str,
             when: Callable[[Any], bool] = lambda arg: True) -> threading.Event:
    """Make the driver die inside ``method`` (a side-effect step that runs after the pass was
    persisted) the first time ``when(argument)`` holds; the returned event is set then."""
    driver = opt._driver
    assert driver is not None
    original = getattr(driver, method)
    crashed = threading.Event()
    opt._finalize = lambda: None  # type: ignore[method-assign]

    def wrapper(arg: Any) -> Any:
        if not crashed.is_set() and when(arg):
            crashed.set()
            raise Crash()
        return original(arg)

    setattr(driver, method, wrapper)
    return crashed


def resume(env: Env, opt: HyperParameterOptimizer) -> HyperParameterOptimizer:
    assert opt._thread is not None
    opt._thread.join(10)
    assert not opt._thread.is_alive()
    again = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(again)
    return again


def test_resume_redoes_callback_and_archive_lost_in_a_crash(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    calls = Calls()
    opt = env.optimizer(base, grid([0.1, 0.9]), optimizer_class=GridSearch,
                        save_top_k_tasks_only=1)
    opt.start(job_complete_callback=calls)
    wait_until(lambda: trial_fns.running() == 2, 10, "two running jobs")
    crashed = crash_in(opt, "_carry_out", lambda out: bool(out.notify))
    trial_fns.release(0.1)
    wait_until(crashed.is_set, 10, "the crash")
    trial_fns.release(0.9)
    again = resume(env, opt)
    assert calls.calls == []  # the crash came before the callback
    again.start(job_complete_callback=calls)
    assert again.wait(timeout=0.5)
    assert sorted(c[3][X] for c in calls.calls) == [0.1, 0.9]  # each exactly once
    assert archived_flags(env, again) == {0.1: False, 0.9: True}


def test_resume_redoes_a_stop_request_lost_in_a_crash(env: Env) -> None:
    base = env.base("loop", {"x": 0.5, "period": 0.02})
    opt = env.optimizer(base, grid([0.2]), optimizer_class=GridSearch, max_iteration_per_job=3)
    opt.start()
    crashed = crash_in(opt, "_carry_out", lambda out: bool(out.stops))
    wait_until(crashed.is_set, 10, "the crash")
    again = resume(env, opt)
    again.start()
    assert again.wait(timeout=0.3), "the job past max_iteration_per_job was never stopped"
    (task,) = env.children(again)
    assert task.status is TaskStatus.STOPPED and "max_iteration_per_job" in task.status_reason


def test_resume_enqueues_jobs_created_just_before_a_crash(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    calls = Calls()
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3]), optimizer_class=GridSearch)
    opt._finalize = lambda: None  # type: ignore[method-assign]
    crashed = threading.Event()
    original = driver_module.Driver._enqueue

    def enqueue(self: driver_module.Driver, jobs: list) -> None:
        if jobs and not crashed.is_set():  # the very first jobs: saved, never queued
            crashed.set()
            raise Crash()
        original(self, jobs)

    monkeypatch.setattr(driver_module.Driver, "_enqueue", enqueue)
    opt.start(job_complete_callback=calls)
    wait_until(crashed.is_set, 10, "the crash")
    assert len(env.children(opt)) == 2 and env.workers.sent_ids() == []  # saved, never sent
    again = resume(env, opt)
    again.start(job_complete_callback=calls)
    assert again.wait(timeout=0.5)
    assert len(env.children(again)) == 3 and len(calls.calls) == 3
    assert len(trial_fns.started) == 3


def test_a_second_controller_waits_for_the_lease_and_leaves_the_state_alone(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver_module, "LEASE_TTL", 2.0)  # renewed every 0.6 s
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3]), optimizer_class=GridSearch)
    opt.start()
    wait_until(lambda: trial_fns.running() == 2, 10, "two running jobs")
    intruder = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(intruder)
    intruder.start()
    assert intruder.wait(timeout=0.5)
    assert isinstance(intruder._driver.error, driver_module.LeaseHeldError)
    assert opt.is_active()
    assert "summary" not in Task.get_task(opt.id).artifacts  # the intruder wrote no report
    trial_fns.release()
    assert opt.wait(timeout=0.5)
    assert opt.end_reason == "search space exhausted"
    assert len(env.children(opt)) == 3
    record = Task.get_task(opt.id)
    assert record.status is TaskStatus.COMPLETED
    # the intruder wrote nothing: the saved state is the live controller's final one
    resumed = HyperParameterOptimizer.resume(opt.id)
    assert resumed._scheduler.created == 3 and resumed._scheduler.done is not None


def test_resume_after_stop_continues_the_optimization(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    calls = Calls()
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3, 0.4]), optimizer_class=GridSearch,
                        total_max_jobs=4)
    trial_fns.release(0.1)
    opt.start(job_complete_callback=calls)
    wait_until(lambda: len(calls.calls) == 1 and trial_fns.running() == 2, 10,
               "one finished job and two running")
    opt.stop()
    assert Task.get_task(opt.id).status is TaskStatus.STOPPED
    trial_fns.release()
    again = resume(env, opt)
    again.start(job_complete_callback=calls)
    assert again.wait(timeout=0.5)
    assert again.end_reason == "total_max_jobs reached"
    assert sorted(t.get_parameter("x") for t in env.children(again)) == [0.1, 0.2, 0.3, 0.4]
    assert len(trial_fns.started) == 4  # the stopped jobs are not run again
    assert Task.get_task(opt.id).status is TaskStatus.COMPLETED


def test_resume_counts_run_time_of_jobs_that_ran_while_the_controller_was_down(env: Env
                                                                             ) -> None:
    base = env.base("gated", {"x": 0.5})
    env.workers.hold_after = 1  # the second job stays queued until the controller is down
    opt = env.optimizer(base, grid([0.1, 0.2]), optimizer_class=GridSearch,
                        compute_time_limit=60.0)
    opt.start()
    wait_until(lambda: trial_fns.running() == 1 and len(env.children(opt)) == 2, 10,
               "one running and one queued job")
    crash(opt)
    env.workers.release_held()
    wait_until(lambda: trial_fns.running() == 2, 10, "the held job to start")
    time.sleep(0.5)
    trial_fns.release(0.2)
    by_x = {t.get_parameter("x"): t for t in env.children(opt)}
    wait_until(lambda: by_x[0.2].status is TaskStatus.COMPLETED, 10, "the job to end")
    time.sleep(0.5)  # downtime after it ended
    again = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(again)
    again.start()
    wait_until(lambda: again._scheduler.jobs[by_x[0.2].id].status.is_final, 10,
               "the resumed controller to see the end")
    job = again._scheduler.jobs[by_x[0.2].id]
    ran = by_x[0.2].completed - by_x[0.2].started
    assert ran >= 0.5
    assert 0.8 * ran <= job.run_seconds(time.time()) <= ran + 0.3
    trial_fns.release()
    assert again.wait(timeout=0.5)


def test_an_optimizer_run_inside_a_trial_adopts_it_and_leaves_its_status_alone(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    inner = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    outer_base = env.base("optimizer_in_a_trial", {"base": inner.id})
    outer = Task.clone(outer_base, parameters={"base": inner.id})
    # Task.enqueue sends its trial message through Celery: to the in-process workers here
    monkeypatch.setattr(workers_app, "send_trial", lambda task_id, queue, parent=None:
                        env.workers.send([task_id], queue, parent))
    outer.enqueue("default")
    assert outer.wait_for_status(timeout=30) is TaskStatus.COMPLETED, outer.record
    record = outer.record
    # finished by its worker ("output" is written by the runner's finish), not by the optimizer
    # (the printed text itself is not checked: in-process trials share sys.stdout)
    assert record.get("error") is None and "output" in record
    assert outer.get_last_scalar_metrics()["hpo"]["callbacks"]["last"] == 3
    jobs = Task.get_tasks(parent=outer.id)
    assert len(jobs) == 3 and all(t.status is TaskStatus.COMPLETED for t in jobs)
    assert json.loads(record["result"]) == min(
        jobs, key=lambda t: trial_fns.loss_of(t.get_parameter("x"), 0)).id
    assert outer.get_last_scalar_metrics()["hpo"]["best"]["last"] == 0.3
    assert "optimization" in outer.tags and json.loads(record["configuration"])
    assert outer.artifacts["summary"].get()["jobs"] == 3


def test_the_time_limit_continues_across_a_resume(env: Env) -> None:
    base = env.base("gated", {"x": 0.5})
    opt = env.optimizer(base, grid([0.1, 0.2]), optimizer_class=GridSearch,
                        optimization_time_limit=1.0)
    opt.start()
    wait_until(lambda: trial_fns.running() == 2, 10, "two running jobs")
    time.sleep(1.5)  # housekeeping passes (every 0.6 s) save the elapsed time meanwhile
    crash(opt)
    again = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(again)
    before = time.time()
    again.start()
    after = time.time()
    deadline = again.get_time_limit().timestamp()
    # one minute in all: what the first session used is not granted again
    assert before + 60 - 3.0 <= deadline <= after + 60 - 0.5
    assert again.elapsed() >= 0.5 / 60
    trial_fns.release()
    assert again.wait(timeout=0.5)


def test_stop_from_the_callback(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    calls = Calls()
    opt = env.optimizer(base, grid([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), optimizer_class=GridSearch,
                        max_number_of_concurrent_tasks=1)

    def callback(*args: Any) -> None:
        calls(*args)
        if len(calls.calls) == 2:
            opt.stop()  # ClearML users stop the search from the callback

    run_to_end(opt, callback)
    assert opt.end_reason == "stopped by user"
    assert not [r for r in caplog.records if "job_complete_callback raised" in r.getMessage()]
    assert len(env.children(opt)) <= 3
    assert Task.get_task(opt.id).status is TaskStatus.STOPPED


class NoWorkers(InProcessDispatcher):
    """Celery's view of a cluster where nothing consumes the queues: trials sent stay queued,
    and the consumers are the live workers the store knows of."""

    def send(self, task_ids: Sequence[str], queue: str, parent: str | None = None,
             labels: Mapping[str, TrialLabel] | None = None) -> None:
        self.sent = [*getattr(self, "sent", []), *task_ids]

    def consumed(self, queue: str) -> bool:
        from controller.dispatch import CeleryDispatcher

        return CeleryDispatcher(self.store).consumed(queue)


@pytest.mark.parametrize("worker_queues", [None, "other,default"])
def test_trials_waiting_on_a_queue_nobody_consumes_are_warned_about(
        env: Env, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        worker_queues: str | None) -> None:
    monkeypatch.setattr(driver_module, "NO_WORKER_WARNING", 0.2)
    if worker_queues is not None:  # a live worker (as its supervisor registers it)
        env.store.redis.set(env.store.keys.worker("w1@host"), worker_queues, ex=30)
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    dispatcher = NoWorkers(env.store)
    opt = env.optimizer(base, grid([0.1, 0.2]), optimizer_class=GridSearch,
                        dispatcher=dispatcher)
    opt.start()
    wait_until(lambda: len(getattr(dispatcher, "sent", [])) == 2, 10, "the trials sent")
    warned = lambda: any("hpq worker -Q default" in r.getMessage()
                         for r in caplog.records)
    if worker_queues is None:
        wait_until(warned, 10, "the warning")
        assert sum("no live worker" in r.getMessage() for r in caplog.records) == 1
    else:
        time.sleep(1.0)  # several checks pass: none warns while a worker lists the queue
        assert not warned()
    opt.stop(timeout=0.2)


# ============================================================================ local mode
class RecordedWorkers:
    """Stands in for ``workers.local.LocalWorkers`` (no processes): what was started, when, and
    what was stopped."""

    log: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, queues: list[str], concurrency: int = 2, **kwargs: Any) -> None:
        self.concurrency = concurrency
        self.proc = SimpleNamespace(poll=lambda: None)  # running, for the health check
        RecordedWorkers.log.append(("start", concurrency))

    def stop(self, timeout: float = 30.0) -> None:
        RecordedWorkers.log.append(("stop", self.concurrency))


@pytest.fixture
def local_mode(env: Env, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The store counts as local mode's embedded server; local workers are recorded."""
    import workers.local

    RecordedWorkers.log = []
    monkeypatch.setattr(workers.local, "is_embedded", lambda url: True)
    monkeypatch.setattr(workers.local, "LocalWorkers", RecordedWorkers)
    return RecordedWorkers.log


def test_local_workers_start_while_the_optimizer_is_built(
        env: Env, local_mode: list[tuple[str, int]]) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1, 0.2]), max_number_of_concurrent_tasks=3)
    assert local_mode == [("start", 3)]  # before start(): they boot meanwhile
    run_to_end(opt)
    assert local_mode == [("start", 3), ("stop", 3)]  # the same workers ran the jobs
    assert {t.get_parameters()[X] for t in env.children(opt)} == {0.1, 0.2}


def test_start_locally_with_another_count_replaces_them(
        env: Env, local_mode: list[tuple[str, int]]) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    opt = env.optimizer(base, grid([0.1]))
    opt.start_locally(num_workers=1)
    assert opt.wait(timeout=0.5)
    assert local_mode == [("start", 2), ("stop", 2), ("start", 1), ("stop", 1)]


def test_local_workers_stop_when_the_optimizer_cannot_be_built(
        env: Env, local_mode: list[tuple[str, int]]) -> None:
    base = env.base("quadratic", {"x": 0.5, "epochs": 1, "sleep": 0.0})
    with pytest.raises(TypeError, match="learning_rat"):
        env.optimizer(base, grid([0.1]), learning_rat=0.1)
    assert local_mode == [("start", 2), ("stop", 2)]
    with pytest.raises(ValueError, match="not parameters of base task"):
        env.optimizer(base, grid([0.1], name="General/nope"))
    assert local_mode == [("start", 2), ("stop", 2)]  # refused before any worker started
