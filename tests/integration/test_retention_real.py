"""Retention on a real redis-server of its own with real Celery workers: an Optuna optimization
with checkpoints and artifacts, then ``hpq delete``: nothing of it is left (Redis keys, the Optuna
journal, files), and another optimization's keys stay."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import optuna
import pytest

from controller import HyperParameterOptimizer, OptimizerOptuna, UniformParameterRange
from controller.cli import main
from controller.strategies.optuna_search import redis_journal_storage
from workers import Store, Task
from workers.procs import start_redis_server

ENTRY = "tests.integration.trials:train_with_files"


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this test alone: its key count is the test's (overrides conftest's)."""
    with start_redis_server(tmp_path_factory.mktemp("redis"),
                            config={"save": "", "appendonly": "no"}) as server:
        yield server.url


def namespace_keys(store: Store) -> set[str]:
    return set(store.redis.scan_iter(match=f"{store.keys.ns}:*", count=1000))


def journal_keys(store: Store) -> set[str]:
    return set(store.redis.scan_iter(match=":*", count=1000))


def optimize(base: Task, queue: str, seed: int) -> HyperParameterOptimizer:
    opt = HyperParameterOptimizer(
        base.id, [UniformParameterRange("General/lr", 0.01, 0.3)], "validation", "loss",
        objective_metric_sign="min", optimizer_class=OptimizerOptuna, execution_queue=queue,
        total_max_jobs=4, max_number_of_concurrent_tasks=2, pool_period_min=0.01, seed=seed)
    opt.start()
    assert opt.wait(timeout=2), "the optimization did not end"
    return opt


@pytest.mark.timeout(180)
def test_delete_leaves_nothing_of_an_optuna_optimization(
        real_store: Store, local_workers: object, queue: str, capsys) -> None:
    store = real_store
    store.settings = dataclasses.replace(store.settings, trim_events=True)  # the default
    files = store.settings.artifacts_root
    base = Task.create("retention", "base", entry_point=ENTRY, parameters={"General/lr": 0.1})
    baseline, baseline_files = namespace_keys(store), set(files.glob("*"))
    assert journal_keys(store) == set()

    first = optimize(base, queue, seed=1)
    with_first = namespace_keys(store)
    second = optimize(base, queue, seed=2)
    storage = redis_journal_storage(store.url or "")
    assert {first.id, second.id} <= {s.study_name for s in storage.get_all_studies()}
    jobs = store.find(parent=second.id)
    assert store.redis.xlen(store.keys.events(second.id)) < 4  # trimmed at its end
    assert len(jobs) == 4
    for job_id in jobs:
        task = Task.get_task(job_id)
        assert len(store.checkpoints(job_id)) == 2 and "notes" in task.artifacts
        assert (files / job_id / "checkpoints").is_dir()
    assert len(journal_keys(store)) > 2

    assert main(["delete", second.id, "--yes"]) == 0
    assert "its Optuna study" in capsys.readouterr().out
    assert namespace_keys(store) == with_first
    assert not any((files / job_id).exists() for job_id in jobs)
    names = optuna.study.get_all_study_names(redis_journal_storage(store.url or ""))
    assert names == [first.id]
    assert main(["status", first.id]) == 0

    assert main(["delete", first.id, "--yes"]) == 0
    assert namespace_keys(store) == baseline
    assert journal_keys(store) == set()  # no study left: the whole journal went
    assert set(files.glob("*")) == baseline_files
    assert store.get(base.id)["id"] == base.id
