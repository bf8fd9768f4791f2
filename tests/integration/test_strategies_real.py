"""Every strategy end to end: HyperParameterOptimizer -> real Celery workers -> results.

Each test runs a tiny budget of trivial trials (the examples' training functions,
``examples/train.py`` and ``examples/train_resumable.py``) on two real prefork worker processes
(the ``local_workers`` fixture), then checks why the optimization ended, that its budget held,
that results rank, and the strategy's own promise: Hyperband/ASHA/BOHB resume or restart
promoted configurations, the Optuna study is readable from the Redis journal storage, Mapping
runs its list in order, early stopping stops and ends. Waits are bounded; nothing depends on
timing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest

from controller import (
    ASHA,
    BayesianGP,
    DiscreteParameterRange,
    GridSearch,
    Hyperband,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    Mapping,
    MedianStopping,
    MetricThreshold,
    OptimizerBOHB,
    OptimizerOptuna,
    Parameter,
    PopulationBasedTraining,
    RandomSearch,
    SearchStrategy,
    Suggestion,
    Trial,
    UniformParameterRange,
)
from controller.jobs import Job
from controller.persistence import OptimizerRepository
from controller.strategies.grid_random import config_key
from controller.strategies.optuna_search import redis_journal_storage
from workers import Store, Task, TaskStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRAIN = f"{EXAMPLES / 'train.py'}:main"
TRAIN_RESUMABLE = f"{EXAMPLES / 'train_resumable.py'}:main"
WAITS_FOR_STOP = "tests.integration.strategy_trials:train_waits_for_stop"
PROJECT = "strategies-integration"
CONTINUOUS = [LogUniformParameterRange("General/lr", min_value=-3, max_value=0),
              UniformParameterRange("General/dropout", min_value=0.0, max_value=0.6)]
FINAL = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED}


@pytest.fixture(autouse=True)
def _drop_queue_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete the Celery keys of the test's private queue after its workers stopped."""
    if "local_workers" not in request.fixturenames:
        yield
        return
    queue = request.getfixturevalue("queue")
    client = request.getfixturevalue("real_store").redis
    yield
    client.delete(*client.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}")


