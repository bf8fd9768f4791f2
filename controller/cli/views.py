"""``hpq top``, ``hpq status``, ``hpq job`` and ``hpq report``: look at optimizers and jobs
(read only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import summary as summaries
from ..failures import group_failures
from ..persistence import OptimizerRepository
from .base import Command, UsageError, message
from .output import (
    print_failures,
    print_job,
    print_optimizer_status,
    print_optimizers,
    print_top,
)

if TYPE_CHECKING:
    from workers.store import Store


@click.command(cls=Command, short_help="the best jobs of an optimizer (running or ended)")
@click.argument("optimizer_id")
@click.option("-k", "--top-k", type=int, default=10, show_default=True, help="how many")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def top(optimizer_id: str, top_k: int, as_json: bool) -> int:
    """Print the best jobs of an optimizer from its saved job table, then its failed jobs
    grouped by error."""
    from workers import get_store

    summary = _summary(get_store(), optimizer_id)
    if as_json:
        best = [vars(j) for j in summary.top(top_k)]
        failures = [g.to_dict() for g in group_failures(summary.jobs)]
        print(json.dumps({"optimizer": summary.id, "status": summary.status,
                          "end_reason": summary.end_reason, "objectives": summary.objectives,
                          "top": best, "failures": failures}, indent=2))
        return 0
    print(f"optimizer {summary.id} ({summary.status}"
          f"{': ' + summary.end_reason if summary.end_reason else ''})")
    print_top(summary, top_k)
    print_failures(summary.jobs)
    return 0


@click.command(cls=Command, short_help="live workers and optimizers, or one optimizer")
@click.argument("optimizer_id", required=False)
def status(optimizer_id: str | None) -> int:
    """Without OPTIMIZER_ID: the live workers and every optimizer. With it: that optimizer's
    status, budgets, job counts, best job and failed jobs grouped by error."""
    from workers import get_store

    store = get_store()
    if optimizer_id:
        summary = _summary(store, optimizer_id)
        print_optimizer_status(summary)
        print_failures(summary.jobs)
        return 0
    from workers.sweep import live_workers

    workers = live_workers(store)
    print(f"workers ({len(workers)}):")
    for host, queues in sorted(workers.items()):
        print(f"  {host}  queues: {', '.join(queues)}")
    print()
    print_optimizers(OptimizerRepository(store).list_optimizers())
    return 0


@click.command(cls=Command, short_help="one job: parameters, status, scalars, output, traceback")
@click.argument("job_id")
@click.option("-n", "--lines", type=click.IntRange(min=0), default=40, show_default=True,
              help="lines of the output tail to print")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def job(job_id: str, lines: int, as_json: bool) -> int:
    """Print a job (a trial): its parameters, status and reason, the last value of each scalar
    series, the tail of its stdout/stderr and its traceback."""
    from workers import get_store

    from ..dashboard.data import job_detail

    detail = job_detail(get_store(), job_id, history=False)
    if as_json:
        print(json.dumps(detail, indent=2, default=str))
        return 0
    print_job(detail, lines)
    return 0


@click.command("report", cls=Command, short_help="write an optimizer's HTML report")
@click.argument("optimizer_id")
@click.option("-o", "--output", metavar="FILE",
              help="file to write ('-' for stdout; default hpq-report-OPTIMIZER_ID.html)")
def report_page(optimizer_id: str, output: str | None) -> int:
    """Write an optimizer's report: one self-contained HTML page with the dashboard's charts,
    which opens offline (no links to anything outside it)."""
    from workers import get_store

    from .. import report

    try:
        summary, page = report.render(get_store(), optimizer_id)
    except ValueError as exc:
        raise UsageError(message(exc)) from None
    if output == "-":
        sys.stdout.write(page)
        return 0
    path = Path(output or f"hpq-report-{summary.id}.html")
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path} ({len(summary.jobs)} jobs, {len(summary.ranked)} ranked)")
    return 0



def _summary(store: Store, opt_id: str) -> summaries.OptimizerSummary:
    try:
        return summaries.load_summary(store, opt_id)
    except ValueError as exc:
        raise UsageError(message(exc)) from None
