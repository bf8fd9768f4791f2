"""The optimizer report: the summary read from Redis, and the one self-contained HTML page with the
dashboard's charts (drawn in a browser by tests/dashboard/test_report_browser.py).

Optimizations run in-process on the fakeredis store: the process's dispatcher is an
:class:`~controller.dispatch.InProcessDispatcher`, which runs each trial on a thread with
:class:`workers.runner.TrialRunner` (no Celery, no workers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from controller import (
    DiscreteParameterRange,
    GridSearch,
    HyperParameterOptimizer,
    UniformParameterRange,
)
from controller.dashboard.app import STATIC
from controller.dispatch import InProcessDispatcher, set_dispatcher
from controller.persistence import OptimizerRepository
from controller.report import render, write_report
from controller.report_svg import CategoryScale, LinearScale, LogScale, nice_ticks, scale_for
from controller.summary import load_summary
from workers import Store, Task
from workers.errors import TaskNotFoundError

ENTRY = f"{__name__}:trial"


def trial(task: Task) -> None:
    """Loss (lr - 0.1)^2, reported over 3 iterations; ``opt == "fail"`` raises."""
    p = task.connect({"lr": 0.1, "opt": "sgd"})
    if p["opt"] == "fail":
        raise RuntimeError("boom")
    for i in range(3):
        task.get_logger().report_scalar("val", "loss", value=(p["lr"] - 0.1) ** 2 + 0.01 * (2 - i),
                                        iteration=i)
        task.get_logger().report_scalar("val", "acc", value=1 - p["lr"], iteration=i)


@pytest.fixture
def inline_workers(store: Store) -> Iterator[InProcessDispatcher]:
    """Every trial an optimizer of this process sends runs, one after the other, on one thread
    of this process."""
    dispatcher = InProcessDispatcher(store, threads=1)
    set_dispatcher(dispatcher)
    yield dispatcher
    set_dispatcher(None)
    assert dispatcher.close(timeout=10)


def base_task(store: Store) -> Task:
    return Task.create("reports", "base <task>", entry_point=ENTRY,
                       parameters={"lr": 0.1, "opt": "sgd"}, store=store)


def run_grid(store: Store, **kwargs: object) -> HyperParameterOptimizer:
    """A finished grid search: 3 optimizers x 2 learning rates, the "fail" ones fail."""
    opt = HyperParameterOptimizer(
        base_task(store).id,
        [DiscreteParameterRange("General/opt", ["sgd", "<b>", "fail"]),
         DiscreteParameterRange("General/lr", [0.05, 0.3])],
        "val", "loss", "min", optimizer_class=GridSearch, max_number_of_concurrent_tasks=2,
        pool_period_min=0.001, store=store, **kwargs)
    opt.start()
    assert opt.wait(timeout=0.5)
    return opt


@pytest.mark.timeout(20)
def test_summary_ranks_best_first_and_keeps_failed_rows(store: Store, inline_workers) -> None:
    opt = run_grid(store)
    s = load_summary(store, opt.id)
    assert s.status == "completed" and s.end_reason == opt.end_reason and not s.live
    assert len(s.jobs) == 6 and s.counts == {"completed": 4, "failed": 2}
    assert [j.rank for j in s.jobs] == [0, 1, 2, 3, None, None]
    assert s.best is not None and s.best.parameters["General/lr"] == 0.05
    assert s.best.values == pytest.approx([0.0025]) and s.best.iterations == [2]
    assert all(j.status == "failed" and j.values is None for j in s.jobs[4:])
    top_ids = [d["task_id"] for d in opt.get_top_experiments_details(4)]
    assert [j.id for j in s.top(4)] == top_ids  # the same ranking as the optimizer's
    assert s.parameter_names == ["General/opt", "General/lr"]
    assert s.budget["jobs"] == {"limit": None, "used": 6, "fraction": None}
    assert s.budget["iterations"]["used"] == 8  # 4 jobs x iterations 0..2
    assert s.best_over_time and s.best_over_time[-1]["job_id"] == s.best.id
    saved = OptimizerRepository(store)
    progress = saved.progress(opt.id)
    assert (progress.done, progress.best, progress.live) == (6, s.best.values, False)
    assert "done 6 (failed 2) | running 0 | queued 0 | best 0.0025" in progress.line()
    assert progress.line().endswith("| last failure: job #5 RuntimeError: boom")
    assert [rec.id for rec, _ in saved.list_optimizers()] == [opt.id]


def page_data(page: str) -> dict:
    """The JSON the report's charts draw."""
    start = page.index("<script type='application/json' id='hpq-report-data'>")
    text = page[page.index(">", start) + 1:page.index("</script>", start)]
    return json.loads(text)


