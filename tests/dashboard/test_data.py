"""The dashboard's data module on a fakeredis store filled like a real optimization."""

from __future__ import annotations

import dataclasses

import pytest

from bench.dashboard import fill
from controller.dashboard import data
from controller.persistence import OptimizerRepository
from workers import Store
from workers.errors import TaskNotFoundError
from workers.status import TaskStatus


@pytest.fixture
def asha(store: Store) -> str:
    return fill(store, 60, iterations=5, running=4, failed_every=10)


def test_list_shows_status_progress_best_and_whether_a_controller_drives_it(
        store: Store, asha: str) -> None:
    (row,) = data.list_optimizations(store)
    assert row["id"] == asha and row["status"] == "in_progress" and not row["live"]
    assert (row["done"], row["total"], row["failed"]) == (56, 60, 5)
    assert row["progress"] == pytest.approx(56 / 60)
    assert row["best"] is not None and row["strategy"] == "RandomSearch"
    OptimizerRepository(store).acquire_lease(asha, "someone", 10)
    assert data.list_optimizations(store)[0]["live"]


def test_overview_counts_failures_and_charts(store: Store, asha: str) -> None:
    cache = data.SnapshotCache(store)
    o = data.optimization(cache, asha)
    assert o["counts"] == {"completed": 51, "failed": 5, "in_progress": 4}
    assert o["failures"] == [{"error": "ValueError: loss diverged", "count": 5,
                              "example": o["failures"][0]["example"], "example_index": 9}]
    assert len(o["objective_over_time"]["t"]) == 51
    assert o["parallel"]["total"] == 51 and len(o["parallel"]["dims"]) == 5
    assert {p["name"] for p in o["importance"]["parameters"]} == set(o["parameters"])
    assert len(o["timeline"]["jobs"]) == 60 and len(o["timeline"]["lanes"]) == 8
    assert o["rungs"]["table"][0]["rung"] == 0 and o["lineage"] is None
    assert o["budget"]["jobs"] == {"limit": 60, "used": 60, "fraction": 1.0}
    assert data.optimization(cache, asha) is o  # once per snapshot
    cache.invalidate(asha)
    assert data.optimization(cache, asha) is not o


def test_jobs_page_sorts_filters_and_pages_over_every_job(store: Store, asha: str) -> None:
    cache = data.SnapshotCache(store)
    page = data.jobs_page(cache, asha, limit=10)
    assert page["total"] == 60 and [j["rank"] for j in page["jobs"]] == list(range(10))
    failed = data.jobs_page(cache, asha, statuses=["failed"], sort="index", descending=True)
    assert [j["index"] for j in failed["jobs"]] == [49, 39, 29, 19, 9]
    assert failed["jobs"][0]["error"] == "ValueError: loss diverged"
    lr = data.jobs_page(cache, asha, sort="param:General/lr", offset=55, limit=10)
    assert len(lr["jobs"]) == 5
    values = [j["parameters"]["General/lr"] for j in
              data.jobs_page(cache, asha, sort="param:General/lr", limit=60)["jobs"]]
    assert values == sorted(values)


@pytest.mark.parametrize("kwargs, message", [
    ({"limit": 0}, "limit within 1..1000"), ({"offset": -1}, "offset must be >= 0"),
    ({"sort": "size"}, "unknown sort key 'size'"), ({"statuses": ["done"]}, "unknown status"),
])
def test_jobs_page_names_a_bad_argument(store: Store, asha: str, kwargs: dict, message: str
                                        ) -> None:
    with pytest.raises(ValueError, match=message):
        data.jobs_page(data.SnapshotCache(store), asha, **kwargs)


def test_learning_curves_of_every_started_job(store: Store, asha: str) -> None:
    curves = data.learning_curves(data.SnapshotCache(store), asha)
    assert (curves["shown"], curves["total"], curves["sampled"]) == (60, 60, False)
    sampled = data.learning_curves(data.SnapshotCache(store), asha, limit=10)
    assert (sampled["shown"], sampled["total"], sampled["sampled"]) == (10, 60, True)
    assert curves["x"] == [0, 1, 2, 3, 4] and len(curves["ys"]) == 60
    assert (curves["title"], curves["series"]) == ("validation", "loss")


def test_unknown_ids_are_errors_that_name_them(store: Store, asha: str) -> None:
    with pytest.raises(TaskNotFoundError, match="nope"):
        data.optimization(data.SnapshotCache(store), "nope")
    base = store.get(asha)["configuration"]
    assert base
    job = store.find(parent=asha)[0]
    with pytest.raises(data.NotAnOptimizerError, match="not an hpqueue optimizer"):
        data.optimization(data.SnapshotCache(store), job)
    with pytest.raises(TaskNotFoundError):
        data.job_detail(store, "nope")


def test_job_detail_with_its_chain_of_checkpoints(store: Store) -> None:
    opt = fill(store, 24, iterations=3, running=0, kind="pbt")  # 8 members, 3 generations
    last = store.find(parent=opt)[-1]
    previous = store.get(last)["continue_from"]
    first = store.get(previous)["continue_from"]
    store.push_checkpoint(previous, {"path": "/ck/a", "iteration": 2, "created": 1.0})
    d = data.job_detail(store, last)
    assert d["parent"] == opt and d["meta"]["member"] == 7 and d["meta"]["generation"] == 2
    assert [c["id"] for c in d["chain"]] == [previous, first]
    assert d["chain"][0]["checkpoints"][0]["path"] == "/ck/a"
    assert d["scalars"]["validation"]["loss"]["x"] == [0, 1, 2]
    lineage = data.optimization(data.SnapshotCache(store), opt)["lineage"]
    assert lineage["members"] == 8 and lineage["total"] == 24
    assert any(n["exploited"] is not None for n in lineage["nodes"])


def test_stop_job_and_refused_stop_of_an_optimization_nobody_drives(store: Store, asha: str
                                                                   ) -> None:
    running = data.jobs_page(data.SnapshotCache(store), asha, statuses=["in_progress"])
    job = running["jobs"][0]["id"]
    assert data.stop_job(store, job) == {"id": job, "outcome": "flagged"}
    assert store.get(job)["stop"] == data.STOP_REASON
    with pytest.raises(data.ActionRefusedError, match="no controller drives"):
        data.stop_optimization(store, asha)
    OptimizerRepository(store).acquire_lease(asha, "controller", 10)
    cursor = data.latest_event_id(store, asha)
    assert data.stop_optimization(store, asha) == {"id": asha, "outcome": "requested"}
    (event,) = store.read_events(asha, cursor)
    assert (event.kind, event.fields["command"]) == ("control", "stop")
    with pytest.raises(TaskNotFoundError):
        data.stop_job(store, "nope")


def test_a_reload_parses_only_the_rows_that_changed(store: Store, asha: str) -> None:
    repo = OptimizerRepository(store)
    memo: dict = {}
    first = {j.id: j for j in repo.load(asha, memo).jobs}
    running = next(j for j in first.values() if j.status.value == "in_progress")
    changed = dataclasses.replace(running, status=TaskStatus.COMPLETED, ended_at=1.0)
    repo.save_rows(asha, [changed])
    second = {j.id: j for j in repo.load(asha, memo).jobs}
    assert second[running.id].status == TaskStatus.COMPLETED
    assert all(second[i] is first[i] for i in first if i != running.id)  # not parsed again
    assert len(memo) == 60
