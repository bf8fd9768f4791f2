"""The strategy contract (``controller/strategies/base.py``), checked for every strategy with the
suite users run on their own (:mod:`controller.testing`), and on a strategy written as a user
would write one.

One registry lists every strategy class with constructor arguments that make sense for it; each
test is parametrised over it (syne-tune's ``test_schedulers_api.py`` pattern). A module that has
not landed yet is skipped; once all have landed nothing is skipped (``test_registry_complete``).
What each check asserts is in :mod:`controller.testing`'s docstring.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from controller.parameters import Parameter
from controller.simulate import Report, simulate
from controller.strategies.base import SearchStrategy, Suggestion, Trial
from controller.strategies.grid_random import config_key
from controller.testing import (
    MAX_RESOURCE,
    OBJECTIVE,
    RESOURCE,
    SPACE,
    SPACES,
    StrategyCase,
    check_failures_and_stops_through_the_loop,
    check_resume_through_the_scheduler,
    check_several_objectives,
    check_shuffled_completions,
    check_state_dict_small,
    check_state_round_trip,
    check_strategy,
    check_suggestions_inside_space,
    checks,
)

# A fixed list for Mapping: 12 points of SPACE (so that ``space.contains`` holds for it too).
_MAPPING_VALUES = [{"General/u": round(0.08 * i, 2), "General/dropout": [0.1, 0.2, 0.3][i % 3],
                    "General/layers": 1 + i % 5, "General/lr": [1e-4, 1e-3, 1e-2][i % 3],
                    "General/act": ["relu", "tanh", "gelu"][i % 3]} for i in range(12)]



def _phs_sets() -> dict[str, Any]:
    """phs's sets over SPACE's names: 12 drawn ones, then 24 with GP-suggested u and layers."""
    from controller.phs import ParameterDefinition

    pardef = ParameterDefinition(seed=0)
    pardef.set_data_types_and_order([("u", float), ("dropout", float), ("layers", int),
                                     ("lr", float), ("act", str)])
    pardef.add_individual_parameter_set(number_of_sets=12, set={
        "u": {"type": "random", "bounds": [0, 1], "round_digits": 3},
        "dropout": {"type": "random_from_list", "lst": [0.1, 0.2, 0.3, 0.4, 0.5]},
        "layers": {"type": "random", "bounds": [1, 5], "round_digits": 0},
        "lr": {"type": "random_from_list", "lst": [1e-4, 1e-3, 1e-2]},
        "act": {"type": "random_from_list", "lst": ["relu", "tanh", "gelu"]}})
    pardef.add_individual_parameter_set(number_of_sets=24, set={
        "u": {"type": "bayesian", "bounds": [0, 1]},
        "dropout": {"type": "explicit", "value": 0.2},
        "layers": {"type": "bayesian", "bounds": [1, 5]},
        "lr": {"type": "explicit", "value": 1e-3},
        "act": {"type": "random_from_list", "lst": ["relu", "tanh"]}})
    defs = pardef.get_parameter_definitions()
    return {"sets": defs.sets, "types": defs.types,
            "utility_function": {"acquisition_function": "ei", "eps": 0.0, "num_warmup": 100,
                                 "num_iterations": 2}}


def _phs_allowed(p: dict[str, Any]) -> bool:
    return (set(p) == {"General/u", "General/dropout", "General/layers", "General/lr",
                       "General/act"} and 0 <= p["General/u"] <= 1
            and p["General/layers"] in range(1, 6) and p["General/act"] in ("relu", "tanh",
                                                                            "gelu"))


# ---------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Entry:
    """One strategy configuration of the suite: its class (by module, so that a module that has
    not landed is skipped), constructor arguments besides the space and the seed, and the rest
    of its :class:`StrategyCase`."""

    id: str
    module: str
    cls: str
    kwargs: dict[str, Any] | None = None
    resource: tuple[str, float, float] | None = None
    supports_parameter_set: bool = True
    finite: bool = False  # runs out of suggestions on its own
    allowed: Callable[[dict[str, Any]], bool] | None = None  # runs given configurations
    volatile_state: frozenset[str] = frozenset()

    def load(self) -> type[SearchStrategy]:
        if importlib.util.find_spec(self.module) is None:
            pytest.skip(f"{self.module} has not landed yet")
        return getattr(importlib.import_module(self.module), self.cls)

    def case(self) -> StrategyCase:
        cls, kwargs = self.load(), self.kwargs or {}

        def factory(hyper_parameters: list[Parameter], seed: int) -> SearchStrategy:
            return cls(hyper_parameters=hyper_parameters, seed=seed, **kwargs)

        return StrategyCase(self.id, factory, self.resource, self.supports_parameter_set,
                            self.finite, self.allowed, self.volatile_state)


_GP_UTILITY = {"acquisition_function": "ucb", "kappa": 2.576, "num_warmup": 200,
               "num_iterations": 3}
_MF = (RESOURCE, 1, MAX_RESOURCE)

REGISTRY = [
    Entry("grid", "controller.strategies.grid_random", "GridSearch"),
    Entry("random", "controller.strategies.grid_random", "RandomSearch"),
    # the Optuna storage is the bound one (controller.testing.contract_context), as in an
    # optimizer; the owner token is random
    Entry("optuna", "controller.strategies.optuna_search", "OptimizerOptuna",
          {"min_iteration_per_job": 1}, supports_parameter_set=False,
          volatile_state=frozenset({"owner"})),
    Entry("hyperband", "controller.strategies.hyperband", "Hyperband",
          {"max_iterations": MAX_RESOURCE, "eta": 3, "resource": RESOURCE},
          resource=_MF, finite=True),
    Entry("hyperband-resume", "controller.strategies.hyperband", "Hyperband",
          {"max_iterations": MAX_RESOURCE, "eta": 3, "resource": RESOURCE, "resume": True},
          resource=_MF, finite=True),
    Entry("bohb", "controller.strategies.bohb", "OptimizerBOHB",
          {"min_budget": 1, "max_budget": MAX_RESOURCE, "eta": 3, "resource": RESOURCE,
           "total_max_jobs": 60, "random_fraction": 0.2}, resource=_MF, finite=True),
    # ClearML's way: no resource parameter, the budget counted in reported iterations
    Entry("bohb-clearml", "controller.strategies.bohb", "OptimizerBOHB",
          {"min_iteration_per_job": 1, "max_iteration_per_job": MAX_RESOURCE, "eta": 3,
           "total_max_jobs": 60, "random_fraction": 0.2}, finite=True),
    Entry("asha", "controller.strategies.asha", "ASHA",
          {"min_resource": 1, "max_resource": MAX_RESOURCE, "reduction_factor": 3,
           "resource": RESOURCE}, resource=_MF),
    Entry("asha-resume", "controller.strategies.asha", "ASHA",
          {"min_resource": 1, "max_resource": MAX_RESOURCE, "reduction_factor": 3,
           "resource": RESOURCE, "resume": True, "max_trials": 40}, resource=_MF, finite=True),
    Entry("bayes_gp", "controller.strategies.bayes_gp", "BayesianGP",
          {"num_initial_runs": 4, "max_iterations": 20, "utility_function": _GP_UTILITY},
          finite=True),
    Entry("bayes_gp-wait", "controller.strategies.bayes_gp", "BayesianGP",
          {"num_initial_runs": 4, "max_iterations": 8, "utility_function": _GP_UTILITY,
           "wait_for_results": True}, finite=True),
    Entry("iterative", "controller.strategies.iterative", "Iterative",
          {"tuner": "controller.strategies.grid_random:RandomSearch", "max_iterations": 3,
           "batch_size": 4}, finite=True),
    Entry("pbt", "controller.strategies.pbt", "PopulationBasedTraining",
          {"resource": RESOURCE, "perturbation_interval": 3, "max_resource": MAX_RESOURCE,
           "population_size": 6, "min_population": 3},
          # a copied checkpoint trains on: at most every member's units in one lineage
          resource=(RESOURCE, 1, 6 * MAX_RESOURCE), finite=True),
    Entry("pbt_server", "controller.strategies.pbt_server", "PBTServer",
          {"population_size": 16}, finite=True),
    Entry("parameter_sets", "controller.strategies.parameter_sets", "ParameterSets",
          _phs_sets(), finite=True, allowed=_phs_allowed),
    Entry("mapping", "controller.strategies.mapping", "Mapping", {"values": _MAPPING_VALUES},
          finite=True, allowed=lambda p: p in _MAPPING_VALUES),
]
IDS = [e.id for e in REGISTRY]
EXPECTED_MODULES = ("grid_random", "optuna_search", "hyperband", "bohb", "asha", "bayes_gp",
                    "mapping", "pbt", "pbt_server", "parameter_sets", "iterative")


def test_registry_complete() -> None:
    """Every strategy module of the issue is in the registry and imports; every concrete
    SearchStrategy defined in ``controller/strategies`` is in the registry (a new one must be
    added here)."""
    import controller.strategies as package

    present = [m for m in EXPECTED_MODULES
               if importlib.util.find_spec(f"controller.strategies.{m}") is not None]
    listed = {(e.module, e.cls) for e in REGISTRY}
    assert set(EXPECTED_MODULES) <= {m.rsplit(".", 1)[1] for m, _ in listed}
    for entry in REGISTRY:
        if entry.module.rsplit(".", 1)[1] in present:
            entry.load()
    found = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, SearchStrategy)
                    and obj.__module__ == module.__name__ and not inspect.isabstract(obj)):
                found.add((module.__name__, name))
    assert found <= listed, f"strategies missing from REGISTRY: {sorted(found - listed)}"
    if len(present) < len(EXPECTED_MODULES):
        pytest.skip(f"not landed yet: {sorted(set(EXPECTED_MODULES) - set(present))}")


# ---------------------------------------------------------------------- the checks
@pytest.mark.parametrize("space_id", list(SPACES))
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_suggestions_inside_space(entry: Entry, space_id: str) -> None:
    check_suggestions_inside_space(entry.case(), space_id)


@pytest.mark.parametrize("workers", [1, 5])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_any_order_failures_and_stops_through_the_loop(entry: Entry, workers: int) -> None:
    check_failures_and_stops_through_the_loop(entry.case(), workers)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_shuffled_completions_direct(entry: Entry, seed: int) -> None:
    check_shuffled_completions(entry.case(), seed)


# Mapping runs its own list: the space plays no part in it.
_ROUND_TRIP = [pytest.param(e, s, id=f"{e.id}-{s}") for e in REGISTRY
               for s in ("mixed", "finite") if e.allowed is None or s == "mixed"]


@pytest.mark.parametrize("k", [0, 5, 17])
@pytest.mark.parametrize(("entry", "space_id"), _ROUND_TRIP)
def test_state_round_trip_continues_identically(entry: Entry, space_id: str, k: int) -> None:
    check_state_round_trip(entry.case(), space_id, k)


@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_several_objectives(entry: Entry) -> None:
    check_several_objectives(entry.case())


@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_state_dict_is_json_and_small(entry: Entry) -> None:
    check_state_dict_small(entry.case())


@pytest.mark.parametrize("ended", [4, 9])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_resume_through_the_scheduler(entry: Entry, ended: int) -> None:
    check_resume_through_the_scheduler(entry.case(), ended)


# ---------------------------------------------------------------------- the simulator
def test_simulate_continues_after_iteration_zero() -> None:
    """A trial that continues a job whose last report was iteration 0 starts at iteration 1."""
    starts: list[int] = []

    class Continue(SearchStrategy):
        def suggest(self) -> Suggestion | None:
            n = len(starts)
            if n == 0:
                return Suggestion({"General/u": 0.5})
            if n == 1:
                return Suggestion({"General/u": 0.5}, continue_from="sim0")
            return None

    def model(parameters: dict[str, Any], start_iteration: int) -> Any:
        starts.append(start_iteration)
        return [Report(1.0, start_iteration, 0.5)], 1.0, False

    simulate(Continue(hyper_parameters=[SPACE[0]]), model, objective=OBJECTIVE, workers=1)
    assert starts == [0, 1]


# ---------------------------------------------------------------------- a user's strategy
class BestNeighbour(SearchStrategy):
    """A strategy as a user writes one, on the core contract alone: random points, then points
    near the best completed one (each parameter resampled with probability ``explore``, else
    the best's value). Its state is the seed and generator; the best comes from the trials."""

    def __init__(self, hyper_parameters: Iterable[Parameter] = (), *, explore: float = 0.5,
                 seed: int | None = None) -> None:
        super().__init__(hyper_parameters, seed=seed)
        if not 0 <= explore <= 1:
            raise ValueError(f"explore must be in [0, 1], got {explore!r}")
        self.explore = explore
        self._best: tuple[float, str, dict[str, Any]] | None = None

    def suggest(self) -> Suggestion:
        config: dict[str, Any] = {}
        for parameter in self.space.parameters:
            fresh = parameter.get_value(self.rng)
            keep = self._best is not None and self.rng.random() >= self.explore
            config.update({k: self._best[2][k] for k in fresh} if keep and self._best
                          else fresh)
        return Suggestion(config)

    def on_trial_complete(self, trial: Trial) -> None:
        if trial.status != "completed" or trial.value is None:
            return
        loss = self.loss(trial.value)
        if math.isnan(loss):
            return
        # ties broken by the configuration, so that the best does not depend on the order
        candidate = (loss, config_key(trial.parameters), dict(trial.parameters))
        if self._best is None or candidate[:2] < self._best[:2]:
            self._best = candidate

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self._best = None
        for trial in trials:
            if trial.finished:
                self.on_trial_complete(trial)


def user_case(explore: float = 0.3) -> StrategyCase:
    return StrategyCase("best-neighbour",
                        lambda space, seed: BestNeighbour(space, explore=explore, seed=seed))


def test_check_strategy_on_a_user_strategy() -> None:
    """The whole suite, as a user runs it on a strategy of their own."""
    check_strategy(user_case())


@pytest.mark.parametrize("check", checks(user_case()), ids=str)
def test_each_check_on_a_user_strategy(check: Any) -> None:
    """The pytest form of the docstring's second example: one test per check."""
    check(user_case())


def test_check_strategy_names_the_broken_check() -> None:
    """A strategy that forgets what it suggested on resume fails the round trip, by name."""

    class Forgetful(BestNeighbour):
        def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
            super().load_state_dict(state, trials)
            self.rng = __import__("numpy").random.default_rng(self.seed)  # restarts its draws

    case = StrategyCase("forgetful", lambda space, seed: Forgetful(space, seed=seed))
    check_suggestions_inside_space(case)
    with pytest.raises(AssertionError, match=r"state_round_trip\[mixed-5\]: forgetful: after a "
                                             r"round trip at step 5"):
        check_strategy(case)


def test_a_suggestion_outside_the_space_is_named() -> None:
    class Outside(BestNeighbour):
        def suggest(self) -> Suggestion:
            return Suggestion({**super().suggest().parameters, "General/u": 2.0})

    with pytest.raises(AssertionError, match="outside the space"):
        check_suggestions_inside_space(StrategyCase("outside", lambda sp, seed: Outside(sp)))


