"""The strategy contract (``controller/strategies/base.py``), checked for every strategy.

One registry lists every strategy class with constructor arguments that make sense for it; each
test is parametrised over it (syne-tune's ``test_schedulers_api.py`` pattern). A module that has
not landed yet is skipped; once all have landed nothing is skipped (``test_registry_complete``).

* suggestions stay inside the space (the multi-fidelity strategies add their resource parameter,
  which must stay inside ``[min, max]`` resource);
* results, failures, metric-less stops and completions in any order are accepted, through the
  real :class:`~controller.loop.Scheduler` in simulated time (:func:`controller.simulate.simulate`)
  and through a direct driver that shuffles completions;
* ``on_trial_result`` returns a :class:`Decision`;
* ``state_dict`` survives a JSON round trip, and a fresh strategy given it plus the trials so far
  continues exactly as an uninterrupted one (the same suggestions, decisions and WAIT/None);
* a controller resumed mid-run from its saved job rows (``Job.to_row``/``Job.from_row``,
  ``Scheduler.restore`` + ``load_state_dict``) finishes the run exactly as an uninterrupted one:
  the same jobs, no duplicate ids, ``total_max_jobs`` respected.
"""

from __future__ import annotations

import heapq
import importlib
import importlib.util
import itertools
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bench.functions import LearningCurveModel, Problem
from controller.budget import Budget
from controller.jobs import Job
from controller.loop import Outcome, Scheduler
from controller.objective import MultiObjective, Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    ParameterSet,
    SearchSpace,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from controller.simulate import Report, simulate
from controller.stopping import MedianStopping
from controller.strategies.base import WAIT, Decision, SearchStrategy, Suggestion, Trial
from workers.status import TaskStatus

RESOURCE = "General/epochs"
MAX_RESOURCE = 9
OBJECTIVE = Objective("objective", "value", "min")

SPACE = (
    UniformParameterRange("General/u", 0.0, 1.0),
    UniformParameterRange("General/dropout", 0.1, 0.5, step_size=0.1),
    UniformIntegerParameterRange("General/layers", 1, 5),
    LogUniformParameterRange("General/lr", -4, -1),
    DiscreteParameterRange("General/act", ["relu", "tanh", "gelu"]),
)
PARAMETER_SET = ParameterSet([{"General/opt": "sgd", "General/momentum": 0.9},
                              {"General/opt": "adam", "General/momentum": 0.0}])
#: 45 points: the strategies that avoid repeats must remember what ran (also across a resume).
FINITE_SPACE = (
    UniformParameterRange("General/dropout", 0.1, 0.5, step_size=0.1),
    UniformIntegerParameterRange("General/layers", 1, 3),
    DiscreteParameterRange("General/act", ["relu", "tanh", "gelu"]),
)
SPACES = {"mixed": SPACE, "with_set": SPACE + (PARAMETER_SET,), "finite": FINITE_SPACE}

# A fixed list for Mapping: 12 points of SPACE (so that ``space.contains`` holds for it too).
_MAPPING_VALUES = [{"General/u": round(0.08 * i, 2), "General/dropout": [0.1, 0.2, 0.3][i % 3],
                    "General/layers": 1 + i % 5, "General/lr": [1e-4, 1e-3, 1e-2][i % 3],
                    "General/act": ["relu", "tanh", "gelu"][i % 3]} for i in range(12)]


# ---------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Entry:
    """One strategy configuration of the suite.

    ``kwargs(shared)`` gives constructor arguments besides the space, objective and seed;
    ``shared`` is a dict the round-trip tests give to both the original and the restored
    strategy (an Optuna storage lives there, as the optimizer passes its Redis journal to both).
    ``resource`` is the task parameter a multi-fidelity strategy adds, with its bounds.
    """

    id: str
    module: str
    cls: str
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] = lambda shared: {}
    resource: tuple[str, float, float] | None = None
    supports_parameter_set: bool = True
    finite: bool = False  # runs out of suggestions on its own
    samples_space: bool = True  # False: runs given configurations (checked against SPACE)

    def load(self) -> type[SearchStrategy]:
        if importlib.util.find_spec(self.module) is None:
            pytest.skip(f"{self.module} has not landed yet")
        return getattr(importlib.import_module(self.module), self.cls)


