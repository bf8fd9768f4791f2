"""The real-model examples on real workers: a promoted ASHA trial and a PBT member continue the
model their source trial saved, and train it further.

The trainer is examples/mlp_digits.py (scikit-learn's MLPClassifier on the digits, a pickled
model per epoch) and, as a command task, examples/torch_digits.py (PyTorch; skipped when PyTorch
is not installed). "The model's epoch count grows" is read from the pickled model itself: its
own count of training samples seen (``t_``), which a fresh model could not reach.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from controller import (
    ASHA,
    DiscreteParameterRange,
    HyperParameterOptimizer,
    LogUniformParameterRange,
    PopulationBasedTraining,
)
from controller.jobs import Job
from tests.integration.test_strategies_real import EXAMPLES, check_run, run, start_epoch
from workers import Store, Task

pytest.importorskip("sklearn", reason="the examples extra (scikit-learn) is not installed")
from examples.mlp_digits import model_epochs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MLP = f"{EXAMPLES / 'mlp_digits.py'}:main"
SPACE = [LogUniformParameterRange("General/lr", min_value=-3, max_value=-1.5),
         LogUniformParameterRange("General/alpha", min_value=-6, max_value=-3)]


def mlp_optimizer(store: Store, queue: str, strategy: type, **kwargs: Any
                  ) -> HyperParameterOptimizer:
    base = Task.create(project="examples-ml", name="mlp_digits", entry_point=MLP, store=store,
                       parameters={"General/lr": 1e-2, "General/alpha": 1e-4,
                                   "General/hidden": 32, "General/batch_size": 128,
                                   "General/epochs": 3})
    return HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=SPACE, objective_metric_title="validation",
        objective_metric_series="loss", objective_metric_sign="min", optimizer_class=strategy,
        execution_queue=queue, max_number_of_concurrent_tasks=2, pool_period_min=0.01,
        store=store, resource="General/epochs", **kwargs)


def saved_model(store: Store, job_id: str) -> tuple[int, Any]:
    """The epoch and the model of a job's own newest checkpoint."""
    path = Path(store.checkpoints(job_id)[-1]["path"])
    with open(path, "rb") as f:
        saved = pickle.load(f)
    return saved["epoch"], saved["model"]


def assert_continues(store: Store, job: Job, source: Job) -> None:
    """``job`` loaded ``source``'s saved model and trained it up to its own epochs."""
    source_epoch, source_model = saved_model(store, source.id)
    epoch, model = saved_model(store, job.id)
    assert source_epoch == model_epochs(source_model) == source.parameters["General/epochs"]
    assert start_epoch(store, job.id) == source_epoch
    assert epoch == model_epochs(model) == job.parameters["General/epochs"] > source_epoch
    assert store.metric(job.id, "Summary", "model_epochs")["last"] == epoch
    # the model went on from the saved one: its reports start after the source's epochs
    assert store.history(job.id)["validation"]["loss"]["x"] == list(range(source_epoch, epoch))


def test_promoted_asha_trial_continues_the_saved_model(real_store: Store, queue: str,
                                                       local_workers: object) -> None:
    opt = mlp_optimizer(real_store, queue, ASHA, min_resource=1, max_resource=3,
                        reduction_factor=3, resume=True, max_trials=4, seed=4, total_max_jobs=10)
    jobs = check_run(opt, real_store, run(opt, local_workers), reason="search space exhausted")
    by_id = {j.id: j for j in jobs}
    promoted = [j for j in jobs if j.meta["rung"] == 1]
    assert promoted
    for job in promoted:
        assert job.continue_from is not None
        assert_continues(real_store, job, by_id[job.continue_from])
    for job in jobs:
        if job.meta["rung"] == 0:
            assert start_epoch(real_store, job.id) == 0
            assert saved_model(real_store, job.id)[0] == 1


def test_pbt_member_continues_the_saved_model(real_store: Store, queue: str,
                                              local_workers: object) -> None:
    opt = mlp_optimizer(real_store, queue, PopulationBasedTraining, perturbation_interval=1,
                        max_resource=4, population_size=5, resample_probability=0.0, seed=2,
                        total_max_jobs=40)
    jobs = check_run(opt, real_store, run(opt, local_workers), reason="search space exhausted")
    by_id = {j.id: j for j in jobs}
    later = [j for j in jobs if j.meta["generation"] > 0]
    assert later and any("exploited" in j.meta for j in later)
    for job in later:
        assert job.continue_from is not None
        assert_continues(real_store, job, by_id[job.continue_from])


def test_torch_command_trial_continues_its_checkpoint(real_store: Store, queue: str,
                                                      local_workers: object) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch (examples extra) is not installed")
    base = Task.create(
        project="examples-ml", name="torch_digits", store=real_store,
        command=[sys.executable, str(EXAMPLES / "torch_digits.py"), "--lr={{ General/lr }}",
                 "--hidden={{ General/hidden }}", "--epochs={{ General/epochs }}"],
        parameters={"General/lr": 3e-3, "General/hidden": 32, "General/epochs": 3})
    opt = HyperParameterOptimizer(
        base_task_id=base.id, optimizer_class=ASHA, execution_queue=queue, store=real_store,
        hyper_parameters=[DiscreteParameterRange("General/lr", values=[1e-3, 3e-3, 1e-2])],
        objective_metric_title="validation", objective_metric_series="loss",
        objective_metric_sign="min", resource="General/epochs", min_resource=1,
        max_resource=3, reduction_factor=3, resume=True, max_trials=3, seed=1,
        max_number_of_concurrent_tasks=2, pool_period_min=0.01)
    jobs = check_run(opt, real_store, run(opt, local_workers, timeout_s=150),
                     reason="search space exhausted")
    (promoted,) = [j for j in jobs if j.meta["rung"] == 1]
    assert promoted.continue_from is not None
    assert start_epoch(real_store, promoted.id) == 1
    saved = torch.load(real_store.checkpoints(promoted.id)[-1]["path"], weights_only=True)
    assert saved["epoch"] == 3
    # Adam counted every step of the continued run: 3 epochs' worth, not the 2 it ran itself
    steps = {int(s["step"]) for s in saved["optimizer"]["state"].values()}
    source = torch.load(real_store.checkpoints(promoted.continue_from)[-1]["path"],
                        weights_only=True)
    (source_steps,) = {int(s["step"]) for s in source["optimizer"]["state"].values()}
    assert steps == {3 * source_steps}
    assert "continuing" in Task.get_task(promoted.id, store=real_store).output
