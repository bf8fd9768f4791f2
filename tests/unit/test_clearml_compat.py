"""The strategy contract's two layers: the core (space, seed, own arguments, ``bind``) and
ClearML's constructor arguments and queries over it (``strategies/clearml_compat.py``), and how
the optimizer builds and binds each kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import optuna
import pytest

from controller import HyperParameterOptimizer
from controller.objective import MultiObjective, Objective
from controller.parameters import Parameter, UniformParameterRange
from controller.strategies import GridSearch, OptimizerBOHB, RandomSearch, SearchStrategy
from controller.strategies.base import OptimizerContext, Suggestion
from controller.strategies.clearml_compat import LOOP_ARGUMENTS, ClearMLSearchStrategy
from controller.strategies.optuna_search import OptimizerOptuna
from workers import Store, Task

X = [UniformParameterRange("General/x", 0.0, 1.0)]
LOSS = Objective("val", "loss", "min")
LOSS_DICTS = MultiObjective([LOSS]).to_dicts()


class Plain(SearchStrategy):
    """A core strategy: its space, its seed and one argument of its own."""

    def __init__(self, hyper_parameters: Iterable[Parameter] = (), *, step: float = 0.1,
                 seed: int | None = None) -> None:
        super().__init__(hyper_parameters, seed=seed)
        self.step = step

    def suggest(self) -> Suggestion:
        return Suggestion(self.space.sample(self.rng))


def base_task(store: Store) -> Task:
    return Task.create("compat", "train", entry_point="tests.unit.trial_fns:quadratic",
                       parameters={"x": 0.5, "epochs": 2, "sleep": 0.0}, store=store)


def optimizer(store: Store, optimizer_class: Any, **kwargs: Any) -> HyperParameterOptimizer:
    return HyperParameterOptimizer(base_task(store).id, X, "val", "loss", "min",
                                   optimizer_class=optimizer_class, store=store, **kwargs)


# ---------------------------------------------------------------------- the core
def test_core_strategy_takes_space_seed_and_its_own_arguments() -> None:
    strategy = Plain(X, step=0.5, seed=3)
    assert (strategy.space.names, strategy.seed, strategy.step) == (["General/x"], 3, 0.5)
    assert strategy.objective is None and strategy.context is None
    with pytest.raises(TypeError, match="base_task_id"):
        Plain(X, base_task_id="b")  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="bind"):
        strategy.loss(1.0)
    strategy.bind(OptimizerContext(LOSS))  # type: ignore[arg-type]
    assert strategy.objective is not None and strategy.objective.to_dicts() == LOSS_DICTS
    assert strategy.loss(2.0) == 2.0


def test_set_objective_keeps_the_rest_of_the_context() -> None:
    strategy = Plain(X)
    strategy.bind(OptimizerContext(MultiObjective([LOSS]), study_name="opt-1"))
    strategy.set_objective(Objective("val", "acc", "max"))
    assert strategy.context is not None and strategy.context.study_name == "opt-1"
    assert strategy.loss(2.0) == -2.0
    with pytest.raises(TypeError, match="objective"):
        OptimizerContext("val/loss")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- ClearML's layer
def test_clearml_positional_construction_keeps_the_arguments() -> None:
    strategy = GridSearch("base", X, LOSS, "q", 2, 0.5, 10.0, 60.0, 1, 9, 20, seed=4)
    assert isinstance(strategy, ClearMLSearchStrategy)
    assert (strategy.base_task_id, strategy.execution_queue, strategy.num_concurrent_workers,
            strategy.compute_time_limit) == ("base", "q", 2, 60.0)
    assert strategy.hyper_parameters == strategy.space.parameters
    assert strategy.get_objective_metric() == ("val", "loss")  # ClearML's (title, series)
    assert strategy.loop_arguments() == {"pool_period_min": 0.5, "time_limit_per_job": 10.0,
                                         "min_iteration_per_job": 1,
                                         "max_iteration_per_job": 9, "total_max_jobs": 20}
    assert set(strategy.loop_arguments()) == set(LOOP_ARGUMENTS)
    with pytest.raises(TypeError, match="colour"):
        GridSearch(hyper_parameters=X, colour="red")


def test_bohb_takes_clearml_bohb_positional_order() -> None:
    strategy = OptimizerBOHB("base", X, LOSS, "q", 2, 3, 81, 50, 0.5, None, None, 9091,
                             resource="epochs")
    assert (strategy.min_budget, strategy.max_budget, strategy.total_max_jobs,
            strategy.pool_period_min, strategy.local_port) == (3, 81, 50, 0.5, 9091)
    assert OptimizerBOHB(hyper_parameters=X, min_budget=1, max_budget=9,
                         resource="epochs").local_port == 9090
    with pytest.raises(TypeError, match="at most 12 positional"):
        OptimizerBOHB("base", X, LOSS, "q", 2, 3, 81, 50, 0.5, None, None, 9091, "extra",
                      resource="epochs")
    with pytest.raises(TypeError, match="multiple values for argument 'min_iteration_per_job'"):
        OptimizerBOHB("base", X, LOSS, "q", 2, 3, min_iteration_per_job=3, resource="epochs")


def test_queries_need_an_optimizer() -> None:
    strategy = RandomSearch(hyper_parameters=X, objective_metric=LOSS)
    for query in (strategy.get_top_experiments, strategy.get_top_experiments_details,
                  strategy.get_top_experiments_id_metrics_pair):
        with pytest.raises(RuntimeError, match="RandomSearch is not bound to a "
                                               "HyperParameterOptimizer"):
            query(3)


# ---------------------------------------------------------------------- the optimizer
def test_optimizer_builds_a_core_strategy_with_its_own_arguments_only(store: Store) -> None:
    """No ClearML argument reaches a core strategy (it would be a TypeError); the loop's limits
    stay with the loop; the optimizer binds its objective, results view and study name."""
    opt = optimizer(store, Plain, step=0.25, total_max_jobs=3, max_iteration_per_job=5, seed=8)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, Plain) and (strategy.step, strategy.seed) == (0.25, 8)
    assert (opt._config.total_max_jobs, opt._config.max_iteration_per_job) == (3, 5)
    context = strategy.context
    assert context is not None and context.results is opt._results
    assert context.study_name == opt.id and context.optuna_storage == store.url
    assert strategy.objective is not None and strategy.objective.to_dicts() == LOSS_DICTS
    with pytest.raises(TypeError, match="stepp"):
        optimizer(store, Plain, stepp=0.25)


def test_optimizer_builds_a_clearml_strategy_the_clearml_way(store: Store) -> None:
    opt = optimizer(store, RandomSearch, execution_queue="q", max_number_of_concurrent_tasks=3,
                    compute_time_limit=9.0, total_max_jobs=4)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, RandomSearch)
    assert (strategy.base_task_id, strategy.execution_queue, strategy.num_concurrent_workers,
            strategy.compute_time_limit, strategy.total_max_jobs) == (
        opt._config.base_task_id, "q", 3, 9.0, 4)
    assert strategy.get_top_experiments(3) == []  # the optimizer's results view is bound


def test_optimizer_takes_seed_space_and_limits_from_a_clearml_instance(store: Store) -> None:
    instance = RandomSearch(hyper_parameters=X, total_max_jobs=4, max_iteration_per_job=7,
                            seed=5)
    opt = HyperParameterOptimizer(base_task(store).id, [], "val", "loss",
                                  optimizer_class=instance, store=store, total_max_jobs=2)
    assert opt.get_optimizer() is instance and instance.context is not None
    assert (opt._config.seed, opt._config.total_max_jobs,
            opt._config.max_iteration_per_job) == (5, 2, 7)  # the optimizer's own wins
    assert [p["name"] for p in opt._config.hyper_parameters] == ["General/x"]


def test_optimizer_binds_its_study_to_optuna(store: Store) -> None:
    """A store without a URL: the study keeps its in-memory storage, named after the optimizer
    (with a URL, test_strategies_real.py finds it in the Redis journal)."""
    opt = optimizer(store, OptimizerOptuna, seed=2)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, OptimizerOptuna)
    assert strategy.study_name == opt.id and not strategy.continue_previous_study
    assert isinstance(strategy.storage, optuna.storages.InMemoryStorage)


def test_optuna_takes_the_bound_storage_unless_given_one() -> None:
    bound = optuna.storages.InMemoryStorage()
    context = OptimizerContext(MultiObjective([LOSS]), optuna_storage=bound, study_name="opt-9")
    free = OptimizerOptuna(hyper_parameters=X, seed=1)
    free.bind(context)
    assert (free.storage, free.study_name, free.continue_previous_study) == (bound, "opt-9", True)

    own = optuna.storages.InMemoryStorage()
    given = OptimizerOptuna(hyper_parameters=X, seed=1, optuna_storage=own, study_name="mine")
    given.bind(context)
    assert (given.storage, given.study_name, given.continue_previous_study) == (own, "mine",
                                                                                False)
    named = OptimizerOptuna(hyper_parameters=X, study_name="mine", continue_previous_study=False)
    named.bind(context)
    assert (named.storage, named.study_name, named.continue_previous_study) == (bound, "mine",
                                                                                False)

    opened = OptimizerOptuna(hyper_parameters=X, objective_metric=LOSS, seed=1)
    opened.suggest()  # the study is open in its own storage: it stays there
    before = opened.storage
    opened.bind(context)
    assert opened.storage is before and opened.study_name == "hpqueue-1"


def test_hpq_lists_concrete_strategies_only() -> None:
    from controller.cli.inputs import strategy_classes

    known = strategy_classes()
    assert {"GridSearch", "OptimizerBOHB", "OptimizerOptuna"} <= set(known)
    assert not {"SearchStrategy", "ClearMLSearchStrategy"} & set(known)
