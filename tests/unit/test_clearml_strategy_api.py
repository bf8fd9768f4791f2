"""ClearML's SearchStrategy API on the compat layer, on fakeredis with trials run in this process:
strategies written ClearML's way (``create_job``/``monitor_job``/``process_step``), the job
queries, budgets, the job class/parent/naming setters, seeds, the objective metric, and
OptimizerOptuna continuing an Optuna study."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import optuna
import pytest

from controller import (
    ClearmlJob,
    ClearMLSearchStrategy,
    DiscreteParameterRange,
    HyperParameterOptimizer,
    MultiObjective,
    Objective,
    RandomSearch,
    RandomSeed,
    UniformParameterRange,
)
from controller.dispatch import InProcessDispatcher, set_dispatcher
from controller.strategies.optuna_search import OptimizerOptuna
from workers import Store, Task, TaskStatus

XS = [0.1, 0.2, 0.3, 0.4, 0.5]
SPACE = [DiscreteParameterRange("General/x", XS)]


@pytest.fixture
def inline_workers(store: Store) -> Iterator[InProcessDispatcher]:
    dispatcher = InProcessDispatcher(store, threads=2)
    set_dispatcher(dispatcher)
    yield dispatcher
    set_dispatcher(None)
    assert dispatcher.close(timeout=10)


@pytest.fixture(autouse=True)
def _no_global_seed() -> Iterator[None]:
    yield
    RandomSeed._seed = None


def base_task(store: Store, epochs: int = 3, sleep: float = 0.0) -> Task:
    return Task.create("compat", "train", entry_point="tests.unit.trial_fns:quadratic",
                       parameters={"x": 0.5, "epochs": epochs, "sleep": sleep}, store=store)


class EachX(ClearMLSearchStrategy):
    """Written ClearML's way: one job per value of x, in order; stops a job that reports a loss
    above ``stop_above`` (ClearML's monitor_job)."""

    def __init__(self, *args: Any, stop_above: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_above = stop_above
        self.left = list(XS)
        self.monitored: list[str] = []

    def create_job(self) -> ClearmlJob | None:
        if not self.left:
            return None
        return self.helper_create_job(base_task_id=self.base_task_id,
                                      parameter_override={"General/x": self.left.pop(0)})

    def monitor_job(self, job: ClearmlJob) -> bool:
        self.monitored.append(str(job.task_id()))
        _, _, last = job.get_metric("val", "loss")
        return last is None or last <= self.stop_above


def run(store: Store, strategy: Any, **kwargs: Any) -> HyperParameterOptimizer:
    base = base_task(store, kwargs.pop("epochs", 3), kwargs.pop("sleep", 0.0))
    opt = HyperParameterOptimizer(base.id, SPACE, "val",
                                  "loss", "min", optimizer_class=strategy,
                                  max_number_of_concurrent_tasks=2, pool_period_min=0.001,
                                  store=store, **kwargs)
    opt.start()
    assert opt.wait(timeout=0.5)
    return opt


# ============================================================ a ClearML-style strategy
@pytest.mark.timeout(30)
def test_a_create_job_strategy_runs_on_the_loop(store: Store, inline_workers: Any) -> None:
    opt = run(store, EachX)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, EachX)
    children = Task.get_tasks(parent=opt.id)
    assert len(children) == len(XS) and all(t.status is TaskStatus.COMPLETED for t in children)
    created = strategy.get_created_jobs_ids()
    assert set(created) == {t.id for t in children}
    assert [p["General/x"] for p in created.values()] == XS
    jobs = strategy.get_created_jobs_tasks()
    assert all(isinstance(j, ClearmlJob) and j.task_id() == i and j.is_completed()
               for i, j in jobs.items())
    first = jobs[next(iter(created))]  # created first: x = 0.1
    assert first.get_metric("val", "loss")[2] == pytest.approx((0.1 - 0.3) ** 2 + 1 / 3)
    assert first.iterations() == 2 and first.elapsed() >= 0 and not first.is_pending()
    assert strategy.get_running_jobs() == []
    assert set(strategy.monitored) == set(created)  # at each report of the objective
    assert opt.end_reason == "search space exhausted"


@pytest.mark.timeout(30)
def test_monitor_job_false_stops_the_job(store: Store, inline_workers: Any) -> None:
    opt = run(store, EachX(stop_above=1.02), epochs=4, sleep=0.05)
    statuses = {t.get_parameter("x"): t.status for t in Task.get_tasks(parent=opt.id)}
    # x = 0.1 and 0.5 report (x-0.3)^2 + 1 = 1.04 at iteration 0: above 1.02, stopped
    assert statuses == {0.1: TaskStatus.STOPPED, 0.2: TaskStatus.COMPLETED,
                        0.3: TaskStatus.COMPLETED, 0.4: TaskStatus.COMPLETED,
                        0.5: TaskStatus.STOPPED}


class TwoPerStep(ClearMLSearchStrategy):
    """Overrides ClearML's process_step: launches two jobs a step, ends after four."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = 0

    def process_step(self) -> bool:
        self.steps += 1
        if self.steps > 2:
            return bool(self.get_running_jobs())
        for x in XS[2 * self.steps - 2:2 * self.steps]:
            job = self.helper_create_job(parameter_override={"General/x": x})
            assert job.task_id() is None and job.is_pending()
            assert job.launch(self.execution_queue) and not job.launch()
        return True


@pytest.mark.timeout(30)
def test_a_process_step_strategy_runs_on_the_loop(store: Store, inline_workers: Any) -> None:
    opt = run(store, TwoPerStep)
    xs = [t.get_parameter("x") for t in Task.get_tasks(parent=opt.id)]
    assert sorted(xs) == XS[:4]


# ============================================================ queries and setters
@pytest.mark.timeout(30)
def test_budget_and_queries_of_a_builtin_strategy(store: Store, inline_workers: Any) -> None:
    opt = run(store, RandomSearch, total_max_jobs=4, max_iteration_per_job=10)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, ClearMLSearchStrategy)
    budget = strategy.budget
    assert (budget.jobs.limit, budget.jobs.used) == (4, 1.0)
    assert budget.iterations.limit == 40 and budget.iterations.used == pytest.approx(8 / 40)
    assert budget.compute_time.limit is None and budget.to_dict()["compute_time"] == {
        "limit": None, "used": 0}
    assert len(strategy.get_created_jobs_ids()) == 4
    assert strategy.get_objective_metric() == ("val", "loss")
    outside = RandomSearch(hyper_parameters=SPACE, total_max_jobs=3, max_iteration_per_job=5)
    assert outside.budget.to_dict() == {"jobs": {"limit": 3, "used": 0},
                                        "iterations": {"limit": 15, "used": 0},
                                        "compute_time": {"limit": None, "used": 0}}
    assert outside.get_objective_metric() is None


class Named(ClearmlJob):
    """A job class of the user's own."""


@pytest.mark.timeout(30)
def test_job_class_parent_project_naming_and_optimizer_task(store: Store,
                                                            inline_workers: Any) -> None:
    strategy = EachX(hyper_parameters=SPACE)
    strategy.set_job_class(Named)
    with pytest.raises(TypeError, match="ClearmlJob subclass"):
        strategy.set_job_class(dict)  # type: ignore[arg-type]
    strategy.set_job_default_parent(None, project_name="spawned")
    strategy.set_job_naming_scheme(lambda base, params: f"{base} x={params['General/x']}")
    opt = run(store, strategy)
    children = Task.get_tasks(parent=opt.id)
    assert {t.project for t in children} == {"spawned"}
    assert all(t.name == f"train x={t.get_parameter('x')}" for t in children)
    assert all(isinstance(j, Named) for j in strategy.get_created_jobs_tasks().values())
    assert strategy._optimizer_task is not None and strategy._optimizer_task.id == opt.id
    other = EachX(hyper_parameters=SPACE)
    other.set_job_default_parent("someone-else")
    with pytest.raises(ValueError, match="jobs are children of the optimizer task"):
        HyperParameterOptimizer(base_task(store).id, SPACE, "val", "loss", "min",
                                optimizer_class=other, store=store)


def test_helper_create_job_refuses_what_hpqueue_cannot_do(store: Store) -> None:
    strategy = EachX(base_task_id="base", hyper_parameters=SPACE)
    with pytest.raises(ValueError, match="clone the optimizer's base task base, not other"):
        strategy.helper_create_job("other", {"General/x": 0.1})
    with pytest.raises(ValueError, match="task_overrides are not supported"):
        strategy.helper_create_job("base", {"General/x": 0.1},
                                   task_overrides={"script.branch": "main"})
    job = strategy.helper_create_job("base", {"General/x": 0.1}, tags=["a"])
    assert job.tags == ["a"] and job.status() == "created" and job.get_metric("a", "b") == (
        None, None, None)
    with pytest.raises(RuntimeError, match="no task yet"):
        job.task  # noqa: B018
    dropped = strategy.helper_create_job("base", {"General/x": 0.5})
    dropped.launch()
    dropped.abort()  # not handed over yet: dropped
    first = strategy.suggest()  # create_job's, not the dropped one
    assert first is not None and first.parameters == {"General/x": 0.1}  # type: ignore[union-attr]


def test_random_seeds() -> None:
    strategy = RandomSearch(hyper_parameters=SPACE, seed=3)
    assert strategy.get_random_seed() == 3
    strategy.set_random_seed(11)
    assert strategy.seed == 11 and strategy.state_dict()["seed"] == 11
    assert RandomSeed.get_random_seed() is None and RandomSearch.get_random_seed() is None
    RandomSearch.set_random_seed(5)  # ClearML's static form: the global seed
    assert RandomSeed.get_random_seed() == 5
    assert RandomSearch(hyper_parameters=SPACE).seed == 5
    assert UniformParameterRange.get_random_seed() == 5  # Parameter is a RandomSeed too
    RandomSeed.set_random_seed()
    assert RandomSeed.get_random_seed() == 1337


def test_objective_metric_of_several_objectives() -> None:
    strategy = RandomSearch(hyper_parameters=SPACE, objective_metric=MultiObjective(
        [Objective("val", "loss", "min"), Objective("val", "acc", "max")]))
    assert strategy.get_objective_metric() == [("val", "loss"), ("val", "acc")]


# ================================================================ Optuna's study
@pytest.mark.timeout(60)
def test_optuna_continues_a_given_study(store: Store, inline_workers: Any) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", study_name="earlier")
    earlier = OptimizerOptuna(hyper_parameters=SPACE, objective_metric=Objective(
        "val", "loss", "min"), continue_previous_study=study)
    assert earlier.study.study_name == "earlier" and earlier.storage is study._storage
    trial = study.ask(earlier._distributions)
    study.tell(trial, 0.01)
    opt = run(store, OptimizerOptuna, continue_previous_study=study, total_max_jobs=3)
    xs = [t.get_parameter("x") for t in Task.get_tasks(parent=opt.id)]
    assert len(xs) == 3 and trial.params["General/x"] not in xs  # tried in the study
    done = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4  # the earlier trial and the optimizer's three