def _optuna_kwargs(shared: dict[str, Any]) -> dict[str, Any]:
    import optuna

    if "storage" not in shared:
        shared["storage"] = optuna.storages.InMemoryStorage()
    return {"optuna_storage": shared["storage"], "min_iteration_per_job": 1}


_GP_UTILITY = {"acquisition_function": "ucb", "kappa": 2.576, "num_warmup": 200,
               "num_iterations": 3}
_MF = (RESOURCE, 1, MAX_RESOURCE)

REGISTRY = [
    Entry("grid", "controller.strategies.grid_random", "GridSearch"),
    Entry("random", "controller.strategies.grid_random", "RandomSearch"),
    Entry("optuna", "controller.strategies.optuna_search", "OptimizerOptuna", _optuna_kwargs,
          supports_parameter_set=False),
    Entry("hyperband", "controller.strategies.hyperband", "Hyperband",
          lambda s: {"max_iterations": MAX_RESOURCE, "eta": 3, "resource": RESOURCE},
          resource=_MF, finite=True),
    Entry("hyperband-resume", "controller.strategies.hyperband", "Hyperband",
          lambda s: {"max_iterations": MAX_RESOURCE, "eta": 3, "resource": RESOURCE,
                     "resume": True}, resource=_MF, finite=True),
    Entry("bohb", "controller.strategies.bohb", "OptimizerBOHB",
          lambda s: {"min_budget": 1, "max_budget": MAX_RESOURCE, "eta": 3,
                     "resource": RESOURCE, "total_max_jobs": 60, "random_fraction": 0.2},
          resource=_MF, finite=True),
    Entry("asha", "controller.strategies.asha", "ASHA",
          lambda s: {"min_resource": 1, "max_resource": MAX_RESOURCE, "reduction_factor": 3,
                     "resource": RESOURCE}, resource=_MF),
    Entry("asha-resume", "controller.strategies.asha", "ASHA",
          lambda s: {"min_resource": 1, "max_resource": MAX_RESOURCE, "reduction_factor": 3,
                     "resource": RESOURCE, "resume": True, "max_trials": 40},
          resource=_MF, finite=True),
    Entry("bayes_gp", "controller.strategies.bayes_gp", "BayesianGP",
          lambda s: {"num_initial_runs": 4, "max_iterations": 20,
                     "utility_function": _GP_UTILITY}, finite=True),
    Entry("pbt", "controller.strategies.pbt", "PopulationBasedTraining",
          lambda s: {"resource": RESOURCE, "perturbation_interval": 3,
                     "max_resource": MAX_RESOURCE, "population_size": 6, "min_population": 3},
          resource=_MF, finite=True),
    Entry("mapping", "controller.strategies.mapping", "Mapping",
          lambda s: {"values": _MAPPING_VALUES}, finite=True, samples_space=False),
]
IDS = [e.id for e in REGISTRY]
EXPECTED_MODULES = ("grid_random", "optuna_search", "hyperband", "bohb", "asha", "bayes_gp",
                    "mapping", "pbt")


TWO_OBJECTIVES = MultiObjective([OBJECTIVE, Objective("accuracy", "value", "max")])


def make(entry: Entry, space: tuple = SPACE, seed: int = 7,
         shared: dict[str, Any] | None = None,
         objective: Objective | MultiObjective = OBJECTIVE) -> SearchStrategy:
    cls = entry.load()
    return cls(hyper_parameters=list(space), objective_metric=objective, seed=seed,
               **entry.kwargs({} if shared is None else shared))


def strip_resource(entry: Entry, parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parameters.items() if entry.resource is None
            or k != entry.resource[0]}