@pytest.mark.timeout(20)
def test_html_is_one_self_contained_escaped_file(store: Store, inline_workers) -> None:
    opt = run_grid(store)
    summary, page = render(store, opt.id)
    assert page.startswith("<!DOCTYPE html>") and summary.id == opt.id
    # one file: styles and scripts inline (the dashboard's chart code and uPlot), no link out
    assert "<link" not in page and "@import" not in page and " src=" not in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:)?//", page)
    assert re.findall(r"<script[^>]*>", page) == [
        "<script type='application/json' id='hpq-report-data'>", "<script>", "<script>",
        "<script>"]
    for name in ("charts.js", "report.js"):
        assert (STATIC / name).read_text().splitlines()[5] in page
    assert "uPlot" in page and ".uplot" in page
    # every job has its row, a job id its anchor; user strings are escaped
    for job in summary.jobs:
        assert f"<tr id='job-{job.id}'" in page
    assert "<b>" not in page and "&lt;b&gt;" in page  # a parameter value
    assert "base &lt;task&gt;" in page  # the base task's name, in the title
    assert page.count("<tr id='job-") == 6 and page.count(" class='best'>") == 1
    assert page.count(" class='unranked'>") == 2
    assert "<td class='error'>RuntimeError: boom</td><td class='num'>2</td>" in page
    # the charts' data: the dashboard's aggregates
    data = page_data(page)
    overview = data["overview"]
    assert overview["parallel"]["total"] == 4 and len(overview["objective_over_time"]["v"]) == 4
    assert [d["name"] for d in overview["parallel"]["dims"]] == ["General/opt", "General/lr",
                                                                "objective"]
    assert overview["parallel"]["dims"][0]["categories"] == ["sgd", "<b>", "fail"]
    assert data["curves"]["shown"] == 4 and len(data["curves"]["x"]) == 3
    assert overview["maximize"] is False and overview["rungs"] is None


@pytest.mark.timeout(20)
def test_embedded_data_cannot_end_its_script(store: Store, inline_workers) -> None:
    opt = HyperParameterOptimizer(
        base_task(store).id, [DiscreteParameterRange("General/opt", ["</script><b>x", "sgd"])],
        "val", "loss", optimizer_class=GridSearch, pool_period_min=0.001, store=store)
    opt.start()
    assert opt.wait(timeout=0.5)
    _, page = render(store, opt.id)
    assert "</script><b>" not in page
    data = page_data(page)
    categories = data["overview"]["parallel"]["dims"][0]["categories"]
    assert categories == ["</script><b>x", "sgd"]


@pytest.mark.timeout(20)
def test_multi_objective_and_continuous_parameter(store: Store, inline_workers) -> None:
    opt = HyperParameterOptimizer(
        base_task(store).id, [UniformParameterRange("General/lr", 0.01, 0.5)],
        ["val", "val"], ["loss", "acc"], ["min", "max"], max_number_of_concurrent_tasks=2,
        total_max_jobs=4, pool_period_min=0.001, store=store)
    opt.start()
    assert opt.wait(timeout=0.5)
    s = load_summary(store, opt.id)
    assert s.objective_labels == ["val/loss", "val/acc"] and len(s.ranked) == 4
    assert all(len(j.values or []) == 2 for j in s.jobs)
    _, page = render(store, opt.id)
    assert "<th>val/loss</th><th>val/acc</th>" in page  # both in the jobs table
    assert page_data(page)["curves"]["title"] == "val"  # the charts draw the first


@pytest.mark.timeout(10)
def test_empty_and_unknown_optimizers(store: Store, tmp_path) -> None:
    opt = HyperParameterOptimizer(base_task(store).id,
                                  [DiscreteParameterRange("General/lr", [0.1])], "val", "loss",
                                  store=store)
    s = load_summary(store, opt.id)  # created, never started
    assert s.jobs == [] and s.best is None and s.status == "created"
    s, page = render(store, opt.id)
    assert "no jobs yet" in page and page_data(page)["curves"]["jobs"] == []
    assert write_report(store, opt.id, tmp_path / "r.html").id == opt.id
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(TaskNotFoundError):
        load_summary(store, "nope")
    with pytest.raises(ValueError, match="not an hpqueue optimizer"):
        load_summary(store, base_task(store).id)
    with pytest.raises(ValueError, match="not an hpqueue optimizer"):
        render(store, base_task(store).id)


def test_scales() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert isinstance(scale_for([1, 2.5]), LinearScale)
    assert isinstance(scale_for([0.001, 1], log=True), LogScale)
    cats = scale_for(["b", 1, True], categories=["z", "b"])
    assert isinstance(cats, CategoryScale)
    assert cats.labels == ["z", "b", "1", "true"]
    assert cats.unit("z") == 0 and cats.unit(True) == 1 and cats.unit("missing") is None
    lin = LinearScale([0.0, 10.0])
    assert 0 < lin.unit(0.0) < lin.unit(10.0) < 1


def test_log_scale_ticks_label_every_range() -> None:
    def labels(values: list[float]) -> list[str]:
        return [label for _, label in LogScale(values).ticks()]

    assert labels([0.001, 1]) == ["0.001", "0.01", "0.1", "1"]  # decades
    assert labels([0.01, 0.05]) == ["0.01", "0.02", "0.05"]  # 1-2-5 within two decades
    assert len(labels([0.02, 0.03])) >= 3  # round values within a narrow range
