"""ClearML's workflow against a real redis-server and real Celery workers: a training script run
by hand becomes a base task, a clone of it runs the same script on a worker with its own values,
a script sends itself to a worker with ``execute_remotely``, the example pair
(``examples/clearml``) optimizes a base task made that way, a strategy written ClearML's way
(``create_job``) runs, and ``hpq optimize`` runs BOHB with ClearML's arguments.

The scripts are in ``tests/integration/clearml/``; each runs in a process of its own, as a user
runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import (
    ClearmlJob,
    ClearMLSearchStrategy,
    DiscreteParameterRange,
    HyperParameterOptimizer,
)
from tests.helpers import wait_until
from workers import Store, Task, TaskStatus
from workers.local import LocalWorkers

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().with_name("clearml")
TRAIN = SCRIPTS / "train_all_calls.py"
PROJECT = "clearml-it"

pytestmark = pytest.mark.integration


def run_script(script: Path, *args: str, cwd: Path | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``script`` by hand (the environment carries the test's Redis and namespace)."""
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def model_config(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"depth": 3}))
    return path


@pytest.fixture(autouse=True)
def _drop_queue_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete the Celery keys of the test's private queues afterwards."""
    if "real_store" not in request.fixturenames:
        yield
        return
    client = request.getfixturevalue("real_store").redis
    names = [request.getfixturevalue(q) for q in ("queue", "services_queue")
             if q in request.fixturenames]
    yield
    for name in names:
        client.delete(*client.scan_iter(match=f"{name}*"), f"_kombu.binding.{name}")


@pytest.fixture
def services_queue(queue: str) -> str:
    return f"{queue}-services"


def effective(task: Task) -> dict[str, Any]:
    return task.artifacts["effective"].get()


# ============================================================= a script by hand
@pytest.mark.timeout(120)
def test_script_run_by_hand_records_a_base_task(real_store: Store, model_config: Path) -> None:
    done = run_script(TRAIN, "--lr", "0.2", "--model-config", str(model_config))
    assert done.returncode == 0, done.stderr
    base = Task.get_task(project_name=PROJECT, task_name="train all calls")
    assert base.status is TaskStatus.COMPLETED and base.task_type == "training"
    assert base.tags == ["it"]
    rec = base.record
    assert json.loads(rec["command"]) == [sys.executable, str(TRAIN), "--lr", "0.2",
                                          "--model-config", str(model_config)]
    assert rec["script"] == str(TRAIN) and rec["interpreter"] == sys.executable
    assert rec["working_dir"] == str(ROOT)
    params = base.get_parameters()
    assert {k: params[k] for k in ("Args/lr", "Args/layers", "Args/data", "Args/mode")} == {
        "Args/lr": 0.2, "Args/layers": [32, 32], "Args/data": "/data/train", "Args/mode": "ok"}
    assert {k: v for k, v in params.items() if not k.startswith("Args/")} == {
        "General/epochs": 3, "General/dropout": 0.25, "General/net/width": 8,
        "General/note": "hello", "Optimizer/momentum": 0.9, "Optimizer/nesterov": False,
        "Seed/seed": 1}
    objects = base.get_configuration_objects()
    assert objects["schedule"]["value"] == {"kind": "cosine", "warmup": 1}
    assert json.loads(objects["model"]["value"]) == {"depth": 3}
    metrics = base.get_last_scalar_metrics()
    assert metrics["validation"]["loss"]["iteration"] == 2
    assert "final loss" in metrics["Summary"]
    seen = effective(base)
    assert seen["task_id"] == base.id and seen["main"] is True and seen["lr"] == 0.2
    assert seen["as_dict"]["Optimizer"] == {"momentum": 0.9, "nesterov": False}
    assert "finished with loss" in done.stdout


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("mode", "status", "error"), [
    ("raise", TaskStatus.FAILED, "RuntimeError: boom"),
    ("exit3", TaskStatus.FAILED, "SystemExit: 3"),
    ("mark_completed", TaskStatus.COMPLETED, None),
    ("close", TaskStatus.COMPLETED, None),
])
def test_how_a_script_run_by_hand_ends(real_store: Store, model_config: Path, mode: str,
                                       status: TaskStatus, error: str | None) -> None:
    done = run_script(TRAIN, "--mode", mode, "--model-config", str(model_config))
    task = Task.get_task(project_name=PROJECT, task_name="train all calls")
    assert task.status is status
    assert task.error == error
    if mode == "raise":
        assert "Traceback" in (task.traceback or "") and done.returncode == 1
    if mode == "mark_completed":
        assert done.returncode == 0 and "not reached" not in done.stdout
    if mode == "close":
        assert "the process carries on" in done.stdout


