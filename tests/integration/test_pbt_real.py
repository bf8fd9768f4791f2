"""The seed's PBT loop on real workers: examples/pbt_client.py's members (scikit-learn's
MLPClassifier on the digits data, one epoch per partial_fit, pickled checkpoints on the
artifacts dir) with a population of 8 on 8 real Celery worker processes, answered by the
optimizer's PBTServer through a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import HyperParameterOptimizer, PBTServer, parameters_from_csv
from controller.report import write_report
from tests.helpers import running_workers
from workers import Store, Task, TaskStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EPOCHS = 8


@pytest.fixture
def eight_workers(real_store: Store, queue: str) -> Iterator[object]:
    """One real Celery worker with 8 prefork processes (one per member) on the test's queue."""
    assert real_store.url is not None
    with running_workers(real_store.url, queue, 8) as workers:
        yield workers
    client = real_store.redis
    client.delete(*client.scan_iter(match=f"{queue}*"), f"_kombu.binding.{queue}")


def test_the_seed_loop_with_a_population_of_8(real_store: Store, queue: str, eight_workers: object,
                                               tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    base = Task.create("pbt-integration", "member",
                       entry_point=f"{EXAMPLES / 'pbt_client.py'}:train",
                       parameters={"General/learning_rate_init": 0.01, "General/alpha": 1e-4,
                                   "General/epochs": EPOCHS}, store=real_store)
    opt = HyperParameterOptimizer(
        base.id, parameters_from_csv(EXAMPLES / "pbt_hyperparameters.csv"), "validation",
        "accuracy", "max", optimizer_class=PBTServer, population_size=8,
        # exploiting from 2 saved members on (the seed waits for 5): on a loaded 2-core machine
        # the 8 pool processes start seconds apart, and the first members could end all their
        # epochs before a fifth one saved anything
        min_population=2,
        max_number_of_concurrent_tasks=8, execution_queue=queue, pool_period_min=0.05, seed=5,
        store=real_store)
    opt.start()
    assert opt.wait(timeout=3.0)
    assert opt.end_reason == "search space exhausted"

    members = {t.id: t for t in Task.get_tasks(parent=opt.id, store=real_store)}
    assert len(members) == 8
    assert all(t.status is TaskStatus.COMPLETED for t in members.values()), [
        (t.status, t.error) for t in members.values()]
    records = {i: t.artifacts["pbt"].get() for i, t in members.items()}
    assert sorted(r["member"] for r in records.values()) == list(range(8))
    accuracy = {i: t.get_reported_scalars()["validation"]["accuracy"] for i, t in members.items()}
    lrs = {i: t.get_reported_scalars()["pbt"]["learning_rate_init"]
           for i, t in members.items()}
    for task_id in members:  # each member trained EPOCHS epochs itself
        assert accuracy[task_id]["x"] == list(range(1, EPOCHS + 1)) == lrs[task_id]["x"]
    copies = [(task_id, c) for task_id, r in records.items() for c in r["lineage"]]
    assert copies, "no member exploited"
    for task_id, copy in copies:
        donor = copy["donor_task"]
        step = copy["donor_step"]
        assert donor != task_id and records[donor]["member"] == copy["donor"]
        # the donor's checkpoint and metric of that step ...
        assert copy["path"] == real_store.checkpoints(donor)[step - 1]["path"]
        assert Path(copy["path"]).is_file()
        assert copy["donor_value"] == pytest.approx(accuracy[donor]["y"][step - 1])
        # ... and its learning rate times 0.8 or 1.2 (the seed does not clip)
        ratio = copy["hyperparameters"]["General/learning_rate_init"] / lrs[donor]["y"][step - 1]
        assert ratio == pytest.approx(0.8) or ratio == pytest.approx(1.2)
        if copy["step"] < EPOCHS:  # the member trained on with the new learning rate
            assert lrs[task_id]["y"][copy["step"]] == pytest.approx(
                copy["hyperparameters"]["General/learning_rate_init"])

    page = write_report(real_store, opt.id, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert page.id == opt.id and "Population-based training" in html
    assert html.count("<svg") >= 4  # metric, two hyper-parameters, ... per member