def check_suggestion(entry: Entry, strategy: SearchStrategy, s: Suggestion) -> None:
    """Inside the space; the resource (if any) inside its bounds; nothing else added."""
    assert isinstance(s, Suggestion), s
    params = strip_resource(entry, s.parameters)
    space = strategy.space if entry.samples_space else SearchSpace(SPACE)
    assert set(params) <= set(space.names), params
    assert space.contains(params), params
    json.dumps(s.parameters)  # a task parameter must be JSON
    json.dumps(s.meta)
    if entry.resource is not None:
        name, lo, hi = entry.resource
        assert name in s.parameters, s.parameters
        assert lo <= s.parameters[name] <= hi, s.parameters
    if entry.id == "mapping":
        assert s.parameters in _MAPPING_VALUES


def test_registry_complete() -> None:
    """Every strategy module of the issue is in the registry and imports; every concrete
    SearchStrategy defined in ``controller/strategies`` is in the registry (a new one must be
    added here)."""
    import inspect
    import pkgutil

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


# ---------------------------------------------------------------------- a trial model
def _loss(p: dict[str, Any]) -> float:
    act = {"relu": 0.0, "tanh": 0.1, "gelu": 0.2}[p["General/act"]]
    return ((p.get("General/u", 0.3) - 0.3) ** 2 + abs(p["General/dropout"] - 0.2)
            + 0.1 * (p["General/layers"] - 3) ** 2
            + (math.log10(p.get("General/lr", 10 ** -2.5)) + 2.5) ** 2
            + act + (0.05 if p.get("General/opt") == "sgd" else 0.0))


CONTRACT_PROBLEM = Problem("contract", SPACE, lambda p, z: _loss(p) + 0.5 * (1 - z), 0.0, True)


def chaos_model(seed: int) -> LearningCurveModel:
    """Learning curves over ``General/epochs`` with random run times, 15 % crashes (some after a
    few reports) and 10 % NaN reports (a NaN last value leaves a trial metric-less)."""
    return LearningCurveModel(CONTRACT_PROBLEM, max_resource=MAX_RESOURCE, resource=RESOURCE,
                              cost=lambda z: 10 + 90 * z, jitter=0.6, failure_rate=0.15,
                              nan_rate=0.1, seed=seed)


class EveryNthFails:
    """``model``, with trials ``2, n + 2, 2n + 2, ...`` (in launch order) crashing after their
    first report and trials ``4, n + 4, ...`` reporting only NaN (they end without a metric:
    completed, or stopped by a limit), so that every strategy sees both however few trials it
    runs."""

    def __init__(self, model: Callable, n: int = 5) -> None:
        self.model, self.n, self.calls = model, n, 0

    def __call__(self, parameters: dict[str, Any], start_iteration: int) -> Any:
        self.calls += 1
        reports, runtime, failed = self.model(parameters, start_iteration)
        if self.calls % self.n == 2 and reports:
            return reports[:1], reports[0].after, True
        if self.calls % self.n == 4:
            return [Report(r.after, r.iteration, math.nan) for r in reports], runtime, failed
        return reports, runtime, failed


class Watch:
    """Wraps a strategy's hooks (as instance attributes) to check what the loop sees."""

    def __init__(self, entry: Entry, strategy: SearchStrategy) -> None:
        self.entry, self.strategy = entry, strategy
        self.decisions: list[Any] = []
        self.completed: list[str] = []
        self.suggestions: list[Suggestion] = []
        suggest, result, complete = (strategy.suggest, strategy.on_trial_result,
                                     strategy.on_trial_complete)

        def watched_suggest() -> Any:
            s = suggest()
            assert s is None or s is WAIT or isinstance(s, Suggestion), s
            if isinstance(s, Suggestion):
                check_suggestion(entry, strategy, s)
                self.suggestions.append(s)
            return s

        def watched_result(job_id: str, iteration: int, value: Any) -> Decision:
            d = result(job_id, iteration, value)
            self.decisions.append(d)
            assert isinstance(d, Decision) and d in (Decision.CONTINUE, Decision.STOP), d
            return d

        def watched_complete(trial: Trial) -> None:
            assert trial.finished and trial.job_id not in self.completed
            self.completed.append(trial.job_id)
            complete(trial)

        strategy.suggest = watched_suggest  # type: ignore[method-assign]
        strategy.on_trial_result = watched_result  # type: ignore[method-assign]
        strategy.on_trial_complete = watched_complete  # type: ignore[method-assign]


