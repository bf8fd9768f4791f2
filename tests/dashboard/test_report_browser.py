"""The static report (``hpq report``) in a real browser: one file opened offline in Debian's
Chromium (headless, Playwright) draws the dashboard's charts with data, makes no request and logs
no error. Screenshots under ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.dashboard import fill
from controller.report import write_report
from workers import Store

from ..unit.test_report import inline_workers, run_grid  # noqa: F401 - a fixture
from .browser import Browser, points, shot

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def open_offline(browser: Browser, path: Path, name: str) -> tuple[Any, list[str]]:
    """The report file in a page whose context is offline; the URLs it requested."""
    page = browser.page(name)
    page.context.set_offline(True)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    return page, requests


def box(page: Any, selector: str) -> dict[str, float]:
    return page.eval_on_selector(selector, "e => e.getBoundingClientRect().toJSON()")


@pytest.mark.timeout(120)
def test_the_report_opens_offline_with_every_chart(real_store: Store, browser: Browser,
                                                   tmp_path: Path) -> None:
    opt_id = fill(real_store, 300, iterations=8, running=4, failed_every=25)
    path = tmp_path / "report.html"
    summary = write_report(real_store, opt_id, path)
    assert len(summary.jobs) == 300
    page, requests = open_offline(browser, path, "report")

    # the charts are drawn, with data
    reported = page.evaluate("JSON.parse(document.getElementById('hpq-report-data')"
                             ".textContent).curves.ys.flat().filter(v => v !== null).length")
    assert reported > 280 * 8
    assert points(page, "#curves") == reported and page.query_selector("#curves canvas")
    assert page.get_attribute("#curves", "data-series") == "300"
    ranked = 300 - 4 - 11  # neither running nor failed
    assert points(page, "#objective-time") == ranked
    assert points(page, "#parallel", "data-lines") == ranked
    assert len(page.query_selector_all("#parallel path.pc-line")) == ranked
    assert points(page, "#importance") == 4 and points(page, "#timeline") == 300
    assert points(page, "#rungs") > 0 and page.query_selector_all("#rungs-sec table tbody tr")
    assert page.inner_text("#failures td.error") == "ValueError: loss diverged"
    assert len(page.query_selector_all("#jobs tbody tr")) == 300

    # the page's width: every chart spans its section
    for chart in ("#curves", "#objective-time", "#parallel"):
        assert box(page, chart)["width"] > 0.9 * box(page, "main")["width"] - 64, chart
    # the log axis of the learning rate has several labels; the colour bar runs as the
    # objective axis does: better (a lower loss) at the top
    lr = page.eval_on_selector_all(
        "#parallel g.pc-axis", "gs => Array.from(gs[0].querySelectorAll('text.pc-tick'))"
        ".map(t => t.textContent)")
    assert len(lr) >= 3 and {"0.001", "0.01", "0.1"} <= set(lr)
    objective = page.eval_on_selector_all(
        "#parallel g.pc-axis", "gs => Array.from(gs[gs.length - 1].querySelectorAll("
        "'text.pc-tick')).map(t => [Number(t.textContent), t.getBBox().y])")
    by_value = sorted(objective)
    assert by_value[0][1] < by_value[-1][1]  # the smallest loss is drawn highest
    texts = page.eval_on_selector_all(
        "#parallel svg > text", "ts => ts.map(t => [t.textContent, t.getBBox().y])")
    ends = dict(texts)
    assert ends["better"] < ends["worse"]
    # tick labels sit on a box that hides the lines under them
    assert len(page.query_selector_all("#parallel rect.label-box")) == \
        len(page.query_selector_all("#parallel g.pc-axis text.pc-tick"))

    # a click on a job (a line of the parallel coordinates) leads to its row
    page.eval_on_selector("#parallel", "e => e.scrollIntoView({block: 'center'})")
    x, y = page.evaluate("""() => {
        const lines = document.querySelectorAll('#parallel path.pc-line');
        const best = lines[lines.length - 1];  // drawn last: on top
        const p = best.getPointAtLength(best.getTotalLength() * 0.3);
        const m = best.getScreenCTM();
        return [p.x * m.a + p.y * m.c + m.e, p.x * m.b + p.y * m.d + m.f];
    }""")
    page.mouse.click(x, y)
    best_id = summary.jobs[0].id
    page.wait_for_function(f"window.location.hash === '#job-{best_id}'")
    assert page.eval_on_selector(f"tr[id='job-{best_id}']", "r => r.matches(':target')")
    shot(page, "report")

    assert requests == [path.as_uri()]
    assert browser.errors == {"report": []}


@pytest.mark.timeout(60)
def test_a_run_with_failures_and_markup_in_values(store: Store, inline_workers,  # noqa: F811
                                                  browser: Browser, tmp_path: Path) -> None:
    opt = run_grid(store)  # parameter values "<b>" and "fail" (which fails)
    path = tmp_path / "grid.html"
    write_report(store, opt.id, path)
    page, requests = open_offline(browser, path, "grid")
    assert points(page, "#curves") == 4 * 3  # the completed jobs' reports
    assert points(page, "#parallel", "data-lines") == 4
    categories = page.eval_on_selector_all(
        "#parallel g.pc-axis", "gs => Array.from(gs[0].querySelectorAll('text.pc-tick'))"
        ".map(t => t.textContent)")
    assert "<b>" in categories  # shown as text
    assert page.evaluate("document.querySelectorAll('main b').length") == 0  # never as markup
    assert page.inner_text("#failures td.error") == "RuntimeError: boom"
    page.click("#failures a")
    assert page.eval_on_selector("tr:target", "r => r.dataset.status") == "failed"
    shot(page, "report-grid")
    assert requests == [path.as_uri()]
    assert browser.errors == {"grid": []}