def optimizer(store: Store, queue: str, strategy: type, *, resumable: bool = False,
              hyper_parameters: list | None = None, epochs: int = 4,
              **kwargs: Any) -> HyperParameterOptimizer:
    """An optimizer of ``validation/loss`` (min) over a base task running an example trainer."""
    base = Task.create(project=PROJECT, name="train",
                       entry_point=TRAIN_RESUMABLE if resumable else TRAIN,
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": epochs}, store=store)
    kwargs.setdefault("max_number_of_concurrent_tasks", 2)
    return HyperParameterOptimizer(
        base_task_id=base.id,
        hyper_parameters=CONTINUOUS if hyper_parameters is None else hyper_parameters,
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", optimizer_class=strategy, execution_queue=queue,
        pool_period_min=0.01, store=store, **kwargs)


def run(opt: HyperParameterOptimizer, workers: Any, timeout_s: float = 90.0) -> list[tuple]:
    """Start, wait for the end (bounded), return the callback's calls.

    On a timeout the failure shows the jobs' statuses and the end of the workers' log.
    """
    calls: list[tuple] = []
    opt.start(job_complete_callback=lambda *args: calls.append(args))
    if opt.wait(timeout=timeout_s / 60):
        return calls
    store = opt._store
    statuses = [(r or {}).get("status") for r in store.get_many(store.find(parent=opt.id))]
    opt.stop(timeout=0.5)
    log = Path(workers.log_path).read_text(errors="replace")[-3000:]
    raise AssertionError(f"optimizer did not end within {timeout_s}s; jobs: {statuses}; "
                         f"end of the workers' log:\n{log}")


def check_run(opt: HyperParameterOptimizer, store: Store, calls: list[tuple], *,
              reason: str, max_jobs: int | None = None) -> list[Job]:
    """The invariants of every run; returns the job table, oldest first.

    It ended for ``reason`` (a prefix), created at most ``max_jobs`` tasks (all of them in the
    job table), every job reached a final status, the callback fired once per job that ended
    with its objective, and the top-k lists exactly those jobs, best first, with the values the
    trials reported.
    """
    assert opt.end_reason is not None and opt.end_reason.startswith(reason), opt.end_reason
    assert Task.get_task(opt.id, store=store).status == TaskStatus.COMPLETED
    jobs = OptimizerRepository(store).load(opt.id).jobs
    children = store.find(parent=opt.id)
    assert sorted(children) == sorted(j.id for j in jobs)
    if max_jobs is not None:
        assert len(jobs) <= max_jobs
    for job, rec in zip(jobs, store.get_many(j.id for j in jobs)):
        assert rec is not None and TaskStatus(rec["status"]) in FINAL, (job.id, rec)
        assert job.status == TaskStatus(rec["status"])
        assert rec["status"] != TaskStatus.FAILED.value, rec.get("traceback")
    with_objective = {j.id for j in jobs if j.status != TaskStatus.FAILED
                      and store.metric(j.id, "validation", "loss") is not None}
    notified = [c[0] for c in calls]
    assert len(notified) == len(set(notified)) and set(notified) == with_objective
    top = opt.get_top_experiments_details(top_k=len(jobs) + 1)
    assert {row["task_id"] for row in top} == with_objective
    values = [row["metrics"]["validation/loss"]["value"] for row in top]
    assert values == sorted(values)
    for row, value in zip(top, values):
        assert store.metric(row["task_id"], "validation", "loss")["last"] == value
    assert opt.get_top_experiments(top_k=1)[0].id == top[0]["task_id"]
    return jobs


def loss_history(store: Store, job_id: str) -> list[int]:
    """The iterations at which a job reported ``validation/loss``."""
    return store.history(job_id)["validation"]["loss"]["x"]


def start_epoch(store: Store, job_id: str) -> int:
    """The epoch train_resumable.py started from (its ``start_epoch`` single value)."""
    return int(store.metric(job_id, "Summary", "start_epoch")["last"])


def resumable_loss(params: dict[str, Any], epochs: int) -> float:
    """What train_resumable.py reports after ``epochs`` epochs in total, resumed or not."""
    lr, dropout = params["General/lr"], params["General/dropout"]
    return (math.log10(lr) + 1) ** 2 + (dropout - 0.3) ** 2 + math.exp(-5 * lr) ** epochs


# ---------------------------------------------------------------------- strategies
def test_grid_search(real_store: Store, queue: str, local_workers: object) -> None:
    space = [DiscreteParameterRange("General/lr", values=[0.03, 0.1, 0.3]),
             DiscreteParameterRange("General/dropout", values=[0.1, 0.3])]
    opt = optimizer(real_store, queue, GridSearch, hyper_parameters=space, total_max_jobs=20)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=6)
    space_ = opt.get_optimizer().space
    assert [j.parameters for j in jobs] == [space_.grid_point(i) for i in range(6)]
    assert all(j.status == TaskStatus.COMPLETED for j in jobs)


def test_random_search(real_store: Store, queue: str, local_workers: object) -> None:
    opt = optimizer(real_store, queue, RandomSearch, total_max_jobs=4, seed=1)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="total_max_jobs reached", max_jobs=4)
    assert len(jobs) == 4
    assert len({config_key(j.parameters) for j in jobs}) == 4
    assert all(opt.get_optimizer().space.contains(j.parameters) for j in jobs)


class Ladder(SearchStrategy):
    """A strategy written on the core contract alone (no ClearML arguments): ``rungs`` jobs
    with dropout 0.1, 0.2, ..., the rest of each configuration drawn from its space."""

    def __init__(self, hyper_parameters: Iterable[Parameter] = (), *, rungs: int,
                 seed: int | None = None) -> None:
        super().__init__(hyper_parameters, seed=seed)
        self.rungs = rungs
        self.cursor = 0

    def suggest(self) -> Suggestion | None:
        if self.cursor >= self.rungs:
            return None
        self.cursor += 1
        return Suggestion({**self.space.sample(self.rng),
                           "General/dropout": round(0.1 * self.cursor, 1)})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, Any], trials: Sequence[Trial] = ()) -> None:
        super().load_state_dict(state, trials)
        self.cursor = int(state["cursor"])