# ---------------------------------------------------------------------- (a) + (c)
@pytest.mark.parametrize("space_id", list(SPACES))
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_suggestions_inside_space(entry: Entry, space_id: str) -> None:
    """(a) Every suggestion is inside the space, whatever the results; (c) decisions are
    Decisions."""
    space = SPACES[space_id]
    if space_id == "with_set" and not entry.supports_parameter_set:
        with pytest.raises(ValueError):
            make(entry, space)
        return
    strategy = make(entry, space)
    watch = Watch(entry, strategy)
    result = simulate(strategy, chaos_model(1), objective=OBJECTIVE, workers=4,
                      total_max_jobs=60)
    assert len(watch.suggestions) == len(result.jobs) > 0
    assert all(isinstance(d, Decision) for d in watch.decisions)
    space = strategy.space if entry.samples_space else SearchSpace(SPACE)
    for job in result.jobs:
        assert space.contains(strip_resource(entry, job.parameters))


# ---------------------------------------------------------------------- (b) through the loop
@pytest.mark.parametrize("workers", [1, 5])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_any_order_failures_and_stops_through_the_loop(entry: Entry, workers: int) -> None:
    """(b) Crashes, NaN reports, stops by a policy and by the per-job time limit, completions in
    random order: the run ends cleanly, every job is final and ended once."""
    strategy = make(entry, seed=3)
    watch = Watch(entry, strategy)
    result = simulate(strategy, EveryNthFails(chaos_model(2), 5), objective=OBJECTIVE,
                      workers=workers,
                      total_max_jobs=70, time_limit_per_job=1.2,  # minutes: stops long trials
                      policies=[MedianStopping(grace_iterations=2, min_samples=2)])
    statuses = {j.status for j in result.jobs}
    assert all(j.status.is_final for j in result.jobs)
    assert len(result.jobs) <= 70
    assert sorted(watch.completed) == sorted(j.id for j in result.jobs)
    assert TaskStatus.FAILED in statuses
    metricless = [j for j in result.jobs if j.objective_values(MultiObjective([OBJECTIVE]))
                  is None and j.status != TaskStatus.FAILED]
    assert metricless, "the model should leave some trials without a metric"
    if not entry.finite:
        assert result.reason == "total_max_jobs reached", result.reason
    else:
        assert result.reason in ("total_max_jobs reached", "search space exhausted"), \
            result.reason
    assert all(isinstance(d, Decision) for d in watch.decisions)


# ---------------------------------------------------------------------- a direct driver
@dataclass
class Record:
    """One job of :class:`Driver`."""

    job_id: str
    parameters: dict[str, Any]
    meta: dict[str, Any]
    continue_from: str | None
    status: str = "in_progress"
    value: Any = None
    iteration: int | None = None

    def trial(self) -> Trial:
        return Trial(self.job_id, dict(self.parameters), dict(self.meta), self.status,
                     self.value, self.iteration)