# ======================================================= a clone run by a worker
@pytest.mark.timeout(180)
def test_a_clone_runs_the_script_with_its_own_values(real_store: Store, queue: str,
                                                     local_workers: Any, model_config: Path,
                                                     tmp_path: Path) -> None:
    assert run_script(TRAIN, "--model-config", str(model_config)).returncode == 0
    base = Task.get_task(project_name=PROJECT, task_name="train all calls")
    clone = Task.clone(source_task=base, name="clone of the script")
    clone.update_parameters({"Args/lr": 0.02, "Args/layers": [4, 5, 6], "Args/data": "/other",
                             "General/epochs": 2, "General/net/width": 16,
                             "Optimizer/momentum": 0.5, "Seed/seed": 7})
    clone._set_configuration_object("schedule", {"type": "dictionary",
                                                 "value": {"kind": "step", "warmup": 0}})
    Task.enqueue(clone, queue_name=queue)
    assert clone.wait_for_status(timeout=90) is TaskStatus.COMPLETED, clone.error
    seen = effective(clone)
    assert seen["task_id"] == clone.id and seen["main"] is True
    assert {k: seen[k] for k in ("lr", "layers", "data", "epochs", "dropout", "width",
                                 "momentum", "seed", "schedule", "model")} == {
        "lr": 0.02, "layers": [4, 5, 6], "data": "/other", "epochs": 2, "dropout": 0.25,
        "width": 16, "momentum": 0.5, "seed": 7, "schedule": {"kind": "step", "warmup": 0},
        "model": {"depth": 3}}
    assert clone.get_last_scalar_metrics()["validation"]["loss"]["iteration"] == 1
    assert base.get_parameter("Args/lr") == 0.1  # the base is untouched

    # the script moved away: the trial fails naming the path
    moved = tmp_path / "train_all_calls.py"
    shutil.copy(TRAIN, moved)
    store_record = dict(base.record)
    real_store.set_fields(base.id, {"script": str(moved), "command": json.dumps(
        [sys.executable, str(moved), "--model-config", str(model_config)])})
    orphan = Task.clone(source_task=base.id, name="orphan")
    moved.unlink()
    orphan.enqueue(queue)
    assert orphan.wait_for_status(timeout=60) is TaskStatus.FAILED
    assert orphan.error is not None and f"script {moved} of task {orphan.id} not found" in \
        orphan.error
    real_store.set_fields(base.id, {k: store_record[k] for k in ("script", "command")})


# ============================================================= execute_remotely
@pytest.mark.timeout(180)
@pytest.mark.parametrize("clone", [False, True])
def test_execute_remotely_hands_the_script_to_a_worker(real_store: Store, services_queue: str,
                                                       clone: bool) -> None:
    args = [services_queue, "--clone"] if clone else [services_queue]
    done = run_script(SCRIPTS / "remote_controller.py", *args)
    assert done.returncode == 0, done.stderr
    assert f"no live worker consumes queue {services_queue!r}" in done.stderr
    tasks = Task.get_tasks(project_name=PROJECT, task_name="^remote controller")
    assert len(tasks) == (2 if clone else 1)
    local, remote = tasks[0], tasks[-1]
    assert remote.status is TaskStatus.QUEUED and remote.task_type == "optimizer"
    if clone:
        assert local.status is TaskStatus.COMPLETED and remote.parent == local.id
    workers = LocalWorkers([services_queue], concurrency=1, url=real_store.url)
    try:
        workers.wait_ready(timeout=60)
        assert remote.wait_for_status(timeout=90) is TaskStatus.COMPLETED, remote.output
    finally:
        workers.stop(timeout=20)
    where = remote.artifacts["where"].get()
    assert where == {"task_id": remote.id, "current": remote.id, "worker_env": remote.id,
                     "answer": 41}
    assert remote.get_last_scalar_metrics()["ran"]["remote"]["last"] == 1.0


