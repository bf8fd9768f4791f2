"""The dashboard in a real browser: Debian's Chromium driven headless by Playwright, against a
real redis-server and real Celery workers.

Every page visited is saved as a screenshot under ``test-artifacts/dashboard/``. Waits are
bounded (Playwright timeouts); the latency of a job's end reaching the page is printed, never
asserted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bench.dashboard import fill
from controller import HyperParameterOptimizer, Mapping
from controller.dashboard import DashboardServer
from workers import Store, Task, TaskStatus

from .browser import ROOT, Browser, points, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def job_with(store: Store, opt_id: str, x: float) -> str:
    for job_id, rec in zip(ids := store.find(parent=opt_id), store.get_many(ids)):
        if rec and '"General/x":' + f" {x}" in rec["parameters"].replace(":", ": "):
            return job_id
    raise AssertionError(f"no job with x={x}")


@pytest.mark.timeout(240)
def test_a_live_optimization_in_the_browser(real_store: Store, queue: str, local_workers: Any,
                                            dashboard: DashboardServer, browser: Browser,
                                            tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    base = Task.create("dash", "curve", entry_point="tests.dashboard.browser_trials:curve",
                       parameters={"General/x": 0.5, "General/fail": 0,
                                   "General/gate_dir": str(gate)},
                       working_dir=str(ROOT), store=real_store)
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=[], objective_metric_title="val",
        objective_metric_series="loss", objective_metric_sign="min", optimizer_class=Mapping,
        values=[{"General/x": 0.3}, {"General/x": 0.5, "General/fail": 1},
                {"General/x": 0.2}, {"General/x": 0.4}],
        max_number_of_concurrent_tasks=2, execution_queue=queue, total_max_jobs=4,
        pool_period_min=0.01, store=real_store)
    opt.start()
    try:
        # the list: a running optimization, driven by a live controller
        page = browser.page()
        page.goto(f"{dashboard.url}/#token={dashboard.token}")
        row = page.wait_for_selector(f"#opt-list tr[data-id='{opt.id}'][data-status='in_progress']")
        assert "driven" in row.inner_text()
        assert page.url == f"{dashboard.url}/"  # the token left the address bar
        shot(page, "list")

        # the optimization page: the failed job and two running ones, then one ends live
        page.goto(f"{dashboard.url}/opt/{opt.id}")
        page.wait_for_selector("#jobs-table tr[data-status='failed']")
        page.wait_for_function("document.querySelectorAll("
                               "\"#jobs-table tr[data-status='in_progress']\").length === 2")
        page.evaluate("window.__notReloaded = true")
        first = job_with(real_store, opt.id, 0.3)
        (gate / "release-0.3").write_text("")
        page.wait_for_selector(f"#jobs-table tr[data-id='{first}'][data-status='completed']")
        seen = time.time()
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
        ended = float(real_store.get(first)["completed"])
        print(f"job end -> shown on the page: {seen - ended:.3f} s")

        # the charts exist and have data
        assert points(page, "#curves") >= 2 * 5 and page.query_selector("#curves canvas")
        assert points(page, "#objective-time") == 1
        assert points(page, "#parallel", "data-lines") == 1
        assert points(page, "#timeline") >= 3
        assert page.query_selector("#overview-body").inner_text().count("Mapping") == 1
        page.wait_for_selector("#failures td.error:has-text('ModuleNotFoundError')")
        shot(page, "optimization")

        # a failed job's traceback is one click away
        page.click("#failures a")
        trace = page.wait_for_selector("#traceback")
        assert "Traceback (most recent call last)" in trace.inner_text()
        assert "hpq_browser_test_missing_module" in page.inner_text("#error")
        shot(page, "job-failed")
        page.goto(f"{dashboard.url}/job/{first}")
        assert points(page, "#scalars") == 2 * 5 + 1
        assert page.query_selector_all("#scalars canvas")
        shot(page, "job")

        # an action without the token is refused
        running = job_with(real_store, opt.id, 0.2)
        anonymous = browser.page("anonymous")
        anonymous.goto(f"{dashboard.url}/opt/{opt.id}")
        anonymous.click(f"#jobs-table tr[data-id='{running}'] button.action")
        anonymous.wait_for_selector("#banner.error:has-text('refused')")
        assert real_store.get(running)["stop"] == ""
        assert real_store.status(running) == TaskStatus.IN_PROGRESS
        anonymous.context.close()

        # with the token: stop the optimization from its page; the page follows
        page.goto(f"{dashboard.url}/opt/{opt.id}")
        page.click("#opt-head button.action")
        page.wait_for_selector("#banner.info:has-text('requested')")
        assert opt.wait(timeout=1.5), "the optimization did not end after the stop"
        page.wait_for_selector("#opt-head .badge.s-stopped")
        assert real_store.status(opt.id) == TaskStatus.STOPPED
        shot(page, "optimization-stopped")
        page.context.close()
    finally:
        (gate / "release-all").write_text("")
        opt.stop(timeout=1)
    # the refused request is the only error: Chromium logs a 401 response as one
    refused = ("console error: Failed to load resource: the server responded with a status "
               "of 401 (Unauthorized)")
    assert browser.errors == {"main": [], "anonymous": [refused]}


@pytest.mark.timeout(180)
def test_every_chart_with_data_sorting_and_paging(real_store: Store, dashboard: DashboardServer,
                                                  browser: Browser) -> None:
    asha = fill(real_store, 300, iterations=8, running=4, failed_every=25)
    pbt = fill(real_store, 64, iterations=5, running=0, kind="pbt")
    page = browser.page()
    page.goto(f"{dashboard.url}/opt/{asha}")
    assert points(page, "#importance") == 4
    assert points(page, "#rungs") > 0 and page.query_selector_all("#rungs circle")
    assert page.query_selector_all("#rungs-table tbody tr")
    assert points(page, "#parallel", "data-lines") == 300 - 4 - 11
    assert len(page.query_selector_all("#parallel path.pc-line")) == 300 - 4 - 11
    assert points(page, "#curves") > 0 and points(page, "#timeline") == 300
    # hovering a learning curve names its job
    x, y = page.evaluate("""() => {
        const u = document.getElementById('curves')._uplot, r = u.over.getBoundingClientRect();
        return [r.left + u.valToPos(u.data[0][2], 'x'), r.top + u.valToPos(u.data[1][2], 'y')];
    }""")
    page.mouse.move(x, y)
    assert page.wait_for_selector("#curves .u-tip:not([hidden])").inner_text().startswith("job #")
    assert page.inner_text("#page-info") == "1–50 of 300"
    page.click("#next-page")
    page.wait_for_selector("#page-info:has-text('51–100 of 300')")
    page.click("th[data-sort='param:General/lr']")
    page.wait_for_selector("th.active[data-sort='param:General/lr']")
    lr = page.eval_on_selector_all(
        "#jobs-table tbody tr", "rows => rows.map(r => r.dataset.id)")
    assert len(lr) == 50
    page.select_option("#status-filter", "failed")
    page.wait_for_selector("#page-info:has-text('of 11')")
    shot(page, "asha")
    page.goto(f"{dashboard.url}/opt/{pbt}")
    assert points(page, "#lineage") == 64
    assert page.query_selector_all("#lineage path.edge")
    shot(page, "pbt")
    page.goto(f"{dashboard.url}/job/{real_store.find(parent=pbt)[-1]}")
    page.wait_for_selector("#chain li:nth-child(3)")
    shot(page, "pbt-job")
    assert browser.errors == {"main": []}
