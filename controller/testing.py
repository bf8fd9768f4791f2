"""The strategy contract suite: check a search strategy against the contract of
:mod:`controller.strategies.base`, with the checks hpqueue runs on its own strategies.

Run it on your strategy: describe it with a :class:`StrategyCase` (a factory that builds it from
a search space and a seed), then call :func:`check_strategy`, from any test runner::

    from controller.testing import StrategyCase, check_strategy

    def test_my_strategy_keeps_the_contract():
        check_strategy(StrategyCase("mine", lambda space, seed: MyStrategy(space, seed=seed)))

or run each check as its own test (pytest shows which one broke)::

    import pytest
    from controller.testing import StrategyCase, checks

    CASE = StrategyCase("mine", lambda space, seed: MyStrategy(space, seed=seed))

    @pytest.mark.parametrize("check", checks(CASE), ids=str)
    def test_contract(check):
        check(CASE)

A check raises AssertionError saying what broke (a strategy that cannot be built for a space
raises the strategy's own error). The checks build the strategy with
``factory(hyper_parameters, seed)`` for the spaces of :data:`SPACES` (every parameter type) and
bind it themselves, as the optimizer does: the objective :data:`OBJECTIVE` (or
:data:`TWO_OBJECTIVES`), an in-memory Optuna storage and a study name (:func:`contract_context`).
Trials are simulated (:class:`ChaosModel`): no Redis, no workers; a typical strategy passes
:func:`check_strategy` in seconds. A multi-fidelity strategy must put its resource in
:data:`RESOURCE` with values in ``[1, MAX_RESOURCE]`` and declare it in
:attr:`StrategyCase.resource`.

What is checked:

(a) every suggestion is a :class:`Suggestion` inside the space (plus the declared resource, within
    its bounds), JSON in its parameters and ``meta``;
(b) results, failures, metric-less stops and completions in any order are accepted, through the
    real :class:`~controller.loop.Scheduler` in simulated time
    (:func:`controller.simulate.simulate`, with early stopping and a per-job time limit) and
    through a direct loop that shuffles completions (:class:`DirectLoop`); every job ends once;
(c) ``on_trial_result`` returns a :class:`Decision`;
(d) ``state_dict`` survives a JSON round trip, and a fresh strategy given it plus the trials so
    far continues exactly as an uninterrupted one (the same suggestions, decisions and WAIT/None),
    with one or two objectives; the state does not grow with the trials;
(e) a controller resumed mid-run from its saved job rows and states
    (:meth:`Simulation.snapshot <controller.simulate.Simulation.snapshot>` /
    :meth:`~controller.simulate.Simulation.restore`: ``Job.to_row``/``Job.from_row``,
    ``Scheduler.restore`` + ``load_state_dict``) finishes the run exactly as an uninterrupted one:
    the same jobs, no duplicate ids, ``total_max_jobs`` respected.

Two drivers run a strategy without Redis or workers, for these checks and for your own tests:

* :class:`~controller.simulate.Simulation` -- the optimizer's loop (the real
  :class:`~controller.loop.Scheduler`) in simulated time: limits, early stopping, stop
  requests, resume (``snapshot``/``restore``); trials are a
  :class:`~controller.simulate.TrialModel`.
* :class:`DirectLoop` -- the strategy alone: ``slots`` jobs at a time, ending in the order the
  test chooses (:func:`rotating`, :func:`shuffled`, :func:`first_to_finish` with durations, or
  any ``order(loop)``); its ``log`` shows every suggestion (with ``meta`` and ``continue_from``),
  WAIT, None, decision and completion. What a job reports and how it ends is a
  :class:`JobModel`: :class:`ContractJobs` (the checks' jobs) or :class:`Outcomes` (a status and
  value per job). ``snapshot``/``restore`` interrupt it and go on with a fresh strategy given the
  saved ``state_dict`` and the trials through ``load_state_dict``::

      loop = DirectLoop(strategy, Outcomes(lambda job, rng: ("completed", f(job.parameters))),
                        slots=4, order=shuffled, max_jobs=50, seed=1)
      loop.run(20)                                    # until 20 jobs ended
      twin = loop.fresh(new_strategy()).restore(loop.snapshot())
      assert twin.run().log == loop.run().log         # the restored loop goes on identically
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from workers.status import TaskStatus

from .objective import MultiObjective, Objective
from .parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    Parameter,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from .simulate import Report, Simulation, TrialModel, simulate
from .stopping import MedianStopping
from .strategies.base import (
    WAIT,
    Decision,
    OptimizerContext,
    SearchStrategy,
    Suggestion,
    Trial,
    Wait,
)

#: The task parameter a multi-fidelity strategy under test puts its resource in, and its maximum.
RESOURCE = "General/epochs"
MAX_RESOURCE = 9
OBJECTIVE = Objective("objective", "value", "min")
TWO_OBJECTIVES = MultiObjective([OBJECTIVE, Objective("accuracy", "value", "max")])

#: Every range type: continuous, stepped, integer, log and discrete.
SPACE: tuple[Parameter, ...] = (
    UniformParameterRange("General/u", 0.0, 1.0),
    UniformParameterRange("General/dropout", 0.1, 0.5, step_size=0.1),
    UniformIntegerParameterRange("General/layers", 1, 5),
    LogUniformParameterRange("General/lr", -4, -1),
    DiscreteParameterRange("General/act", ["relu", "tanh", "gelu"]),
)
PARAMETER_SET = ParameterSet([{"General/opt": "sgd", "General/momentum": 0.9},
                              {"General/opt": "adam", "General/momentum": 0.0}])
#: 45 points: the strategies that avoid repeats must remember what ran (also across a resume).
FINITE_SPACE: tuple[Parameter, ...] = (
    UniformParameterRange("General/dropout", 0.1, 0.5, step_size=0.1),
    UniformIntegerParameterRange("General/layers", 1, 3),
    DiscreteParameterRange("General/act", ["relu", "tanh", "gelu"]),
)
SPACES: dict[str, tuple[Parameter, ...]] = {
    "mixed": SPACE, "with_set": (*SPACE, PARAMETER_SET), "finite": FINITE_SPACE}

#: ``factory(hyper_parameters, seed)``: a new, unbound strategy.
Factory = Callable[[list[Parameter], int], SearchStrategy]


def _ensure(condition: object, message: str) -> None:
    """AssertionError with ``message`` unless ``condition`` holds (also under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


# ---------------------------------------------------------------------- the case
@dataclass(frozen=True)
class StrategyCase:
    """A strategy under test and what the checks need to know of it.

    Attributes:
        id: a name for messages and test ids.
        factory: ``factory(hyper_parameters, seed)`` builds a new, unbound strategy; the same
            arguments must give a strategy that behaves the same.
        resource: ``(name, low, high)`` of the parameter a multi-fidelity strategy adds to each
            suggestion (use :data:`RESOURCE` and ``1, MAX_RESOURCE``); None: it adds none.
        supports_parameter_set: False: building it for a space with a :class:`ParameterSet`
            must raise ValueError.
        finite: it runs out of suggestions on its own (the simulated runs may then end with
            "search space exhausted").
        allowed: for a strategy that runs given configurations instead of sampling its space:
            True for each configuration (without the resource) it may suggest. The space
            checks and the finite space's round trip are then skipped.
        volatile_state: keys of ``state_dict()`` that differ between two strategies built
            alike (a random owner token): left out when a restored state is compared with an
            uninterrupted one.
    """

    id: str
    factory: Factory
    resource: tuple[str, float, float] | None = None
    supports_parameter_set: bool = True
    finite: bool = False
    allowed: Callable[[dict[str, Any]], bool] | None = None
    volatile_state: frozenset[str] = frozenset()

    def build(self, space: Sequence[Parameter] = SPACE, seed: int = 7,
              context: OptimizerContext | None = None) -> SearchStrategy:
        """A strategy from the factory, bound to ``context`` (default: a new
        :func:`contract_context` of :data:`OBJECTIVE`)."""
        strategy = self.factory(list(space), seed)
        _ensure(isinstance(strategy, SearchStrategy),
                f"{self.id}: the factory returned {strategy!r}, not a SearchStrategy")
        strategy.bind(context if context is not None else contract_context())
        return strategy

    def without_resource(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """``parameters`` without the resource this strategy adds."""
        return {k: v for k, v in parameters.items()
                if self.resource is None or k != self.resource[0]}

    def check_parameters(self, strategy: SearchStrategy, parameters: Mapping[str, Any]) -> None:
        """The configuration (without its resource) is one this strategy may suggest."""
        params = self.without_resource(parameters)
        if self.allowed is not None:
            _ensure(self.allowed(params), f"{self.id}: {params} is not an allowed configuration")
            return
        _ensure(set(params) <= set(strategy.space.names),
                f"{self.id}: suggested parameters {sorted(set(params) - set(strategy.space.names))}"
                f" are not in the space")
        _ensure(strategy.space.contains(params), f"{self.id}: {params} is outside the space")

    def check_suggestion(self, strategy: SearchStrategy, s: Any) -> None:
        """(a) ``s`` is a Suggestion inside the space, its resource inside its bounds, JSON."""
        _ensure(isinstance(s, Suggestion), f"{self.id}: suggest() returned {s!r}")
        self.check_parameters(strategy, s.parameters)
        try:
            json.dumps(s.parameters)  # a task parameter must be JSON
            json.dumps(s.meta)
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{self.id}: suggestion {s} is not JSON: {exc}") from None
        if self.resource is not None:
            name, lo, hi = self.resource
            _ensure(name in s.parameters, f"{self.id}: {s.parameters} lacks the resource {name}")
            _ensure(lo <= s.parameters[name] <= hi,
                    f"{self.id}: resource {s.parameters[name]} outside [{lo}, {hi}]")


def contract_context(objective: Objective | MultiObjective = OBJECTIVE) -> OptimizerContext:
    """What the checks bind, as an optimizer would: ``objective``, a fresh in-memory Optuna
    storage and a study name (no results view)."""
    import optuna

    multi = objective if isinstance(objective, MultiObjective) else MultiObjective([objective])
    return OptimizerContext(multi, optuna_storage=optuna.storages.InMemoryStorage(),
                            study_name="contract")


# ---------------------------------------------------------------------- simulated trials
def contract_loss(p: Mapping[str, Any]) -> float:
    """The loss of a configuration of :data:`SPACES` (lowest near u=0.3, dropout=0.2, 3 layers,
    lr=10**-2.5, relu, adam)."""
    act = {"relu": 0.0, "tanh": 0.1, "gelu": 0.2}[p["General/act"]]
    return ((p.get("General/u", 0.3) - 0.3) ** 2 + abs(p["General/dropout"] - 0.2)
            + 0.1 * (p["General/layers"] - 3) ** 2
            + (math.log10(p.get("General/lr", 10 ** -2.5)) + 2.5) ** 2
            + act + (0.05 if p.get("General/opt") == "sgd" else 0.0))


@dataclass
class ChaosModel:
    """Simulated trials (a :class:`~controller.simulate.TrialModel`): learning curves over
    :data:`RESOURCE` (``contract_loss + 0.5 * (1 - i / MAX_RESOURCE)`` at iteration ``i``; one
    report at ``MAX_RESOURCE`` without a resource), run times ``10 + 90 * i / MAX_RESOURCE``
    seconds times a per-trial factor in ``[0.4, 1.6]``, ``failure_rate`` crashes (some after a
    few reports) and ``nan_rate`` NaN reports (a NaN last value leaves a trial metric-less).
    Deterministic in ``seed``, the configuration and the start iteration."""

    seed: int
    failure_rate: float = 0.15
    nan_rate: float = 0.1

    def __call__(self, parameters: dict[str, Any], start_iteration: int
                 ) -> tuple[list[Report], float, bool]:
        key = json.dumps(parameters, sort_keys=True, default=str) + f"|{start_iteration}"
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
        rng = np.random.default_rng([self.seed, digest])
        if RESOURCE in parameters:
            first = max(int(start_iteration), 1)
            last = min(max(math.floor(float(parameters[RESOURCE])), 1), MAX_RESOURCE)
            iterations = list(range(first, last + 1))
        else:
            first, iterations = 1, [MAX_RESOURCE]
        scale = 1 + 0.6 * (2 * float(rng.random()) - 1)
        failed = bool(self.failure_rate) and rng.random() < self.failure_rate
        start = 90 * (first - 1) / MAX_RESOURCE  # a continued trial skips what it resumes
        loss = contract_loss(parameters)
        reports = [Report(scale * (10 + 90 * i / MAX_RESOURCE - start), i,
                          loss + 0.5 * (1 - i / MAX_RESOURCE)) for i in iterations]
        runtime = reports[-1].after if reports else 10 * scale
        if self.nan_rate:
            reports = [Report(r.after, r.iteration, math.nan) if rng.random() < self.nan_rate
                       else r for r in reports]
        if failed:  # a crash part-way: some reports, then the end
            reports = reports[:int(rng.integers(len(reports) + 1))]
            runtime = reports[-1].after if reports else runtime * float(rng.random())
        return reports, runtime, failed


class EveryNthFails:
    """``model``, with trials ``2, n + 2, 2n + 2, ...`` (in launch order) crashing after their
    first report and trials ``4, n + 4, ...`` reporting only NaN (they end without a metric:
    completed, or stopped by a limit), so that every strategy sees both however few trials it
    runs."""

    def __init__(self, model: TrialModel, n: int = 5) -> None:
        self.model, self.n, self.calls = model, n, 0

    def __call__(self, parameters: dict[str, Any], start_iteration: int
                 ) -> tuple[list[Report], float, bool]:
        self.calls += 1
        reports, runtime, failed = self.model(parameters, start_iteration)
        if self.calls % self.n == 2 and reports:
            return reports[:1], reports[0].after, True
        if self.calls % self.n == 4:
            return [Report(r.after, r.iteration, math.nan) for r in reports], runtime, failed
        return reports, runtime, failed


class Watch:
    """Wraps a strategy's hooks (as instance attributes) to check what the loop sees: valid
    suggestions (a), Decisions (c), each job completed once (b)."""

    def __init__(self, case: StrategyCase, strategy: SearchStrategy) -> None:
        self.case, self.strategy = case, strategy
        self.decisions: list[Decision] = []
        self.completed: list[str] = []
        self.suggestions: list[Suggestion] = []
        suggest, result, complete = (strategy.suggest, strategy.on_trial_result,
                                     strategy.on_trial_complete)

        def watched_suggest() -> Suggestion | Wait | None:
            s = suggest()
            if isinstance(s, Suggestion):
                case.check_suggestion(strategy, s)
                self.suggestions.append(s)
            else:
                _ensure(s is None or s is WAIT, f"{case.id}: suggest() returned {s!r}")
            return s

        def watched_result(job_id: str, iteration: int, value: Any) -> Decision:
            d = result(job_id, iteration, value)
            _ensure(isinstance(d, Decision), f"{case.id}: on_trial_result returned {d!r}")
            self.decisions.append(d)
            return d

        def watched_complete(trial: Trial) -> None:
            _ensure(trial.finished and trial.job_id not in self.completed,
                    f"{case.id}: job {trial.job_id} completed twice or before its end")
            self.completed.append(trial.job_id)
            complete(trial)

        strategy.suggest = watched_suggest  # type: ignore[method-assign]
        strategy.on_trial_result = watched_result  # type: ignore[method-assign]
        strategy.on_trial_complete = watched_complete  # type: ignore[method-assign]


# ---------------------------------------------------------------------- a direct loop
@dataclass
class Record:
    """One job of :class:`DirectLoop`: its suggestion, then what it reported and how it ended.
    ``value`` and ``iteration`` are its last report's unless the job model set others;
    ``ends_at`` is its end in simulated time (with ``duration``)."""

    index: int
    job_id: str
    parameters: dict[str, Any]
    meta: dict[str, Any]
    continue_from: str | None
    status: str = "in_progress"
    value: Any = None
    iteration: int | None = None
    ends_at: float | None = None

    def trial(self) -> Trial:
        return Trial(self.job_id, dict(self.parameters), dict(self.meta), self.status,
                     self.value, self.iteration)


class JobModel(Protocol):
    """What the jobs of a :class:`DirectLoop` do. ``start`` is called once a job has started
    (make its first reports with :meth:`DirectLoop.report`); ``end`` when it ends, before
    ``on_trial_complete``: make its last reports and set ``job.status`` (``completed``,
    ``failed`` or ``stopped``), and ``job.value``/``job.iteration`` if the trial ends with other
    than its last report. Draw randomness from ``loop.rng``: it is in the loop's snapshot."""

    def start(self, loop: DirectLoop, job: Record) -> None: ...

    def end(self, loop: DirectLoop, job: Record) -> None: ...


@dataclass(frozen=True)
class ContractJobs:
    """The jobs of the contract checks (a :class:`JobModel`). A job reports every iteration up
    to its resource (1 to 3 without one; a job that continues another from the iteration after
    that one's last): the first when it starts, the rest when it ends, with the value
    ``contract_loss + 0.5 * (1 - i / top)`` (``[loss, 1 - loss]`` with ``objectives=2``). Job
    ``i`` fails if ``i % 7 == 3`` (after its first report) and ends ``stopped`` without a metric
    if ``i % 11 == 5``; otherwise it ends ``completed``, or ``stopped`` when told STOP."""

    case: StrategyCase
    objectives: int = 1  # 2: a second objective, maximised

    def _iterations(self, loop: DirectLoop, job: Record) -> range:
        if self.case.resource is None or RESOURCE not in job.parameters:
            return range(1, 4)
        first = 1
        if job.continue_from is not None:
            first = (loop.records[job.continue_from].iteration or 0) + 1
        return range(first, int(job.parameters[RESOURCE]) + 1)

    def _report(self, loop: DirectLoop, job: Record, iteration: int) -> Decision:
        top = MAX_RESOURCE if self.case.resource is not None else 3
        loss = contract_loss(job.parameters) + 0.5 * (1 - iteration / top)
        return loop.report(job, iteration, loss if self.objectives == 1 else [loss, 1 - loss])

    def start(self, loop: DirectLoop, job: Record) -> None:
        iterations = self._iterations(loop, job)
        if len(iterations):
            self._report(loop, job, iterations[0])

    def end(self, loop: DirectLoop, job: Record) -> None:
        if job.index % 7 == 3:
            job.status, job.value = "failed", None
        elif job.index % 11 == 5:
            job.status, job.value = "stopped", None
        else:
            job.status = "completed"
            for iteration in list(self._iterations(loop, job))[1:]:
                if self._report(loop, job, iteration) == Decision.STOP:
                    job.status = "stopped"
                    break


@dataclass(frozen=True)
class Outcomes:
    """Jobs (a :class:`JobModel`) that report nothing while they run and end as
    ``outcome(job, rng)`` says, called when the job ends: ``(status, value)``. The trial
    carries ``iteration``."""

    outcome: Callable[[Record, random.Random], tuple[str, Any]]
    iteration: int | None = None

    def start(self, loop: DirectLoop, job: Record) -> None:
        """Nothing: the job reports only its outcome."""

    def end(self, loop: DirectLoop, job: Record) -> None:
        job.status, job.value = self.outcome(job, loop.rng)
        job.iteration = self.iteration


#: ``order(loop)``: the index in ``loop.running`` of the job that ends next.
Order = Callable[["DirectLoop"], int]


def rotating(loop: DirectLoop) -> int:
    """A fixed, scrambled order: the job at ``(7 * jobs ended so far) % running``."""
    return (loop.steps * 7) % len(loop.running)


def shuffled(loop: DirectLoop) -> int:
    """A random running job, drawn from ``loop.rng``."""
    return loop.rng.randrange(len(loop.running))


def first_to_finish(loop: DirectLoop) -> int:
    """The job whose end in simulated time (``duration``) comes first; ties by start order."""
    ends = [loop.records[job_id].ends_at for job_id in loop.running]
    if any(end is None for end in ends):
        raise ValueError("first_to_finish needs DirectLoop(duration=...)")
    return min(range(len(ends)), key=lambda i: (ends[i], loop.records[loop.running[i]].index))


class DirectLoop:
    """A strategy driven directly, without the :class:`~controller.loop.Scheduler`: the test
    chooses how jobs end and in which order, and sees everything the strategy says.

    ``slots`` jobs run at a time. :meth:`fill` asks ``suggest()`` while a slot is free (as the
    optimizer's loop: not after it returned None, nor once ``max_jobs`` jobs were started) and
    starts job ``f"{prefix}{i}"`` for the i-th suggestion (``on_trial_start``, then
    ``model.start``); :meth:`end_next` ends the running job ``order`` picks (``model.end``,
    then ``on_trial_complete``); :meth:`step` does both. With ``duration(job, rng)``, a job ends
    ``duration`` after it started in simulated time (``now``; use ``order=first_to_finish``).
    ``rng`` (``random.Random(seed)``) serves the order, the durations and the job model. With
    ``case``, every suggestion is checked with :meth:`StrategyCase.check_suggestion`.

    ``log`` is everything the strategy said, in order: ``("start", job_id, suggestion,
    running)`` (``running``: the ids of the jobs that ran when it started), ``("wait",
    n_running)``, ``("none", n_running)``, ``("result", job_id, iteration, decision)`` and
    ``("complete", job_id, status)``. :meth:`snapshot` and :meth:`restore` interrupt and resume
    it: the strategy goes through ``state_dict``/``load_state_dict``, so that a restored loop
    runs a fresh strategy (:meth:`fresh`) exactly where the first one was.
    """

    def __init__(self, strategy: SearchStrategy, model: JobModel, *,
                 case: StrategyCase | None = None, slots: int = 3, order: Order = rotating,
                 duration: Callable[[Record, random.Random], float] | None = None,
                 max_jobs: int | None = None, seed: int = 0, prefix: str = "j") -> None:
        if slots < 1:
            raise ValueError(f"DirectLoop: slots must be at least 1, got {slots!r}")
        self.strategy, self.model, self.case = strategy, model, case
        self.slots, self.order, self.duration = slots, order, duration
        self.max_jobs, self.seed, self.prefix = max_jobs, seed, prefix
        self.rng = random.Random(seed)
        self.records: dict[str, Record] = {}  # every job, in start order
        self.running: list[str] = []  # in start order
        self.log: list[tuple[Any, ...]] = []
        self.steps = 0  # jobs ended
        self.now = 0.0
        self.exhausted = False  # suggest() returned None: it is not asked again
        self.done = False  # nothing runs and nothing more starts

    def fresh(self, strategy: SearchStrategy) -> DirectLoop:
        """A new loop with this one's arguments for ``strategy`` (to :meth:`restore`)."""
        return DirectLoop(strategy, self.model, case=self.case, slots=self.slots,
                          order=self.order, duration=self.duration, max_jobs=self.max_jobs,
                          seed=self.seed, prefix=self.prefix)

    @property
    def name(self) -> str:
        return self.case.id if self.case is not None else type(self.strategy).__name__

    # ---------------------------------------------------------------------- running
    def fill(self) -> None:
        """Ask for suggestions while a slot is free; start a job for each."""
        while (len(self.running) < self.slots and not self.exhausted
               and (self.max_jobs is None or len(self.records) < self.max_jobs)):
            s = self.strategy.suggest()
            if s is None or s is WAIT:
                self.exhausted = s is None
                self.log.append(("none" if s is None else "wait", len(self.running)))
                return
            if self.case is not None:
                self.case.check_suggestion(self.strategy, s)
            if not isinstance(s, Suggestion):
                raise AssertionError(f"{self.name}: suggest() returned {s!r}")
            index = len(self.records)
            job = Record(index, f"{self.prefix}{index}", dict(s.parameters), dict(s.meta),
                         s.continue_from)
            self.log.append(("start", job.job_id, s, tuple(self.running)))
            self.strategy.on_trial_start(job.job_id, s)
            self.records[job.job_id] = job
            self.running.append(job.job_id)
            if self.duration is not None:
                job.ends_at = self.now + self.duration(job, self.rng)
            self.model.start(self, job)

    def report(self, job: Record, iteration: int, value: Any) -> Decision:
        """``job`` reports ``value`` at ``iteration``: the strategy's decision (for models)."""
        job.value, job.iteration = value, iteration
        decision = self.strategy.on_trial_result(job.job_id, iteration, value)
        _ensure(isinstance(decision, Decision),
                f"{self.name}: on_trial_result returned {decision!r}")
        self.log.append(("result", job.job_id, iteration, decision.value))
        return decision

    def end_next(self) -> Record:
        """End the running job ``order`` picks and tell the strategy; returns it."""
        if not self.running:
            raise RuntimeError("DirectLoop.end_next: no job is running")
        job = self.records[self.running.pop(self.order(self))]
        self.steps += 1
        if job.ends_at is not None:
            self.now = job.ends_at
        self.model.end(self, job)
        self.strategy.on_trial_complete(job.trial())
        self.log.append(("complete", job.job_id, job.status))
        return job

    def step(self) -> bool:
        """Fill the slots and end one job; False once nothing runs (exhausted, or stalled on
        WAIT with nothing running)."""
        if self.done:
            return False
        self.fill()
        if not self.running:
            self.done = True
            return False
        self.end_next()
        return True

    def run(self, steps: int | None = None) -> DirectLoop:
        """:meth:`step` ``steps`` times or, with None, until the loop is done (the strategy
        must then run out of suggestions, or ``max_jobs`` be set)."""
        count = 0
        while (steps is None or count < steps) and self.step():
            count += 1
        return self

    # ---------------------------------------------------------------------- reading
    def trials(self) -> list[Trial]:
        """Every job as a Trial, in start order (what ``load_state_dict`` takes)."""
        return [r.trial() for r in self.records.values()]

    def starts(self) -> list[Suggestion]:
        """Every suggestion that started a job, in order."""
        return [entry[2] for entry in self.log if entry[0] == "start"]

    @property
    def max_running(self) -> int:
        """The most jobs that ran at once."""
        return max((len(entry[3]) + 1 for entry in self.log if entry[0] == "start"), default=0)

    # ---------------------------------------------------------------------- resuming
    def snapshot(self) -> dict[str, Any]:
        """The loop's state as new JSON values: the strategy's ``state_dict()``, the jobs, the
        log, the clock and the random generator."""
        version, internal, gauss = self.rng.getstate()
        log = [[*entry[:2], {"parameters": entry[2].parameters, "meta": entry[2].meta,
                             "continue_from": entry[2].continue_from}, list(entry[3])]
               if entry[0] == "start" else list(entry) for entry in self.log]
        return json.loads(json.dumps({
            "strategy": self.strategy.state_dict(),
            "jobs": [vars(r) for r in self.records.values()], "running": self.running,
            "log": log, "steps": self.steps, "now": self.now, "exhausted": self.exhausted,
            "done": self.done, "rng": [version, internal, gauss]}))

    def restore(self, snapshot: Mapping[str, Any]) -> DirectLoop:
        """Continue from ``snapshot`` (on a new loop, :meth:`fresh`): the strategy gets the saved
        state and the trials through ``load_state_dict``; returns self."""
        if self.records or self.log:
            raise ValueError("DirectLoop.restore needs a new loop; this one has run already")
        self.records = {r["job_id"]: Record(**r) for r in snapshot["jobs"]}
        self.strategy.load_state_dict(snapshot["strategy"], self.trials())
        self.running = list(snapshot["running"])
        self.log = [(*entry[:2], Suggestion(**entry[2]), tuple(entry[3]))
                    if entry[0] == "start" else tuple(entry) for entry in snapshot["log"]]
        self.steps, self.now = snapshot["steps"], snapshot["now"]
        self.exhausted, self.done = snapshot["exhausted"], snapshot["done"]
        version, internal, gauss = snapshot["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        return self


def _contract_loop(case: StrategyCase, strategy: SearchStrategy, objectives: int = 1,
                   **options: Any) -> DirectLoop:
    """A :class:`DirectLoop` of the contract's jobs (:class:`ContractJobs`) for ``case``."""
    return DirectLoop(strategy, ContractJobs(case, objectives), case=case, **options)


# ---------------------------------------------------------------------- the checks
def check_suggestions_inside_space(case: StrategyCase, space_id: str = "mixed") -> None:
    """(a) Every suggestion is inside the space, whatever the results; (c) decisions are
    Decisions. A strategy without ParameterSet support must refuse a space with one
    (ValueError)."""
    space = SPACES[space_id]
    if space_id == "with_set" and not case.supports_parameter_set:
        try:
            case.build(space)
        except ValueError:
            return
        raise AssertionError(f"{case.id}: no ValueError for a space with a ParameterSet")
    strategy = case.build(space)
    watch = Watch(case, strategy)
    result = simulate(strategy, ChaosModel(1), objective=OBJECTIVE, workers=4,
                      total_max_jobs=60)
    _ensure(len(watch.suggestions) == len(result.jobs) > 0,
            f"{case.id}: {len(watch.suggestions)} suggestions for {len(result.jobs)} jobs")
    for job in result.jobs:
        case.check_parameters(strategy, job.parameters)


def check_failures_and_stops_through_the_loop(case: StrategyCase, workers: int = 1) -> None:
    """(b) Crashes, NaN reports, stops by a policy and by the per-job time limit, completions in
    random order, through the Scheduler: the run ends cleanly, every job is final and ended
    once, ``total_max_jobs`` holds."""
    strategy = case.build(seed=3)
    watch = Watch(case, strategy)
    result = simulate(strategy, EveryNthFails(ChaosModel(2), 5), objective=OBJECTIVE,
                      workers=workers,
                      total_max_jobs=70, time_limit_per_job=1.2,  # minutes: stops long trials
                      policies=[MedianStopping(grace_iterations=2, min_samples=2)])
    _ensure(all(j.status.is_final for j in result.jobs), f"{case.id}: a job is not final")
    _ensure(len(result.jobs) <= 70, f"{case.id}: {len(result.jobs)} jobs > total_max_jobs 70")
    _ensure(sorted(watch.completed) == sorted(j.id for j in result.jobs),
            f"{case.id}: on_trial_complete was not called once for every job")
    _ensure(TaskStatus.FAILED in {j.status for j in result.jobs},
            f"{case.id}: the trial model should fail some trials")
    metricless = [j for j in result.jobs if j.objective_values(MultiObjective([OBJECTIVE]))
                  is None and j.status != TaskStatus.FAILED]
    _ensure(metricless, f"{case.id}: the trial model should leave some trials without a metric")
    reasons = (("total_max_jobs reached", "search space exhausted") if case.finite
               else ("total_max_jobs reached",))
    _ensure(result.reason in reasons, f"{case.id}: the run ended with {result.reason!r}")


def check_shuffled_completions(case: StrategyCase, seed: int = 0) -> None:
    """(b) Up to 6 jobs at once ending in a random order, with failures and metric-less stops,
    through :class:`DirectLoop`."""
    loop = _contract_loop(case, case.build(seed=seed), slots=6, order=shuffled, seed=seed)
    loop.run(80)
    statuses = {r.status for r in loop.records.values()}
    _ensure("failed" in statuses and "stopped" in statuses,
            f"{case.id}: the loop should have failed and stopped jobs, got {statuses}")
    _ensure(loop.steps > 10, f"{case.id}: only {loop.steps} jobs ended")


def _resumed_loop(case: StrategyCase, space: Sequence[Parameter], k: int, n: int,
                  objective: Objective | MultiObjective) -> tuple[DirectLoop, DirectLoop,
                                                                  SearchStrategy]:
    """An uninterrupted run of ``k + n`` steps and one interrupted after ``k`` steps, whose
    strategy is then rebuilt from JSON state and trials: (reference, resumed, restored)."""
    objectives = 1 if isinstance(objective, Objective) else len(objective)
    reference = _contract_loop(case, case.build(space, context=contract_context(objective)),
                               objectives).run(k + n)
    context = contract_context(objective)  # shared, as one optimizer's storage is
    first = _contract_loop(case, case.build(space, context=context), objectives).run(k)
    restored = case.build(space, context=context)
    resumed = first.fresh(restored).restore(first.snapshot())
    return reference, resumed.run(n), restored


def check_state_round_trip(case: StrategyCase, space_id: str = "mixed", k: int = 5) -> None:
    """(d) After ``k`` steps, a fresh strategy built with the same arguments and given the JSON
    of ``state_dict()`` plus the trials continues exactly as the original would have; its state
    then equals the uninterrupted strategy's (but for :attr:`StrategyCase.volatile_state`)."""
    reference, resumed, restored = _resumed_loop(case, SPACES[space_id], k, 40, OBJECTIVE)
    _ensure(resumed.log == reference.log,
            f"{case.id}: after a round trip at step {k} the strategy said something else")
    state, want = ({key: value for key, value in json.loads(json.dumps(s.state_dict())).items()
                    if key not in case.volatile_state} for s in (restored, reference.strategy))
    _ensure(state == want, f"{case.id}: restored state {state} differs from {want}")


def check_several_objectives(case: StrategyCase) -> None:
    """Values are lists with several objectives: accepted, and the round trip still holds."""
    reference, resumed, _ = _resumed_loop(case, SPACE, 9, 30, TWO_OBJECTIVES)
    _ensure(resumed.log == reference.log,
            f"{case.id}: with two objectives, the resumed strategy said something else")
    _ensure(any(isinstance(r.value, list) for r in resumed.records.values()),
            f"{case.id}: no job reported two objectives")


def check_state_dict_small(case: StrategyCase) -> None:
    """``state_dict()`` is JSON (no NaN, no objects) and does not grow with the trials."""
    strategy = case.build()
    loop = _contract_loop(case, strategy).run(10)
    small = len(json.dumps(strategy.state_dict(), allow_nan=False))
    loop.run(30)
    big = len(json.dumps(strategy.state_dict(), allow_nan=False))
    _ensure(big < small + 2000, f"{case.id}: the state grew from {small} to {big} characters")


def check_resume_through_the_scheduler(case: StrategyCase, ended: int = 4) -> None:
    """(e) A controller killed after ``ended`` jobs ended and resumed from its saved rows and
    states runs exactly the jobs an uninterrupted run does: no duplicate ids, total_max_jobs
    kept."""
    total, workers = 30, 3
    full = simulate(case.build(), ChaosModel(5), objective=OBJECTIVE, workers=workers,
                    total_max_jobs=total)

    context = contract_context()
    first = Simulation(case.build(context=context), OBJECTIVE, ChaosModel(5), workers=workers,
                       total_max_jobs=total)
    _ensure(not first.run(until=lambda sim: sim.ended >= ended),
            f"{case.id}: the run ended before {ended} jobs ended")
    saved = json.loads(json.dumps(first.snapshot()))
    second = Simulation(case.build(context=context), OBJECTIVE, ChaosModel(5), workers=workers,
                        total_max_jobs=total)
    second.restore(saved)
    _ensure(second.run(), f"{case.id}: the resumed run did not end")

    jobs = sorted(second.scheduler.jobs.values(), key=lambda j: j.index)
    ids = [j.id for j in jobs]
    _ensure(len(ids) == len(set(ids)) <= total,
            f"{case.id}: duplicate job ids or more than {total} jobs: {ids}")
    _ensure(all(j.status.is_final for j in jobs), f"{case.id}: a resumed job is not final")
    got = [(j.id, j.parameters, j.meta, j.continue_from, j.status.value) for j in jobs]
    want = [(j.id, j.parameters, j.meta, j.continue_from, j.status.value) for j in full.jobs]
    _ensure(got == want, f"{case.id}: the resumed run ran other jobs than the uninterrupted one")
    _ensure(second.done == full.reason,
            f"{case.id}: the resumed run ended with {second.done!r}, not {full.reason!r}")


# ---------------------------------------------------------------------- all of them
@dataclass(frozen=True)
class Check:
    """One check with its arguments, callable on a case; ``str()`` is a test id."""

    function: Callable[..., None]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, case: StrategyCase) -> None:
        self.function(case, **self.kwargs)

    def __str__(self) -> str:
        args = "-".join(str(v) for v in self.kwargs.values())
        return self.function.__name__.removeprefix("check_") + (f"[{args}]" if args else "")


def round_trip_spaces(case: StrategyCase) -> list[str]:
    """The spaces of the round-trip check: the finite one only for a strategy sampling its
    space."""
    return ["mixed", "finite"] if case.allowed is None else ["mixed"]


def checks(case: StrategyCase) -> list[Check]:
    """Every check with every argument hpqueue's own suite uses."""
    return [
        *(Check(check_suggestions_inside_space, {"space_id": s}) for s in SPACES),
        *(Check(check_failures_and_stops_through_the_loop, {"workers": w}) for w in (1, 5)),
        *(Check(check_shuffled_completions, {"seed": s}) for s in (0, 1, 2)),
        *(Check(check_state_round_trip, {"space_id": s, "k": k})
          for s in round_trip_spaces(case) for k in (0, 5, 17)),
        Check(check_several_objectives),
        Check(check_state_dict_small),
        *(Check(check_resume_through_the_scheduler, {"ended": e}) for e in (4, 9)),
    ]


def check_strategy(case: StrategyCase) -> None:
    """Run :func:`checks` on ``case``; AssertionError from the first that fails, naming it."""
    for check in checks(case):
        try:
            check(case)
        except AssertionError as exc:
            raise AssertionError(f"{check}: {exc}") from exc
