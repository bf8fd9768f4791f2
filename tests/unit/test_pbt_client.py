"""The in-trial PBT client against the optimizer's PBTServer on fakeredis, members run
in-process by real TrialRunners (:class:`controller.dispatch.InProcessDispatcher`): the seed's
loop end to end (what each member records, that an exploiting member continues from the donor's
checkpoint with perturbed hyper-parameters, the report's PBT section), a controller killed while
members wait for answers, and a strategy that does not serve PBT."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller import HyperParameterOptimizer, PBTServer, RandomSearch, UniformParameterRange
from controller.dispatch import InProcessDispatcher
from controller.persistence import OptimizerRepository
from controller.report import write_report
from tests.helpers import crash, wait_until
from tests.unit import pbt_trials
from workers import Store, Task, TaskStatus

LR = UniformParameterRange("General/lr", 0.01, 0.1)


@pytest.fixture
def dispatcher(store: Store) -> Iterator[InProcessDispatcher]:
    """Members run at once, each on a thread of its own; the hold is open again at the end."""
    pbt_trials.hold.set()
    running = InProcessDispatcher(store)
    yield running
    pbt_trials.hold.set()
    for task_id in store.find(status=["queued", "in_progress"]):
        store.request_stop(task_id, store.get(task_id).get("parent"), "test teardown")
    assert running.close(timeout=30)


def optimizer(dispatcher: InProcessDispatcher, n: int = 5, **kwargs: Any
              ) -> HyperParameterOptimizer:
    base = Task.create("pbt-unit", "member", entry_point="tests.unit.pbt_trials:seed_loop",
                       parameters={"lr": 0.05, "epochs": 6})
    options: dict[str, Any] = kwargs or {"optimizer_class": PBTServer, "population_size": n}
    return HyperParameterOptimizer(base.id, [LR], "val", "acc", "max",
                                   max_number_of_concurrent_tasks=n, pool_period_min=0.01,
                                   seed=11, dispatcher=dispatcher, **options)


def unanswered(store: Store, opt_id: str) -> list[dict[str, Any]]:
    """The should_exploit requests in the event stream after the optimizer's saved cursor."""
    cursor = OptimizerRepository(store).load(opt_id).state.cursor
    bodies = [json.loads(e.fields["body"]) for e in store.read_events(opt_id, cursor)
              if e.kind == "message"]
    return [b for b in bodies if b["type"] == "pbt.should_exploit"]


def check_members(opt: HyperParameterOptimizer, n: int = 5) -> dict[str, dict[str, Any]]:
    """Every member saved 6 steps; each exploit continued from the donor's checkpoint at the
    donor's step, with the donor's lr times 0.8 or 1.2. Returns the members' ``pbt`` records."""
    members = {t.id: t for t in Task.get_tasks(parent=opt.id)}
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
    return records


def test_the_seed_loop_runs_against_the_optimizer(store: Store, tmp_path: Path,
                                                  dispatcher: InProcessDispatcher) -> None:
    opt = optimizer(dispatcher)
    opt.start()
    assert opt.wait(timeout=1.0)
    assert opt.end_reason == "search space exhausted"
    records = check_members(opt)
    best = opt.get_top_experiments(1)[0]
    assert best.get_last_scalar_metrics()["val"]["acc"]["last"] == max(
        t.get_last_scalar_metrics()["val"]["acc"]["last"] for t in Task.get_tasks(parent=opt.id))

    write_report(store, opt.id, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    section = html[html.index("<h2>Population-based training</h2>"):
                   html.index("<h2>Jobs (best first)</h2>")]
    assert "val/acc (max) per member" in section and "lr per member" in section
    assert section.count("<path d=") == 2 * 5  # a metric line and an lr line per member
    copies = [c for r in records.values() for c in r["lineage"]]
    lineage = section[section.index("<h3>Lineage</h3>"):]
    assert lineage.count("<tr><td class='num'>") == len(copies)
    assert len(re.findall(r"copied member \d", section)) == 2 * len(copies)  # marks on 2 charts


def test_members_wait_through_a_controller_restart(store: Store,
                                                   dispatcher: InProcessDispatcher) -> None:
    opt = optimizer(dispatcher)
    pbt_trials.hold.clear()  # members pause after their first save
    opt.start()
    wait_until(lambda: sum("pbt" in t.artifacts for t in Task.get_tasks(parent=opt.id)) == 5,
               10, "five members to save once")
    crash(opt)
    pbt_trials.hold.set()  # members now ask should_exploit: nobody answers until the resume
    wait_until(lambda: len(unanswered(store, opt.id)) == 5, 10, "five unanswered requests")
    assert all(len(t.get_reported_scalars()["val"]["acc"]["x"]) == 1
               for t in Task.get_tasks(parent=opt.id))  # every member waits for its answer
    resumed = HyperParameterOptimizer.resume(opt.id, dispatcher=dispatcher)
    resumed.start()
    assert resumed.wait(timeout=1.0)
    assert resumed.end_reason == "search space exhausted"
    check_members(resumed)
    assert all(t.attempts == 1 for t in Task.get_tasks(parent=opt.id))


def test_a_strategy_that_does_not_serve_pbt_fails_the_member_clearly(
        dispatcher: InProcessDispatcher) -> None:
    opt = optimizer(dispatcher, n=1, optimizer_class=RandomSearch, total_max_jobs=1)
    opt.start()
    assert opt.wait(timeout=0.5)
    (member,) = Task.get_tasks(parent=opt.id)
    assert member.status is TaskStatus.FAILED
    assert member.error == ("TrialRequestError: pbt.hello: RandomSearch does not answer trial "
                            "requests ('pbt.hello')")