def test_a_strategy_on_the_core_contract(real_store: Store, queue: str,
                                         local_workers: object) -> None:
    """The optimizer builds it with its space, seed and own argument only, binds it, runs it."""
    opt = optimizer(real_store, queue, Ladder, hyper_parameters=CONTINUOUS[:1], rungs=3,
                    total_max_jobs=10, seed=4)
    strategy = opt.get_optimizer()
    assert strategy.context is not None and strategy.context.study_name == opt.id
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=3)
    assert [j.parameters["General/dropout"] for j in jobs] == [0.1, 0.2, 0.3]
    assert all(strategy.space.contains({"General/lr": j.parameters["General/lr"]})
               for j in jobs)


def test_optuna_study_in_redis(real_store: Store, queue: str, local_workers: object) -> None:
    opt = optimizer(real_store, queue, OptimizerOptuna, total_max_jobs=5, seed=2)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="total_max_jobs reached", max_jobs=5)
    assert len(jobs) == 5

    study = optuna.load_study(study_name=opt.id, storage=redis_journal_storage(real_store.url))
    trials = study.trials
    assert len(trials) == 5
    by_job = {t.user_attrs["hpqueue_job_id"]: t for t in trials}
    assert set(by_job) == {j.id for j in jobs}
    for job in jobs:
        trial = by_job[job.id]
        assert trial.params == job.parameters
        assert trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        last = real_store.metric(job.id, "validation", "loss")["last"]
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.value == pytest.approx(last)
    best = opt.get_top_experiments_details(top_k=1)[0]
    assert study.best_trial.user_attrs["hpqueue_job_id"] == best["task_id"]


@pytest.mark.parametrize("resume", [True, False], ids=["resume", "restart"])
def test_hyperband_resume(real_store: Store, queue: str, local_workers: object,
                          resume: bool) -> None:
    # max_iterations=3, eta=3: bracket 1 runs 3 configurations x 1 epoch and promotes the best
    # to 3 epochs; bracket 0 runs 2 configurations x 3 epochs. 6 jobs, then Hyperband is over.
    opt = optimizer(real_store, queue, Hyperband, resumable=True, max_iterations=3, eta=3,
                    resource="General/epochs", resume=resume, seed=3, total_max_jobs=20)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=6)
    assert [(j.meta["bracket"], j.meta["rung"], j.parameters["General/epochs"]) for j in jobs] \
        == [(1, 0, 1)] * 3 + [(1, 1, 3)] + [(0, 0, 3)] * 2
    assert all(j.status == TaskStatus.COMPLETED for j in jobs)
    rung0, promoted = jobs[:3], jobs[3]
    best = min(rung0, key=lambda j: real_store.metric(j.id, "validation", "loss")["last"])
    assert promoted.meta["config"] == best.meta["config"]
    assert {k: promoted.parameters[k] for k in ("General/lr", "General/dropout")} \
        == {k: best.parameters[k] for k in ("General/lr", "General/dropout")}
    assert [c["iteration"] for c in real_store.checkpoints(best.id)] == [0]
    record = Task.get_task(promoted.id, store=real_store).record
    if resume:
        # continues its own rung-0 trial: from that checkpoint (epoch 1) to epoch 3
        assert promoted.continue_from == best.id and record["continue_from"] == best.id
        assert start_epoch(real_store, promoted.id) == 1
        assert loss_history(real_store, promoted.id) == [1, 2]
    else:
        assert promoted.continue_from is None and not record.get("continue_from")
        assert start_epoch(real_store, promoted.id) == 0
        assert loss_history(real_store, promoted.id) == [0, 1, 2]
    # either way the model state after 3 epochs is the same: the checkpoint's state was used
    assert real_store.metric(promoted.id, "validation", "loss")["last"] == pytest.approx(
        resumable_loss(promoted.parameters, 3))
    for job in jobs[:3] + jobs[4:]:
        assert job.continue_from is None and start_epoch(real_store, job.id) == 0


