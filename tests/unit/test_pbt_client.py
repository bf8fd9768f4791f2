"""The in-trial PBT client against the optimizer's PBTServer on fakeredis, members run
in-process by real TrialRunners: the seed's loop end to end (what each member records, that an
exploiting member continues from the donor's checkpoint with perturbed hyper-parameters), a
controller killed while members wait for answers, and a strategy that does not serve PBT."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller import HyperParameterOptimizer, PBTServer, RandomSearch, UniformParameterRange
from controller.persistence import OptimizerRepository
from tests.helpers import wait_until
from tests.unit import pbt_trials, test_optimizer
from tests.unit.test_optimizer import Env, crash
from workers import Task, TaskStatus

LR = UniformParameterRange("General/lr", 0.01, 0.1)
env = test_optimizer.env  # the fixture: in-process workers on fakeredis


@pytest.fixture(autouse=True)
def _open_hold() -> Any:
    pbt_trials.hold.set()
    yield
    pbt_trials.hold.set()


def population(env: Env, n: int = 5) -> HyperParameterOptimizer:
    base = Task.create("pbt-unit", "member", entry_point="tests.unit.pbt_trials:seed_loop",
                       parameters={"lr": 0.05, "epochs": 6})
    return env.optimizer(base, [LR], optimizer_class=PBTServer, objective_metric_title="val",
                         objective_metric_series="acc", objective_metric_sign="max",
                         max_number_of_concurrent_tasks=n, population_size=n)


def unanswered(env: Env, opt_id: str) -> list[dict[str, Any]]:
    """The should_exploit requests in the event stream after the optimizer's saved cursor."""
    store = env.store
    cursor = OptimizerRepository(store).load(opt_id).state.cursor
    events = store.read_events(opt_id, cursor)
    bodies = [json.loads(e.fields["body"]) for e in events if e.kind == "message"]
    return [b for b in bodies if b["type"] == "pbt.should_exploit"]


def check_members(env: Env, opt: HyperParameterOptimizer, n: int = 5) -> None:
    """Every member saved 6 steps; each exploit continued from the donor's checkpoint at the
    donor's step, with the donor's lr times 0.8 or 1.2."""
    members = {t.id: t for t in env.children(opt)}
    assert len(members) == n
    assert all(t.status is TaskStatus.COMPLETED for t in members.values())
    acc = {i: t.get_reported_scalars()["val"]["acc"] for i, t in members.items()}
    lrs = {i: t.get_reported_scalars()["pbt"]["lr"] for i, t in members.items()}
    records = {i: t.artifacts["pbt"].get() for i, t in members.items()}
    assert sorted(r["member"] for r in records.values()) == list(range(n))
    exploits = 0
    for task_id, record in records.items():
        assert acc[task_id]["x"] == [1, 2, 3, 4, 5, 6] and lrs[task_id]["x"] == acc[task_id]["x"]
        assert record["schedule"][0] == {
            "step": 1, "hyperparameters": {"General/lr": members[task_id].get_parameter("lr")}}
        for copy in record["lineage"]:
            exploits += 1
            donor = copy["donor_task"]
            assert donor != task_id and records[donor]["member"] == copy["donor"]
            donor_step = copy["donor_step"]
            assert copy["donor_value"] == pytest.approx(acc[donor]["y"][donor_step - 1])
            assert copy["path"].endswith(f"/{donor}/pbt/epoch{donor_step - 1}.pkl")
            new_lr = copy["hyperparameters"]["General/lr"]
            ratio = new_lr / lrs[donor]["y"][donor_step - 1]
            assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2)
            step = copy["step"]
            if step < 6:  # the next epoch trained the donor's model with the new lr
                assert acc[task_id]["y"][step] == pytest.approx(copy["donor_value"] + new_lr)
                assert lrs[task_id]["y"][step] == pytest.approx(new_lr)
    assert exploits >= 1


def test_the_seed_loop_runs_against_the_optimizer(env: Env) -> None:
    opt = population(env)
    opt.start()
    assert opt.wait(timeout=1.0)
    assert opt.end_reason == "search space exhausted"
    check_members(env, opt)
    best = opt.get_top_experiments(1)[0]
    assert best.get_last_scalar_metrics()["val"]["acc"]["last"] == max(
        t.get_last_scalar_metrics()["val"]["acc"]["last"] for t in env.children(opt))


def test_members_wait_through_a_controller_restart(env: Env) -> None:
    opt = population(env)
    pbt_trials.hold.clear()  # members pause after their first save
    opt.start()
    wait_until(lambda: sum("pbt" in t.artifacts for t in env.children(opt)) == 5, 10,
               "five members to save once")
    crash(opt)
    pbt_trials.hold.set()  # members now ask should_exploit: nobody answers until the resume
    wait_until(lambda: len(unanswered(env, opt.id)) == 5, 10, "five unanswered requests")
    assert all(len(t.get_reported_scalars()["val"]["acc"]["x"]) == 1
               for t in env.children(opt))  # every member waits for its answer
    resumed = HyperParameterOptimizer.resume(opt.id)
    env.optimizers.append(resumed)
    resumed.start()
    assert resumed.wait(timeout=1.0)
    assert resumed.end_reason == "search space exhausted"
    check_members(env, resumed)
    assert all(t.attempts == 1 for t in env.children(resumed))


def test_a_strategy_that_does_not_serve_pbt_fails_the_member_clearly(env: Env) -> None:
    base = Task.create("pbt-unit", "member", entry_point="tests.unit.pbt_trials:seed_loop",
                       parameters={"lr": 0.05, "epochs": 2})
    opt = env.optimizer(base, [LR], optimizer_class=RandomSearch, total_max_jobs=1)
    opt.start()
    assert opt.wait(timeout=0.5)
    (member,) = env.children(opt)
    assert member.status is TaskStatus.FAILED
    assert member.error == ("TrialRequestError: pbt.hello: RandomSearch does not answer trial "
                            "requests ('pbt.hello')")