@dataclass
class Driver:
    """A deterministic stand-in for the loop: ``slots`` jobs at a time; each job reports its
    first iteration when it starts and the rest when it ends; ``order(step, pending)`` picks the
    job that ends next. Job ``i`` fails if ``i % 7 == 3`` (after its first report) and ends
    ``stopped`` without a metric if ``i % 11 == 5``; otherwise it reports every iteration up to
    its resource (3 without one) and ends ``completed``, or ``stopped`` when told STOP.
    ``log`` is everything the strategy said, in order."""

    strategy: SearchStrategy
    entry: Entry
    slots: int = 3
    order: Callable[[int, list[str]], int] = lambda step, pending: (step * 7) % len(pending)
    records: dict[str, Record] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    log: list[Any] = field(default_factory=list)
    steps: int = 0
    done: bool = False
    objectives: int = 1  # 2: values are [loss, 1 - loss] (a second objective, maximised)

    def _iterations(self, rec: Record) -> range:
        if self.entry.resource is None or RESOURCE not in rec.parameters:
            return range(1, 4)
        first = 1
        if rec.continue_from is not None:
            prev = self.records[rec.continue_from].iteration
            first = (prev or 0) + 1
        return range(first, int(rec.parameters[RESOURCE]) + 1)

    def _value(self, rec: Record, iteration: int, top: int) -> Any:
        loss = _loss(rec.parameters) + 0.5 * (1 - iteration / top)
        return loss if self.objectives == 1 else [loss, 1 - loss]

    def _report(self, rec: Record, iteration: int) -> Decision:
        top = MAX_RESOURCE if self.entry.resource is not None else 3
        rec.value, rec.iteration = self._value(rec, iteration, top), iteration
        decision = self.strategy.on_trial_result(rec.job_id, iteration, rec.value)
        assert isinstance(decision, Decision)
        self.log.append(("result", rec.job_id, iteration, decision.value))
        return decision

    def fill(self) -> None:
        while len(self.pending) < self.slots:
            s = self.strategy.suggest()
            if s is None or s is WAIT:
                self.log.append(("none",) if s is None else ("wait",))
                if s is None and not self.pending:
                    self.done = True
                return
            check_suggestion(self.entry, self.strategy, s)
            job_id = f"j{len(self.records)}"
            self.log.append(("start", job_id, s.parameters, s.meta, s.continue_from))
            self.strategy.on_trial_start(job_id, s)
            rec = Record(job_id, dict(s.parameters), dict(s.meta), s.continue_from)
            self.records[job_id] = rec
            self.pending.append(job_id)
            its = self._iterations(rec)
            if len(its):
                self._report(rec, its[0])

    def step(self) -> bool:
        """Fill the slots and end one job; False once the strategy is done (or stalls)."""
        if self.done:
            return False
        self.fill()
        if not self.pending:
            self.done = True
            return False
        job_id = self.pending.pop(self.order(self.steps, self.pending))
        self.steps += 1
        rec = self.records[job_id]
        index = int(job_id[1:])
        if index % 7 == 3:
            rec.status, rec.value = "failed", None
        elif index % 11 == 5:
            rec.status, rec.value = "stopped", None
        else:
            rec.status = "completed"
            for it in list(self._iterations(rec))[1:]:
                if self._report(rec, it) == Decision.STOP:
                    rec.status = "stopped"
                    break
        self.strategy.on_trial_complete(rec.trial())
        self.log.append(("complete", job_id, rec.status))
        return True

    def run(self, steps: int) -> Driver:
        for _ in range(steps):
            if not self.step():
                break
        return self

    def trials(self) -> list[Trial]:
        return [r.trial() for r in sorted(self.records.values(), key=lambda r: int(r.job_id[1:]))]

    def handover(self, strategy: SearchStrategy) -> Driver:
        """A driver for ``strategy`` that continues exactly where this one is."""
        return Driver(strategy, self.entry, self.slots, self.order,
                      {k: Record(**vars(r)) for k, r in self.records.items()},
                      list(self.pending), list(self.log), self.steps, self.done,
                      self.objectives)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_shuffled_completions_direct(entry: Entry, seed: int) -> None:
    """(b) Up to 6 jobs at once ending in a random order, with failures and metric-less stops."""
    rng = random.Random(seed)
    strategy = make(entry, seed=seed)
    driver = Driver(strategy, entry, slots=6,
                    order=lambda step, pending: rng.randrange(len(pending)))
    driver.run(80)
    statuses = {r.status for r in driver.records.values()}
    assert "failed" in statuses and "stopped" in statuses
    assert driver.steps > 10


# ---------------------------------------------------------------------- (d) round trip
# Mapping runs its own list: the space plays no part in it.
_ROUND_TRIP = [pytest.param(e, s, id=f"{e.id}-{s}") for e in REGISTRY
               for s in ("mixed", "finite") if e.samples_space or s == "mixed"]


@pytest.mark.parametrize("k", [0, 5, 17])
@pytest.mark.parametrize(("entry", "space_id"), _ROUND_TRIP)
def test_state_round_trip_continues_identically(entry: Entry, space_id: str, k: int) -> None:
    """(d) After ``k`` steps, a fresh strategy built with the same arguments and given the JSON
    of ``state_dict()`` plus the trials continues exactly as the original would have."""
    space, n = SPACES[space_id], 40
    reference = Driver(make(entry, space, shared={}), entry).run(k + n)  # never interrupted

    shared: dict[str, Any] = {}
    original = make(entry, space, shared=shared)
    first = Driver(original, entry).run(k)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make(entry, space, shared=shared)
    restored.load_state_dict(state, first.trials())
    resumed = first.handover(restored).run(n)

    assert resumed.log == reference.log
    assert json.loads(json.dumps(restored.state_dict())) == json.loads(
        json.dumps(reference.strategy.state_dict())) or entry.id == "optuna"