def test_asha_resume(real_store: Store, queue: str, local_workers: object) -> None:
    # rungs of 1 and 3 epochs; 4 configurations; promotion to rung 1 continues the checkpoint
    opt = optimizer(real_store, queue, ASHA, resumable=True, resource="General/epochs",
                    min_resource=1, max_resource=3, reduction_factor=3, resume=True,
                    max_trials=4, seed=4, total_max_jobs=20)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=8)
    rung0 = [j for j in jobs if j.meta["rung"] == 0]
    promoted = [j for j in jobs if j.meta["rung"] == 1]
    assert len(rung0) == 4 and len({j.meta["config"] for j in rung0}) == 4
    assert 1 <= len(promoted) <= 2  # the top third at some moment: floor(3/3) then floor(4/3)
    first = {j.meta["config"]: j for j in rung0}
    for job in promoted:
        origin = first[job.meta["config"]]
        assert job.parameters["General/epochs"] == 3
        assert job.continue_from == origin.id
        assert start_epoch(real_store, job.id) == 1
        assert loss_history(real_store, job.id) == [1, 2]
        assert real_store.metric(job.id, "validation", "loss")["last"] == pytest.approx(
            resumable_loss(job.parameters, 3))


def test_bohb(real_store: Store, queue: str, local_workers: object) -> None:
    # budgets 1..3 (eta 3): round 1 is Hyperband's 6 jobs; brackets repeat until 8 jobs
    opt = optimizer(real_store, queue, OptimizerBOHB, resumable=True, resource="General/epochs",
                    min_budget=1, max_budget=3, eta=3, resume=True, seed=5, total_max_jobs=8)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="total_max_jobs reached", max_jobs=8)
    assert len(jobs) == 8
    assert [(j.meta["bracket"], j.meta["rung"]) for j in jobs] \
        == [(1, 0)] * 3 + [(1, 1)] + [(0, 0)] * 2 + [(1, 0)] * 2
    assert {j.parameters["General/epochs"] for j in jobs} == {1, 3}
    assert all(isinstance(j.meta["model_based"], bool) for j in jobs if j.meta["rung"] == 0)
    promoted = jobs[3]
    assert promoted.continue_from in {j.id for j in jobs[:3]}
    assert loss_history(real_store, promoted.id) == [1, 2]


def test_bayes_gp(real_store: Store, queue: str, local_workers: object) -> None:
    opt = optimizer(real_store, queue, BayesianGP, num_initial_runs=2, max_iterations=2, seed=6,
                    total_max_jobs=20)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=4)
    assert len(jobs) == 4
    # a GP suggestion is asked for when a slot frees, i.e. after a result came in
    assert [j.meta["source"] for j in jobs] == ["random", "random", "gp", "gp"]
    assert len({config_key(j.parameters) for j in jobs}) == 4


def test_mapping_in_order(real_store: Store, queue: str, local_workers: object) -> None:
    values = [{"lr": 0.03}, {"lr": 0.1, "dropout": 0.3}, {"General/epochs": 2}]
    opt = optimizer(real_store, queue, Mapping, hyper_parameters=[], values=values,
                    max_number_of_concurrent_tasks=1, total_max_jobs=20)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=3)
    assert [j.parameters for j in jobs] == [{"General/lr": 0.03},
                                            {"General/lr": 0.1, "General/dropout": 0.3},
                                            {"General/epochs": 2}]
    starts = [Task.get_task(j.id, store=real_store).started for j in jobs]
    ends = [Task.get_task(j.id, store=real_store).completed for j in jobs]
    assert all(e <= s for e, s in zip(ends, starts[1:]))  # one at a time, in list order
    params = Task.get_task(jobs[2].id, store=real_store).get_parameters()
    assert (params["General/lr"], params["General/dropout"], params["General/epochs"]) \
        == (0.1, 0.25, 2)  # the base task's values, but for the entry's override
    assert loss_history(real_store, jobs[2].id) == [0, 1]


