"""Retention on the fakeredis store: ``hpq delete``, ``hpq gc``, the trimmed stream of an ended
optimization and its resume (trials run in-process, see test_report)."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest

from controller import HyperParameterOptimizer, RandomSearch, UniformParameterRange
from controller.cli import main
from controller.persistence import OptimizerRepository
from controller.retention import OptimizerBusyError, delete_optimizer, expired, parse_age
from workers import Store, Task, TaskStatus

from .test_report import base_task, inline_workers  # noqa: F401 - a fixture


def keys(store: Store) -> set[str]:
    return set(store.redis.keys("*"))


def run(store: Store, base: Task, jobs: int = 4, seed: int = 1) -> HyperParameterOptimizer:
    """An ended random search of ``jobs`` jobs, with a file in each job's artifacts directory
    and a checkpoint description pushed for it."""
    opt = HyperParameterOptimizer(
        base.id, [UniformParameterRange("lr", 0.01, 0.3)], "val", "loss",
        objective_metric_sign="min", optimizer_class=RandomSearch, total_max_jobs=jobs,
        max_number_of_concurrent_tasks=2, pool_period_min=0.001, seed=seed)
    opt.start()
    assert opt.wait(timeout=0.5)
    for job_id in store.find(parent=opt.id):
        directory = store.settings.artifacts_root / job_id / "checkpoints"
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(b"x" * 10)
        store.push_checkpoint(job_id, {"path": str(directory / "model.bin"), "iteration": 1})
    return opt


@pytest.mark.timeout(30)
def test_delete_brings_the_keys_back_exactly_and_leaves_other_optimizers(
        store: Store, inline_workers, capsys) -> None:  # noqa: F811
    base = base_task(store)
    baseline = keys(store)
    first = run(store, base, seed=1)
    with_first = keys(store)
    second = run(store, base, seed=2)
    files = store.settings.artifacts_root
    assert len(list(files.iterdir())) == 8 and len(keys(store)) > len(with_first)

    assert main(["delete", second.id, "--yes"]) == 0
    assert "deleted optimizer" in capsys.readouterr().out
    assert keys(store) == with_first
    assert {p.name for p in files.iterdir()} == set(store.find(parent=first.id))
    assert main(["status"]) == 0 and second.id not in capsys.readouterr().out
    assert main(["status", first.id]) == 0

    gone = delete_optimizer(store, first.id)
    assert gone.jobs == 4 and gone.directories == 4
    assert keys(store) == baseline and not list(files.iterdir())
    assert main(["delete", first.id, "--yes"]) == 2  # nothing left of it: an unknown id
    assert first.id in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_an_interrupted_delete_reads_fine_and_finishes_when_run_again(
        store: Store, inline_workers, capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    base = base_task(store)
    baseline = keys(store)
    opt = run(store, base)
    repo = OptimizerRepository(store)

    def crash(self: OptimizerRepository, opt_id: str) -> int:
        raise RuntimeError("killed before the last step")

    monkeypatch.setattr(OptimizerRepository, "delete", crash)
    with pytest.raises(RuntimeError):
        delete_optimizer(store, opt.id)
    monkeypatch.undo()
    assert store.find(parent=opt.id) == []  # the jobs went, the optimizer is still there
    assert main(["status"]) == 0 and opt.id in capsys.readouterr().out
    assert main(["status", opt.id]) == 0 and main(["top", opt.id]) == 0
    assert repo.progress(opt.id).status == "completed"

    delete_optimizer(store, opt.id)
    assert keys(store) == baseline


def test_a_live_controller_blocks_the_delete_unless_forced(store: Store, capsys) -> None:
    base = base_task(store)
    baseline = keys(store)
    opt = HyperParameterOptimizer(base.id, [UniformParameterRange("lr", 0.01, 0.3)], "val",
                                  "loss", objective_metric_sign="min", total_max_jobs=2)
    repo = OptimizerRepository(store)
    repo.save_state(opt.id, repo.load(opt.id).state)
    assert repo.acquire_lease(opt.id, "controller-1", 60)
    with pytest.raises(OptimizerBusyError, match="controller-1"):
        delete_optimizer(store, opt.id)
    assert main(["delete", opt.id, "--yes"]) == 1
    assert "live controller" in capsys.readouterr().err
    assert main(["delete", opt.id, "--yes", "--force"]) == 0
    assert keys(store) == baseline


def test_delete_asks_on_a_terminal_and_refuses_without_one(
        store: Store, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    base = base_task(store)
    opt = HyperParameterOptimizer(base.id, [UniformParameterRange("lr", 0.01, 0.3)], "val",
                                  "loss", objective_metric_sign="min", total_max_jobs=2)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["delete", opt.id]) == 1
    assert "pass --yes" in capsys.readouterr().err and store.get(opt.id)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("n\n"))
    assert main(["delete", opt.id]) == 1 and store.get(opt.id)
    monkeypatch.setattr("sys.stdin", Tty("y\n"))
    assert main(["delete", opt.id]) == 0
    assert store.get_many([opt.id]) == [None]
    assert main(["delete", base.id, "--yes"]) == 2
    assert "is not an hpqueue optimizer" in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_gc_deletes_only_ended_optimizations_older_than_the_age(
        store: Store, inline_workers, capsys, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    base = base_task(store)
    old, recent = run(store, base, seed=1), run(store, base, seed=2)
    store.redis.hset(store.keys.task(old.id), "last_update", time.time() - 8 * 86400)
    assert [e.opt_id for e in expired(store, 7 * 86400)] == [old.id]

    assert main(["gc", "--older-than", "7d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert old.id in out and recent.id not in out and "would be deleted (dry run)" in out
    assert store.get(old.id)
    assert main(["gc", "--older-than", "7d", "--yes"]) == 0
    assert "deleted 1 optimizations (4 jobs" in capsys.readouterr().out
    assert store.get_many([old.id]) == [None] and store.get(recent.id)

    assert main(["gc"]) == 2
    assert "--older-than AGE" in capsys.readouterr().err
    assert main(["gc", "--older-than", "soon"]) == 2
    assert "'soon' is not a positive number" in capsys.readouterr().err
    store.settings = dataclasses.replace(store.settings, retention_days=1e-9)
    assert main(["gc", "--yes"]) == 0 and store.get_many([recent.id]) == [None]


@pytest.mark.timeout(30)
def test_retention_days_applies_when_an_optimization_ends(
        store: Store, inline_workers) -> None:  # noqa: F811
    base = base_task(store)
    old = run(store, base, seed=1)
    store.redis.hset(store.keys.task(old.id), "last_update", time.time() - 3 * 86400)
    store.settings = dataclasses.replace(store.settings, retention_days=2.0)
    new = run(store, base, seed=2)
    assert store.get_many([old.id]) == [None] and store.get(new.id)
    assert store.find(parent=old.id) == [] and len(store.find(parent=new.id)) == 4


def test_parse_age() -> None:
    assert parse_age("7d") == parse_age("7") == 7 * 86400
    assert parse_age("12h") == 43200 and parse_age("30m") == 1800 and parse_age("1.5s") == 1.5
    assert parse_age("2w") == 14 * 86400
    for bad in ("", "0d", "-1d", "7y", "d"):
        with pytest.raises(ValueError, match="positive number"):
            parse_age(bad)


@pytest.mark.timeout(30)
def test_an_ended_stream_is_trimmed_to_its_cursor_and_a_resume_continues(
        store: Store, inline_workers) -> None:  # noqa: F811
    base = base_task(store)
    opt = HyperParameterOptimizer(
        base.id, [UniformParameterRange("lr", 0.01, 0.3)], "val", "loss",
        objective_metric_sign="min", optimizer_class=RandomSearch, total_max_jobs=6,
        max_number_of_concurrent_tasks=1, pool_period_min=0.001, seed=5)
    done: list[str] = []

    def stop_after_two(job_id: str, *_: object) -> None:
        done.append(job_id)
        if len(done) == 2:
            opt.stop(wait_for_reporter=False)

    opt.start(job_complete_callback=stop_after_two)
    assert opt.wait(timeout=0.5) and store.status(opt.id) is TaskStatus.STOPPED
    stream = store.keys.events(opt.id)
    repo = OptimizerRepository(store)
    cursor = repo.load(opt.id).state.cursor
    assert cursor != "0-0" and store.redis.xrange(stream, max=cursor) == []
    first = {j.id: j.status for j in repo.load(opt.id).jobs}
    assert len(first) >= 2

    # an event after the saved cursor is what a resume still needs: trimming keeps it
    store.post_control(opt.id, "nothing")
    assert repo.trim_events(opt.id) == 0 and store.redis.xlen(stream) == 1

    resumed = HyperParameterOptimizer.resume(opt.id)
    resumed.start()
    assert resumed.wait(timeout=0.5) and store.status(opt.id) is TaskStatus.COMPLETED
    jobs = repo.load(opt.id).jobs
    assert len(jobs) == 6 and len(store.find(parent=opt.id)) == 6
    assert {j.id: j.status for j in jobs if j.id in first} == first  # none run again
    assert all(j.status == "completed" for j in jobs if j.id not in first)
    assert repo.load(opt.id).state.cursor > cursor and store.redis.xlen(stream) == 0


def test_retention_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.config import Settings

    assert Settings.from_env().retention_days is None and Settings.from_env().trim_events
    monkeypatch.setenv("HPQ_RETENTION_DAYS", "7")
    monkeypatch.setenv("HPQ_TRIM_EVENTS", "0")
    assert Settings.from_env().retention_days == 7.0 and not Settings.from_env().trim_events
    monkeypatch.setenv("HPQ_RETENTION_DAYS", "soon")
    with pytest.raises(ValueError, match="HPQ_RETENTION_DAYS='soon' is not a number"):
        Settings.from_env()
    monkeypatch.setenv("HPQ_RETENTION_DAYS", "7")
    monkeypatch.setenv("HPQ_TRIM_EVENTS", "no")
    with pytest.raises(ValueError, match="HPQ_TRIM_EVENTS='no' is not one of 1, 0"):
        Settings.from_env()