@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_several_objectives(entry: Entry) -> None:
    """Values are lists with several objectives: accepted, and the round trip still holds."""
    n, k = 30, 9
    reference = Driver(make(entry, shared={}, objective=TWO_OBJECTIVES), entry,
                       objectives=2).run(k + n)
    shared: dict[str, Any] = {}
    original = make(entry, shared=shared, objective=TWO_OBJECTIVES)
    first = Driver(original, entry, objectives=2).run(k)
    restored = make(entry, shared=shared, objective=TWO_OBJECTIVES)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())), first.trials())
    resumed = first.handover(restored).run(n)
    assert resumed.log == reference.log
    assert any(isinstance(r.value, list) for r in resumed.records.values())


@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_state_dict_is_json_and_small(entry: Entry) -> None:
    """state_dict() is JSON (no NaN, no objects) and does not grow with the trials."""
    strategy = make(entry)
    driver = Driver(strategy, entry).run(10)
    small = len(json.dumps(strategy.state_dict(), allow_nan=False))
    driver.run(30)
    big = len(json.dumps(strategy.state_dict(), allow_nan=False))
    assert big < small + 2000, (small, big)


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


# ---------------------------------------------------------------------- resume via the loop
class LoopRun:
    """:func:`controller.simulate.simulate`'s event loop, but resumable: run until ``ends`` jobs
    ended, save the job rows and states as the Redis driver does, and continue from them in a
    new Scheduler with a new strategy."""

    def __init__(self, sched: Scheduler, model: Callable, *, now: float = 0.0,
                 next_id: int = 0) -> None:
        self.sched, self.model = sched, model
        self.obj0 = sched.objective.objectives[0]
        self.queue: list[tuple[float, int, str, str, Any]] = []
        self.seq = itertools.count()
        self.pending_stop: set[str] = set()
        self.now = now
        self.next_id = next_id
        self.reason = ""

    def new_id(self) -> str:
        self.next_id += 1
        return f"sim{self.next_id - 1}"

    def push(self, t: float, kind: str, job_id: str, payload: Any = None) -> None:
        heapq.heappush(self.queue, (t, next(self.seq), kind, job_id, payload))

    def handle(self, out: Outcome) -> None:
        self.pending_stop.update(s.job_id for s in out.stops)

    def start(self, job: Job, start: float, started: bool = False) -> None:
        """Queue the job's events (those after ``self.now`` when re-attaching a running job)."""
        start_it = 0
        if job.continue_from:
            prev = self.sched.jobs.get(job.continue_from)
            start_it = (prev.objective_iteration() or -1) + 1 if prev else 0
        reports, runtime, failed = self.model(dict(job.parameters), start_it)
        if not started:
            self.push(start, "start", job.id)
        seen = job.objective_iteration()
        for r in reports:
            if not started or start + r.after > self.now or (
                    start + r.after == self.now and (seen is None or r.iteration > seen)):
                self.push(start + r.after, "report", job.id, r)
        self.push(start + runtime, "end", job.id,
                  TaskStatus.FAILED if failed else TaskStatus.COMPLETED)

    def run(self, until_ended: int | None = None) -> bool:
        """Process events; True when the optimization is over, False when stopped early."""
        sched = self.sched
        while True:
            if until_ended is not None and sum(j.status.is_final for j in
                                               sched.jobs.values()) >= until_ended:
                return False
            for job in sched.launch(self.now, self.new_id):
                self.start(job, self.now)
            if sched.done is not None or not self.queue:
                self.reason = sched.done or "queue empty"
                return True
            self.now, _, kind, job_id, payload = heapq.heappop(self.queue)
            job = sched.jobs[job_id]
            if job.status.is_final:
                continue
            if kind == "start":
                self.handle(sched.on_status(job_id, TaskStatus.IN_PROGRESS, self.now))
            elif kind == "report":
                self.handle(sched.on_scalar(job_id, self.obj0.title, self.obj0.series,
                                            payload.iteration, payload.value))
                if job_id in self.pending_stop:
                    self.handle(sched.on_status(job_id, TaskStatus.STOPPED, self.now,
                                                job.reason))
            else:
                self.handle(sched.on_status(job_id, payload, self.now))
            for queued in [j for j in self.pending_stop if sched.jobs[j].started_at is None]:
                self.handle(sched.on_status(queued, TaskStatus.STOPPED, self.now,
                                            "stopped while queued"))
            self.handle(sched.housekeeping(self.now))

    def save(self) -> dict[str, str]:
        """What the driver keeps in Redis: one JSON row per job and the states."""
        s = self.sched
        return {"rows": json.dumps({j.id: j.to_row() for j in s.jobs.values()}),
                "strategy": json.dumps(s.strategy.state_dict()),
                "scheduler": json.dumps({"counts": dict(s.counts),
                                         "iterations_used": s.iterations_used,
                                         "ending": s.ending, "exhausted": s.exhausted}),
                "now": json.dumps(self.now)}

    @classmethod
    def resume(cls, saved: dict[str, str], strategy: SearchStrategy, model: Callable,
               **scheduler_kwargs: Any) -> LoopRun:
        """A new Scheduler and strategy restored from ``saved``; running jobs re-attached."""
        objective = MultiObjective([OBJECTIVE])
        strategy.set_objective(objective)
        sched = Scheduler(strategy, objective, **scheduler_kwargs)
        jobs = [Job.from_row(jid, row) for jid, row in json.loads(saved["rows"]).items()]
        state = json.loads(saved["scheduler"])
        sched.restore(jobs, state["counts"], state["iterations_used"], state["ending"],
                      state["exhausted"])
        trials = [j.as_trial(objective) for j in sorted(jobs, key=lambda j: j.index)]
        strategy.load_state_dict(json.loads(saved["strategy"]), trials)
        run = cls(sched, model, now=json.loads(saved["now"]), next_id=len(jobs))
        run.pending_stop = {j.id for j in jobs if not j.status.is_final and j.reason}
        for job in sorted(sched.active.values(), key=lambda j: j.index):
            started = job.started_at is not None
            run.start(job, job.started_at if started else job.created_at, started)
        return run