def test_early_stopping_median_and_threshold(real_store: Store, queue: str,
                                             local_workers: object) -> None:
    # One job at a time, so that the median sees finished jobs only. Two fair configurations
    # (final loss ~0.097), a bad one (stopped by the median at iteration 2; it waits there for
    # the stop), then the best one, whose loss passes 0.05 at epoch 5: the threshold ends the
    # optimization; the last entry never starts.
    values = [{"lr": 0.1, "dropout": 0.6}, {"lr": 0.1, "dropout": 0.0},
              {"lr": 0.01, "dropout": 0.3, "wait_after": 2}, {"lr": 0.1, "dropout": 0.3},
              {"lr": 0.3, "dropout": 0.3}]
    base = Task.create(project=PROJECT, name="train", entry_point=WAITS_FOR_STOP,
                       parameters={"General/lr": 0.1, "General/dropout": 0.25,
                                   "General/epochs": 10, "General/wait_after": -1},
                       store=real_store)
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=[], objective_metric_title="validation",
        objective_metric_series="loss", optimizer_class=Mapping, values=values,
        max_number_of_concurrent_tasks=1, execution_queue=queue, total_max_jobs=20,
        pool_period_min=0.01, store=real_store,
        early_stopping=[MedianStopping(grace_iterations=2, min_samples=2), MetricThreshold(0.05)])
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="early stopping: job ", max_jobs=4)
    assert len(jobs) == 4
    fair1, fair2, bad, best = jobs
    assert best.id in opt.end_reason
    assert fair1.status == fair2.status == TaskStatus.COMPLETED
    assert bad.status == TaskStatus.STOPPED
    assert Task.get_task(bad.id, store=real_store).status_reason.startswith("median stopping")
    assert loss_history(real_store, bad.id) == [0, 1, 2, 3]  # the stop surfaces at report 3
    assert real_store.metric(best.id, "validation", "loss")["min"] <= 0.05
    assert opt.get_top_experiments(top_k=1)[0].id == best.id


def test_population_based_training(real_store: Store, queue: str, local_workers: object) -> None:
    # 5 members train 6 epochs each in segments of 1; the worst member copies a top member's
    # checkpoint (which trains on from the donor's epochs) with perturbed hyper-parameters
    opt = optimizer(real_store, queue, PopulationBasedTraining, resumable=True,
                    resource="General/epochs", perturbation_interval=1, max_resource=6,
                    population_size=5, resample_probability=0.0, seed=5, total_max_jobs=60)
    calls = run(opt, local_workers)
    jobs = check_run(opt, real_store, calls, reason="search space exhausted", max_jobs=30)
    assert all(j.status == TaskStatus.COMPLETED for j in jobs)
    by_id = {j.id: j for j in jobs}
    last: dict[int, Job] = {}
    for job in jobs:
        last[job.meta["member"]] = job
        if job.meta["generation"] == 0:
            assert job.continue_from is None and start_epoch(real_store, job.id) == 0
            assert job.parameters["General/epochs"] == 1
            continue
        source = by_id[job.continue_from]  # the member's own previous job, or the donor's
        assert start_epoch(real_store, job.id) == source.parameters["General/epochs"]
        assert job.parameters["General/epochs"] == source.parameters["General/epochs"] + 1
        if "exploited" in job.meta:
            assert source.meta["member"] == job.meta["exploited"] != job.meta["member"]
        else:
            assert source.meta["member"] == job.meta["member"]
            assert job.parameters["General/lr"] == source.parameters["General/lr"]
    assert sorted(last) == [0, 1, 2, 3, 4]
    assert len(jobs) == 30  # every member trained 6 segments itself
    assert all(j.meta["progress"] == 6 for j in last.values())
    assert all(j.parameters["General/epochs"] >= 6 for j in last.values())
    assert any("exploited" in j.meta for j in jobs)
