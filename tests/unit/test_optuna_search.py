"""OptimizerOptuna driven directly, as the optimizer's loop would: suggest -> on_trial_start ->
on_trial_result* -> on_trial_complete, with synthetic objectives (by hand, or by
:class:`controller.testing.DirectLoop` for runs of sequential trials)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from typing import Any

import fakeredis
import optuna
import pytest
import redis
from optuna.trial import TrialState

from controller.objective import MultiObjective, Objective
from controller.parameters import (
    DiscreteParameterRange,
    LogUniformParameterRange,
    ParameterSet,
    UniformIntegerParameterRange,
    UniformParameterRange,
)
from controller.strategies import optuna_search
from controller.strategies.base import WAIT, Decision, Suggestion, Trial
from controller.strategies.grid_random import RandomSearch, config_key
from controller.strategies.optuna_search import OptimizerOptuna, redis_journal_storage
from controller.testing import DirectLoop, Outcomes, Record

optuna.logging.set_verbosity(optuna.logging.WARNING)

MIN = Objective("loss", "val", "min")
XY = [UniformParameterRange("General/x", -5.0, 5.0),
      UniformParameterRange("General/y", -5.0, 5.0)]


def quadratic(p: dict[str, Any]) -> float:
    return (p["General/x"] - 1.0) ** 2 + (p["General/y"] + 2.0) ** 2


def make(params: list[Any] = XY, objective: Any = MIN, **kwargs: Any) -> OptimizerOptuna:
    return OptimizerOptuna(hyper_parameters=params, objective_metric=objective, **kwargs)


def launch(strategy: Any, job_id: str) -> Suggestion:
    suggestion = strategy.suggest()
    assert isinstance(suggestion, Suggestion)
    strategy.on_trial_start(job_id, suggestion)
    return suggestion


def finish(strategy: Any, job_id: str, suggestion: Suggestion, value: Any,
           status: str = "completed", iteration: int | None = 1) -> Trial:
    trial = Trial(job_id, suggestion.parameters, suggestion.meta, status, value, iteration)
    strategy.on_trial_complete(trial)
    return trial


class ReportFirst(Outcomes):
    """Jobs that report their final value at step 0 when they start."""

    def start(self, loop: DirectLoop, job: Record) -> None:
        loop.report(job, 0, self.outcome(job, loop.rng)[1])


def sequential(strategy: Any, n: int, f: Callable[[dict[str, Any]], Any] = quadratic,
               prefix: str = "job", report: bool = False) -> DirectLoop:
    """``n`` sequential trials ``f"{prefix}{i}"``, completed at iteration 1 with the value ``f``
    (reported at step 0 too with ``report``)."""
    model = (ReportFirst if report else Outcomes)(
        lambda job, rng: ("completed", f(job.parameters)), iteration=1)
    loop = DirectLoop(strategy, model, slots=1, max_jobs=n, prefix=prefix).run()
    assert len(loop.records) == n, loop.log[-1]
    return loop


def run(strategy: Any, n: int, f: Callable[[dict[str, Any]], Any] = quadratic,
        prefix: str = "job", report: bool = False) -> list[Trial]:
    """The trials of :func:`sequential`."""
    return sequential(strategy, n, f, prefix, report).trials()


def states(strategy: OptimizerOptuna) -> list[TrialState]:
    return [t.state for t in strategy.study.get_trials(deepcopy=False)]


# ---------------------------------------------------------------------- parameters
def test_suggestions_stay_on_the_ranges_points() -> None:
    params = [
        UniformParameterRange("General/u", -1.0, 1.0),
        UniformParameterRange("General/step", 0.0, 1.0, step_size=0.1),
        UniformParameterRange("General/offgrid", 0.0, 1.0, step_size=0.3),
        UniformIntegerParameterRange("General/n", 0, 10, step_size=3),
        UniformIntegerParameterRange("General/m", 2, 8, step_size=2, include_max_value=False),
        LogUniformParameterRange("General/lr", -4, -1),
        LogUniformParameterRange("General/wd", -3, 0, step_size=1),
        LogUniformParameterRange("General/inv", -1, 1, base=0.5),
        DiscreteParameterRange("General/opt", ["adam", "sgd"]),
        DiscreteParameterRange("General/mixed", [1, True, None, [1, 2], 1.5]),
    ]
    strategy = make(params, seed=0)
    modes = {c.name: c.mode for c in strategy._codecs}
    assert modes == {"General/u": "continuous", "General/step": "grid", "General/offgrid": "choice",
                     "General/n": "choice", "General/m": "grid", "General/lr": "continuous",
                     "General/wd": "choice", "General/inv": "continuous", "General/opt": "choice",
                     "General/mixed": "index"}
    for trial in run(strategy, 25, lambda p: p["General/u"] ** 2):
        p = trial.parameters
        assert strategy.space.contains(p), p
        assert type(p["General/n"]) is int and type(p["General/m"]) is int
        assert p["General/step"] == round(p["General/step"], 1)  # 0.3, not 0.30000000000000004
    assert states(strategy) == [TrialState.COMPLETE] * 25


def test_parameter_set_is_rejected_naming_optuna() -> None:
    combos = ParameterSet([{"General/a": 1, "General/b": 2}])
    with pytest.raises(ValueError, match="OptimizerOptuna"):
        make([combos])


def test_unknown_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="optuna_samplr"):
        make(optuna_samplr=None)


# ---------------------------------------------------------------------- search quality
@pytest.mark.timeout(60)
def test_tpe_beats_random_search_on_a_quadratic() -> None:
    def best(cls: type, seed: int) -> float:
        strategy = cls(hyper_parameters=XY, objective_metric=MIN, seed=seed)
        return min(t.value for t in run(strategy, 40))

    tpe = [best(OptimizerOptuna, s) for s in range(5)]
    rnd = [best(RandomSearch, s) for s in range(5)]
    assert statistics.median(tpe) < statistics.median(rnd)
    assert statistics.median(tpe) < 0.3 and max(tpe) < 1.0


def test_maximize_direction() -> None:
    strategy = make([UniformParameterRange("General/x", 0.0, 1.0)],
                    Objective("acc", "val", "max"), seed=1)
    run(strategy, 30, lambda p: p["General/x"])
    assert strategy.study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert strategy.study.best_value > 0.9


def test_running_trials_are_known_to_the_sampler() -> None:
    strategy = make(seed=2)
    run(strategy, 12)
    batch = [launch(strategy, f"par{i}") for i in range(4)]
    assert len({config_key(s.parameters) for s in batch}) == 4
    assert states(strategy)[-4:] == [TrialState.RUNNING] * 4



def test_the_kept_sampler_draws_as_a_new_one_per_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = make(seed=21)
    expected_sampler = None
    for i in range(16):
        suggestion = launch(kept, f"k{i}")
        finish(kept, f"k{i}", suggestion, quadratic(suggestion.parameters))
        expected_sampler = expected_sampler or kept.study.sampler
        assert kept.study.sampler is expected_sampler  # one sampler for the whole run
    # what the strategy did before it kept its sampler: a new TPE for every ask
    monkeypatch.setattr(optuna_search, "_reseed", lambda sampler, seed: False)
    rebuilt = make(seed=21)
    trials = run(rebuilt, 16)
    assert [t.parameters for t in trials] == \
        [{c.name: c.decode(ft.params[c.name]) for c in kept._codecs}
         for ft in kept.study.trials]



def test_the_default_pruner_lets_every_trial_run() -> None:
    strategy = make(seed=23)
    sequential(strategy, 6, report=True)  # enough history for Optuna's MedianPruner to prune
    launch(strategy, "bad")
    assert [strategy.on_trial_result("bad", step, 1e6) for step in range(4)] == \
        [Decision.CONTINUE] * 4
    assert isinstance(strategy.study.pruner, optuna.pruners.NopPruner)

def test_reports_no_pruner_reads_are_not_written_per_report() -> None:
    strategy = make(seed=22, optuna_pruner=optuna.pruners.NopPruner())
    suggestion = launch(strategy, "j")
    number = suggestion.meta["optuna_trial"]
    for step in range(3):
        assert strategy.on_trial_result("j", step, 1.0 / (step + 1)) == Decision.CONTINUE
    trial_id = strategy.storage.get_trial_id_from_study_id_trial_number(strategy._study_id, number)
    assert strategy.storage.get_trial(trial_id).intermediate_values == {}
    assert strategy.study.trials[number].intermediate_values == {0: 1.0, 1: 0.5, 2: 1 / 3}
    stopped = launch(strategy, "stopped")  # ended early: TPE ranks it by its last report
    for step in range(4):
        strategy.on_trial_result("stopped", step, 2.0 + step)
    finish(strategy, "stopped", stopped, 5.0, status="stopped", iteration=3)
    frozen = strategy.study.trials[stopped.meta["optuna_trial"]]
    assert frozen.state == TrialState.PRUNED and frozen.intermediate_values == {3: 5.0}


# ---------------------------------------------------------------------- pruning
def _curve(bad: bool) -> Callable[[int], float]:
    return (lambda step: 10.0 + step) if bad else (lambda step: 1.0 / (step + 1))


def test_median_pruner_stops_a_bad_trial_only_after_min_iteration() -> None:
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    strategy = make(seed=3, optuna_pruner=pruner, min_iteration_per_job=5)
    for i in range(3):
        suggestion = launch(strategy, f"good{i}")
        for step in range(10):
            assert strategy.on_trial_result(f"good{i}", step, _curve(False)(step)) \
                == Decision.CONTINUE
        finish(strategy, f"good{i}", suggestion, _curve(False)(9), iteration=9)
    suggestion = launch(strategy, "bad")
    decisions = [strategy.on_trial_result("bad", step, _curve(True)(step)) for step in range(6)]
    assert decisions == [Decision.CONTINUE] * 5 + [Decision.STOP]
    assert strategy.on_trial_result("bad", 6, 16.0) == Decision.STOP  # stays stopped
    assert "bad" in json.loads(json.dumps(strategy.state_dict()))["pruned"]
    finish(strategy, "bad", suggestion, 15.0, status="stopped", iteration=5)
    bad = strategy.study.trials[suggestion.meta["optuna_trial"]]
    assert bad.state == TrialState.PRUNED
    assert sorted(bad.intermediate_values) == [0, 1, 2, 3, 4, 5]
    assert strategy.state_dict()["pruned"] == []


def test_repeated_and_nan_reports_are_ignored() -> None:
    strategy = make(seed=4, optuna_pruner=optuna.pruners.NopPruner())
    suggestion = launch(strategy, "j")
    assert strategy.on_trial_result("j", 0, 1.0) == Decision.CONTINUE
    assert strategy.on_trial_result("j", 0, 5.0) == Decision.CONTINUE
    assert strategy.on_trial_result("j", 1, math.nan) == Decision.CONTINUE
    assert strategy.on_trial_result("j", 2, [0.5]) == Decision.CONTINUE
    assert strategy.on_trial_result("unknown", 0, 1.0) == Decision.CONTINUE
    frozen = strategy.study.trials[suggestion.meta["optuna_trial"]]
    assert frozen.intermediate_values == {0: 1.0, 2: 0.5}


def test_stopped_trials() -> None:
    strategy = make(seed=5, max_iteration_per_job=10, optuna_pruner=optuna.pruners.NopPruner())
    full, early, empty = (launch(strategy, j) for j in ("full", "early", "empty"))
    strategy.on_trial_result("early", 2, 3.0)
    finish(strategy, "full", full, 1.0, status="stopped", iteration=10)
    finish(strategy, "early", early, 3.0, status="stopped", iteration=2)
    finish(strategy, "empty", empty, None, status="stopped", iteration=None)
    assert states(strategy) == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
    assert strategy.study.trials[0].value == 1.0


# ---------------------------------------------------------------------- several objectives
def test_multi_objective_respects_directions() -> None:
    # a = x**2 (min), b = x (max): the Pareto set is x in [0, 1]; with b minimized it would be
    # x in [-1, 0].
    objective = MultiObjective([Objective("a", "a", "min"), Objective("b", "b", "max")])
    strategy = make([UniformParameterRange("General/x", -1.0, 1.0)], objective, seed=6)

    def values(p: dict[str, Any]) -> list[float]:
        x = p["General/x"]
        return [x * x, x]

    loop = sequential(strategy, 25, values, report=True)
    assert [e[3] for e in loop.log if e[0] == "result"] == [Decision.CONTINUE] * 25
    study = strategy.study
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE,
                                optuna.study.StudyDirection.MAXIMIZE]
    assert study.best_trials
    assert all(t.params["General/x"] >= 0 for t in study.best_trials)
    assert all(not t.intermediate_values for t in study.trials)  # pruners are single-objective


def test_multi_objective_bad_values_fail() -> None:
    objective = MultiObjective([Objective("a", "a", "min"), Objective("b", "b", "max")])
    strategy = make(objective=objective, seed=7)
    for i, value in enumerate([1.0, [1.0], [1.0, math.nan], None]):
        finish(strategy, f"j{i}", launch(strategy, f"j{i}"), value)
    assert states(strategy) == [TrialState.FAIL] * 4


# ---------------------------------------------------------------------- duplicates, exhaustion
@pytest.mark.parametrize("finish_each", [True, False])
def test_no_configuration_twice_and_none_when_exhausted(finish_each: bool) -> None:
    params = [DiscreteParameterRange("General/a", [1, 2, 3]),
              UniformIntegerParameterRange("General/n", 0, 4, step_size=3)]  # 0, 3, 4
    strategy = make(params, seed=8)
    keys = []
    for i in range(9):
        suggestion = launch(strategy, f"j{i}")
        keys.append(config_key(suggestion.parameters))
        if finish_each:
            finish(strategy, f"j{i}", suggestion, float(i))
    assert len(set(keys)) == 9
    assert strategy.suggest() is None
    rejected = [t for t in strategy.study.trials if "hpqueue_rejected" in t.user_attrs]
    assert all(t.state == TrialState.FAIL for t in rejected)


def test_single_point_space() -> None:
    strategy = make([DiscreteParameterRange("General/a", ["only"]),
                     UniformParameterRange("General/x", 0.5, 0.5)], seed=9)
    first = launch(strategy, "j0")
    assert first.parameters == {"General/a": "only", "General/x": 0.5}
    assert strategy.suggest() is None  # one point: exhausted


def _stuck_on(value: Any) -> optuna.samplers.BaseSampler:
    """A sampler that proposes the same value of the one parameter ``General/a`` every time."""
    return optuna.samplers.PartialFixedSampler({"General/a": value},
                                               optuna.samplers.RandomSampler(seed=0))


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_repeating_sampler_falls_back_to_unused_points() -> None:
    strategy = make([DiscreteParameterRange("General/a", list(range(6)))], seed=10,
                    optuna_sampler=_stuck_on(4))
    values = [launch(strategy, f"k{i}").parameters["General/a"] for i in range(6)]
    assert values[0] == 4 and sorted(values) == list(range(6))
    assert strategy.suggest() is None


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_wait_when_an_infinite_space_only_repeats() -> None:
    strategy = make([UniformParameterRange("General/a", 0.0, 1.0)], seed=11,
                    optuna_sampler=_stuck_on(0.25))
    first = launch(strategy, "j0")
    assert first.parameters == {"General/a": 0.25}
    assert strategy.suggest() is WAIT  # j0 still runs: its result may change the sampler's mind
    finish(strategy, "j0", first, 1.0)
    assert strategy.suggest() is None


# ---------------------------------------------------------------------- robustness
def test_failed_and_metric_less_trials_are_tolerated() -> None:
    strategy = make(seed=12)
    outcomes = [("failed", None), ("failed", 1.0), ("completed", None), ("completed", math.nan),
                ("completed", [2.0]), ("completed", math.inf), ("completed", "oops")]
    for i, (status, value) in enumerate(outcomes):
        finish(strategy, f"j{i}", launch(strategy, f"j{i}"), value, status=status)
    assert states(strategy) == [TrialState.FAIL] * 4 + [TrialState.COMPLETE] * 2 \
        + [TrialState.FAIL]
    finish(strategy, "j4", Suggestion({}, {"optuna_trial": 4}), 9.0)  # told twice: no-op
    strategy.on_trial_complete(Trial("stranger", {}, {}, "completed", 1.0))  # not ours
    assert strategy.study.trials[4].value == 2.0
    run(strategy, 3, prefix="more")


def test_existing_study_needs_continue_previous_study() -> None:
    storage = optuna.storages.InMemoryStorage()
    params = [DiscreteParameterRange("General/a", [1, 2, 3, 4])]
    first = make(params, seed=13, optuna_storage=storage, study_name="s")
    run(first, 2, lambda p: float(p["General/a"]))
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        make(params, seed=14, optuna_storage=storage, study_name="s").suggest()
    again = make(params, seed=14, optuna_storage=storage, study_name="s",
                 continue_previous_study=True)
    more = run(again, 2, lambda p: float(p["General/a"]), prefix="again")
    done = {t.params["General/a"] for t in first.study.trials[:2]}
    assert {t.parameters["General/a"] for t in more} == {1, 2, 3, 4} - done
    assert again.suggest() is None
    with pytest.raises(ValueError, match="directions"):
        make(params, Objective("acc", "val", "max"), optuna_storage=storage, study_name="s",
             continue_previous_study=True).suggest()


# ---------------------------------------------------------------------- state and resume
def _resume(strategy: OptimizerOptuna, trials: list[Trial], **kwargs: Any) -> OptimizerOptuna:
    state = json.loads(json.dumps(strategy.state_dict()))
    fresh = make(**kwargs)
    fresh.load_state_dict(state, trials)
    return fresh


@pytest.mark.timeout(60)
def test_resumed_strategy_continues_identically() -> None:
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)

    def history(strategy: OptimizerOptuna) -> list[Trial]:
        trials = run(strategy, 14, report=True)
        running = launch(strategy, "running")  # in flight across the restart
        strategy.on_trial_result("running", 0, 1e6)  # pruned: the decision is in the state
        trials.append(Trial("running", running.parameters, running.meta, "in_progress"))
        return trials

    original = make(seed=15, optuna_pruner=pruner)
    history(original)
    storage = optuna.storages.InMemoryStorage()
    twin = make(seed=15, optuna_pruner=pruner, optuna_storage=storage)
    trials = history(twin)
    assert twin.state_dict()["pruned"] == ["running"]
    resumed = _resume(twin, trials, seed=None, optuna_pruner=pruner, optuna_storage=storage)
    assert resumed.seed == 15 and resumed.study_name == original.study_name

    assert resumed.on_trial_result("running", 1, 1e6) == Decision.STOP
    for s in (original, resumed):
        frozen = s.study.trials[14]
        finish(s, "running", Suggestion(frozen.params, {"optuna_trial": 14}), 1e6, "stopped", 1)
    expected = [t.parameters for t in run(original, 6, prefix="after")]
    assert [t.parameters for t in run(resumed, 6, prefix="after")] == expected
    assert states(resumed) == states(original)


def test_resume_tells_what_the_study_missed() -> None:
    storage = optuna.storages.InMemoryStorage()
    strategy = make(seed=16, optuna_storage=storage)
    trials = run(strategy, 2)
    ended = launch(strategy, "ended")          # finished while the controller was down
    trials.append(Trial("ended", ended.parameters, ended.meta, "completed", 0.5, 3))
    orphan = strategy.suggest()                # asked, but the job was never created
    assert isinstance(orphan, Suggestion)
    resumed = _resume(strategy, trials, seed=16, optuna_storage=storage)
    study = resumed.study
    assert study.trials[ended.meta["optuna_trial"]].state == TrialState.COMPLETE
    lost = study.trials[orphan.meta["optuna_trial"]]
    assert lost.state == TrialState.FAIL and lost.user_attrs["hpqueue_rejected"] == "orphan"
    assert config_key(orphan.parameters) not in resumed._seen
    run(resumed, 2, prefix="resumed")


@pytest.mark.timeout(60)
def test_redis_journal_storage_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    server = fakeredis.FakeServer()
    monkeypatch.setattr(redis.Redis, "from_url", classmethod(
        lambda cls, url, **kw: fakeredis.FakeStrictRedis(server=server)))
    url = "redis://127.0.0.1:6399/0"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    strategy = make(seed=17, optuna_pruner=pruner, optuna_storage=redis_journal_storage(url),
                    study_name="opt-1234")
    trials = run(strategy, 6)
    suggestion = launch(strategy, "live")
    strategy.on_trial_result("live", 0, 3.0)
    trials.append(Trial("live", suggestion.parameters, suggestion.meta, "in_progress"))

    # What optuna-dashboard does: open the URL with a fresh journal storage.
    loaded = optuna.load_study(study_name="opt-1234", storage=redis_journal_storage(url))
    assert [t.state for t in loaded.trials] == [TrialState.COMPLETE] * 6 + [TrialState.RUNNING]
    assert loaded.trials[6].intermediate_values == {0: 3.0}
    assert loaded.trials[6].user_attrs["hpqueue_job_id"] == "live"
    assert loaded.best_value == min(t.value for t in trials[:6])

    # A new controller process (URL given as a string) resumes the same study.
    resumed = _resume(strategy, trials, seed=17, optuna_pruner=pruner, optuna_storage=url,
                      study_name="opt-1234")
    finish(resumed, "live", suggestion, 2.0)
    run(resumed, 2, prefix="resumed")
    final = optuna.load_study(study_name="opt-1234", storage=redis_journal_storage(url))
    assert [t.state for t in final.trials] == [TrialState.COMPLETE] * 9
    assert final.trials[6].value == 2.0