@pytest.mark.parametrize("ended", [4, 9])
@pytest.mark.parametrize("entry", REGISTRY, ids=IDS)
def test_resume_through_the_scheduler(entry: Entry, ended: int) -> None:
    """A controller killed after ``ended`` jobs ended and resumed from its saved rows and states
    runs exactly the jobs an uninterrupted run does: no duplicate ids, total_max_jobs kept."""
    total, workers = 30, 3
    full = simulate(make(entry, shared={}), chaos_model(5), objective=OBJECTIVE,
                    workers=workers, total_max_jobs=total)

    shared: dict[str, Any] = {}
    kwargs = {"concurrency": workers, "budget": Budget(total)}
    objective = MultiObjective([OBJECTIVE])
    first_strategy = make(entry, shared=shared)
    first_strategy.set_objective(objective)
    first = LoopRun(Scheduler(first_strategy, objective, **kwargs), chaos_model(5))
    assert not first.run(until_ended=ended)
    saved = json.loads(json.dumps(first.save()))
    second = LoopRun.resume(saved, make(entry, shared=shared), chaos_model(5), **kwargs)
    assert second.run()

    jobs = sorted(second.sched.jobs.values(), key=lambda j: j.index)
    ids = [j.id for j in jobs]
    assert len(ids) == len(set(ids)) <= total
    assert all(j.status.is_final for j in jobs)
    got = [(j.id, j.parameters, j.meta, j.continue_from, j.status.value) for j in jobs]
    want = [(j.id, j.parameters, j.meta, j.continue_from, j.status.value) for j in full.jobs]
    assert got == want
    assert second.reason == full.reason