# ==================================================================== the examples
@pytest.mark.timeout(300)
def test_the_example_pair_optimizes_a_base_task_made_by_hand(real_store: Store, queue: str,
                                                             local_workers: Any) -> None:
    examples = ROOT / "examples" / "clearml"
    base_run = run_script(examples / "base_train.py", "--sleep", "0")
    assert base_run.returncode == 0, base_run.stderr
    done = run_script(examples / "hpo_controller.py", "--queue", queue, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "batch_size -> General/batch_size" in done.stderr
    assert "We are done, good bye" in done.stdout
    controller = Task.get_task(project_name="Hyper-Parameter Optimization",
                               task_name="Automatic Hyper-Parameter Optimization")
    assert controller.status is TaskStatus.COMPLETED and "optimization" in controller.tags
    jobs = Task.get_tasks(parent=controller.id)
    assert len(jobs) == 12
    assert all(j.status in (TaskStatus.COMPLETED, TaskStatus.STOPPED) for j in jobs)
    base = Task.get_task(project_name="examples", task_name="clearml base train")
    assert all(j.record["source"] == base.id for j in jobs)
    lrs = {j.get_parameter("Args/lr") for j in jobs}
    assert len(lrs) > 1 and all(isinstance(x, float) for x in lrs)
    assert os.path.basename(json.loads(jobs[0].record["command"])[1]) == "base_train.py"


# ========================================================== ClearML-style strategies
class EachLr(ClearMLSearchStrategy):
    """A strategy written ClearML's way: one job per learning rate, in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rates = [0.01, 0.02, 0.05, 0.1]

    def create_job(self) -> ClearmlJob | None:
        if not self.rates:
            return None
        return self.helper_create_job(base_task_id=self.base_task_id,
                                      parameter_override={"Args/lr": self.rates.pop(0)})


@pytest.mark.timeout(240)
def test_a_clearml_style_strategy_on_real_workers(real_store: Store, queue: str,
                                                  local_workers: Any) -> None:
    examples = ROOT / "examples" / "clearml"
    assert run_script(examples / "base_train.py", "--sleep", "0").returncode == 0
    base = Task.get_task(project_name="examples", task_name="clearml base train")
    opt = HyperParameterOptimizer(base.id, [DiscreteParameterRange("Args/lr", [0.01, 0.1])],
                                  "validation", "loss", "min", optimizer_class=EachLr,
                                  max_number_of_concurrent_tasks=2, execution_queue=queue,
                                  pool_period_min=0.01)
    opt.start()
    assert opt.wait(timeout=3)
    strategy = opt.get_optimizer()
    assert isinstance(strategy, EachLr)
    children = Task.get_tasks(parent=opt.id)
    created = strategy.get_created_jobs_ids()
    assert set(created) == {t.id for t in children} and len(created) == 4
    assert [p["Args/lr"] for p in created.values()] == [0.01, 0.02, 0.05, 0.1]
    jobs = strategy.get_created_jobs_tasks()
    assert all(j.is_completed() and j.iterations() == 7 for j in jobs.values())
    assert {t.get_last_scalar_metrics()["Summary"]["final accuracy"]["last"] for t in children}
    assert strategy.get_running_jobs() == [] and strategy.budget.jobs.limit is None


@pytest.mark.timeout(240)
def test_hpq_optimize_with_clearmls_bohb_arguments(real_store: Store, queue: str,
                                                   local_workers: Any) -> None:
    """BOHB as clearml-param-search runs it: min/max iterations per job as the budget, no
    resource parameter; jobs stop once they report their budget's iteration."""
    examples = ROOT / "examples" / "clearml"
    assert run_script(examples / "base_train.py", "--sleep", "0.05").returncode == 0
    base = Task.get_task(project_name="examples", task_name="clearml base train")
    lr = json.dumps({"type": "UniformParameterRange", "name": "Args/lr", "min_value": 0.01,
                     "max_value": 0.2, "step_size": 0.01})
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "optimize", "--task-id", base.id,
         "--params-search", lr, "--objective-metric-title", "validation",
         "--objective-metric-series", "loss", "--objective-metric-sign", "min",
         "--optimizer-class", "OptimizerBOHB", "--min-iteration-per-job", "2",
         "--max-iteration-per-job", "6", "--total-max-jobs", "6", "--queue", queue,
         "--max-number-of-concurrent-tasks", "2", "--pool-period-min", "0.01"],
        cwd=ROOT, capture_output=True, text=True, timeout=200, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    top = json.loads(lines[lines.index("Top 10 experiments are: ") + 1].replace("'", '"'))
    opt_id = done.stdout.split("\noptimizer ")[1].split(":")[0]
    jobs = Task.get_tasks(parent=opt_id)
    assert len(jobs) == 6 and set(top) == {j.id for j in jobs}
    assert all("General/epochs" in j.get_parameters() for j in jobs)  # no resource parameter
    budgets = {j.get_last_scalar_metrics()["validation"]["loss"]["iteration"] for j in jobs}
    stopped = [j for j in jobs if j.status is TaskStatus.STOPPED]
    assert stopped and all(j.get_last_scalar_metrics()["validation"]["loss"]["iteration"] >= 2
                           for j in stopped)
    assert min(budgets) < 7  # stopped before the script's 8 epochs


@pytest.mark.timeout(180)
def test_a_stopped_script_ends_stopped_with_one_line(real_store: Store, queue: str,
                                                     local_workers: Any) -> None:
    examples = ROOT / "examples" / "clearml"
    assert run_script(examples / "base_train.py", "--sleep", "0").returncode == 0
    base = Task.get_task(project_name="examples", task_name="clearml base train")
    clone = Task.clone(base, parameters={"Args/sleep": 0.2, "General/epochs": 100})
    clone.enqueue(queue)
    wait_until(lambda: clone.get_last_scalar_metrics(), 60, "the clone's first report")
    assert clone.mark_stopped("enough") == "flagged"
    assert clone.wait_for_status(timeout=60) is TaskStatus.STOPPED
    assert clone.status_reason == "enough"
    assert "hpqueue: TrialStopped: task" in clone.output and "Traceback" not in clone.output
