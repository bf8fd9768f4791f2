"""``hpq``: run workers and optimizations from the command line, and look at optimizers.

::

    hpq worker -Q default -c 4                      # a Celery worker (celery -A workers.app worker)
    hpq optimize --task-id BASE_ID \\
        --params-search '{"type": "UniformParameterRange", "name": "lr",
                          "min_value": 0.01, "max_value": 0.3}' \\
        --objective-metric-title validation --objective-metric-series loss \\
        --objective-metric-sign min --total-max-jobs 20
    hpq resume OPTIMIZER_ID                         # continue a stopped or killed optimization
    hpq top OPTIMIZER_ID -k 10                      # best jobs, from Redis
    hpq status [OPTIMIZER_ID]                       # workers and optimizers, or one optimizer
    hpq report OPTIMIZER_ID -o report.html          # one self-contained HTML page

``hpq optimize`` mirrors ClearML's ``clearml-param-search`` (same flags and defaults), except that
``--optimizer-class`` defaults to ``RandomSearch`` (ClearML: ``OptimizerOptuna``) and also takes
any strategy of :mod:`controller.strategies` or a ``module:Class`` path.

Every subcommand uses the process's store: ``HPQ_REDIS_URL``, or the local mode when it is unset.
Exit codes: 0 done, 1 the optimization or a command failed, 2 bad input (a one-line message on
stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import logging
import os
import pkgutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from workers.config import Settings
from workers.errors import HpqError, StatusConflictError, TaskNotFoundError

from . import report
from .parameters import DiscreteParameterRange, Parameter
from .strategies.base import SearchStrategy

if TYPE_CHECKING:
    from workers.store import Store

    from .optimizer import HyperParameterOptimizer

#: Seconds between two updates of the live progress line.
PROGRESS_PERIOD = 0.5
DEFAULT_STRATEGY = "RandomSearch"
_CELERY_DEFAULTS = ("--without-mingle", "--without-gossip")


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


# ===================================================================== parser
def build_parser() -> argparse.ArgumentParser:
    """The ``hpq`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="hpq", description="Run hpqueue workers and optimizations, and look at optimizers.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_worker(sub)
    _add_optimize(sub)
    resume = sub.add_parser("resume", help="resume an optimizer and wait for it")
    resume.add_argument("optimizer_id")
    _add_run_options(resume)
    top = sub.add_parser("top", help="the best jobs of an optimizer (running or ended)")
    top.add_argument("optimizer_id")
    top.add_argument("-k", "--top-k", type=int, default=10, help="how many (default 10)")
    top.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status = sub.add_parser("status", help="live workers and optimizers, or one optimizer")
    status.add_argument("optimizer_id", nargs="?")
    rep = sub.add_parser("report", help="write an optimizer's HTML report")
    rep.add_argument("optimizer_id")
    rep.add_argument("-o", "--output", help="file to write ('-' for stdout; default "
                     "hpq-report-OPTIMIZER_ID.html)")
    return parser


def _add_worker(sub: Any) -> None:
    worker = sub.add_parser(
        "worker", help="start a Celery worker that runs trials",
        description="Start `celery -A workers.app worker` with hpqueue's defaults. Arguments "
        "not listed here (after `--` or not) go to celery as they are.")
    worker.add_argument("-Q", "--queues", default="default",
                        help="comma-separated queues to consume (default: default)")
    worker.add_argument("-c", "--concurrency", type=int, default=None,
                        help="worker processes (default: celery's, the number of CPUs)")
    worker.add_argument("-l", "--loglevel", default="info", help="celery log level (info)")


def _add_optimize(sub: Any) -> None:
    opt = sub.add_parser(
        "optimize", help="run a hyper-parameter search (like clearml-param-search)",
        description="Search the parameters of a base task (--task-id) or of a script (--script "
        "with --args). A --script becomes a command task `python SCRIPT --name VALUE ...` with "
        "one `--name {{ General/name }}` pair per --args entry and per searched parameter.")
    base = opt.add_mutually_exclusive_group(required=True)
    base.add_argument("--task-id", help="the base task to clone for each job")
    base.add_argument("--script", help="a Python script to run for each job")
    opt.add_argument("--args", nargs="*", default=[], metavar="NAME=VALUE",
                     help="--script's default arguments (section General)")
    opt.add_argument("--task-name", help="name of the --script base task (script name)")
    opt.add_argument("--project", "--project-name", dest="project",
                     help="project of the jobs (and of the --script base task)")
    opt.add_argument("--params-search", nargs="*", default=[], metavar="JSON",
                     help='parameters as JSON objects, e.g. {"type": "UniformParameterRange", '
                     '"name": "lr", "min_value": 0.01, "max_value": 0.3}; types: '
                     "UniformParameterRange, UniformIntegerParameterRange, "
                     "LogUniformParameterRange, DiscreteParameterRange, ParameterSet; names "
                     "without '/' get 'General/'")
    opt.add_argument("--params-override", nargs="*", default=[], metavar="JSON",
                     help='pinned parameters: {"name": value, ...} or ClearML\'s '
                     '{"name": "batch_size", "value": 32}')
    opt.add_argument("--objective-metric-title", nargs="+", required=True, metavar="TITLE")
    opt.add_argument("--objective-metric-series", nargs="+", required=True, metavar="SERIES")
    opt.add_argument("--objective-metric-sign", nargs="+", default=None, metavar="SIGN",
                     help="min, max, min_global or max_global (default min, or a Polyaxon "
                     "matrix's metric.optimization); several titles/series/signs make a "
                     "multi-objective search")
    opt.add_argument("--optimizer-class", default=DEFAULT_STRATEGY,
                     help="a strategy of controller.strategies (RandomSearch, GridSearch, "
                     "OptimizerOptuna, OptimizerBOHB, ...) or module:Class "
                     f"(default {DEFAULT_STRATEGY}; ClearML's default is OptimizerOptuna)")
    opt.add_argument("--strategy-args", default=None, metavar="JSON",
                     help='keyword arguments of the strategy as a JSON object, e.g. {"seed": 1}')
    opt.add_argument("--polyaxon-matrix", metavar="FILE.json",
                     help="a Polyaxon matrix section as JSON (see controller/polyaxon.py): its "
                     "kind, params, concurrency, earlyStopping and metric replace "
                     "--optimizer-class, --params-search, --strategy-args and the defaults of "
                     "--max-number-of-concurrent-tasks and --objective-metric-sign")
    opt.add_argument("--optimization-time-limit", type=float, metavar="MIN")
    opt.add_argument("--compute-time-limit", type=float, metavar="MIN")
    opt.add_argument("--time-limit-per-job", type=float, metavar="MIN")
    opt.add_argument("--pool-period-min", type=float, default=0.2, metavar="MIN",
                     help="housekeeping period (default 0.2, capped at 1 s)")
    opt.add_argument("--total-max-jobs", type=int)
    opt.add_argument("--min-iteration-per-job", type=int)
    opt.add_argument("--max-iteration-per-job", type=int)
    opt.add_argument("--save-top-k-tasks-only", type=int, default=10,
                     help="archive jobs ranked below k (-1 keeps everything; default 10)")
    opt.add_argument("--max-number-of-concurrent-tasks", type=int, default=None,
                     help="queued plus running jobs at a time (default 10, or a Polyaxon "
                     "matrix's concurrency)")
    opt.add_argument("--queue", default="default", help="execution queue (default: default)")
    _add_run_options(opt)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", action="store_true",
                        help="also start local worker processes (start_locally)")
    parser.add_argument("--local-workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: the concurrency)")
    parser.add_argument("--top-k", type=int, default=10, help="results to print (default 10)")


# ======================================================================= main
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hpq``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # argparse printed the usage and the error
        return int(exc.code or 0)
    if extra and args.command != "worker":
        parser.print_usage(sys.stderr)
        print(f"hpq: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    commands = {"worker": lambda: cmd_worker(args, extra), "optimize": lambda: cmd_optimize(args),
                "resume": lambda: cmd_resume(args), "top": lambda: cmd_top(args),
                "status": lambda: cmd_status(args), "report": lambda: cmd_report(args)}
    try:
        return commands[args.command]()
    except (UsageError, TaskNotFoundError) as exc:
        print(f"hpq {args.command}: {_message(exc)}", file=sys.stderr)
        return 2
    except HpqError as exc:
        print(f"hpq {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hpq: interrupted", file=sys.stderr)
        return 130


def _message(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ===================================================================== worker
def cmd_worker(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Replace this process with ``celery -A workers.app worker`` (does not return)."""
    url = os.environ.get("HPQ_REDIS_URL") or local_mode_url()
    if not url:
        raise UsageError(
            "set HPQ_REDIS_URL to the Redis the optimizer uses (e.g. redis://host:6379/0); "
            "no running local-mode hpqueue process was found to join")
    if not os.environ.get("HPQ_REDIS_URL"):
        print(f"hpq worker: joining the local-mode Redis at {url}; this worker loses its broker "
              "when the hpqueue process that owns it ends", file=sys.stderr)
    extra = [a for a in extra if a != "--"]
    argv = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", args.queues,
            "-l", args.loglevel]
    if args.concurrency is not None:
        argv += ["-c", str(args.concurrency)]
    argv += [flag for flag in _CELERY_DEFAULTS if flag not in extra] + list(extra)
    _exec(argv, {**os.environ, "HPQ_REDIS_URL": url})
    return 0


def _exec(argv: list[str], env: dict[str, str]) -> None:
    """``os.execve`` (a seam for tests)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


def local_mode_url() -> str | None:
    """URL of the embedded Redis that a running local-mode process owns, or None.

    Local mode keeps its ``redis-server`` under ``$HPQ_HOME/redis`` and holds a lock on
    ``lock`` while it runs; the URL is in ``url``.
    """
    data = Settings.from_env().home / "redis"
    lock, url = data / "lock", data / "url"
    if not (lock.exists() and url.exists()):
        return None
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return url.read_text().strip() or None
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


# =================================================================== optimize
def cmd_optimize(args: argparse.Namespace) -> int:
    """Build the optimizer from clearml-param-search style arguments, run it, print the top."""
    from workers import get_store

    from .optimizer import HyperParameterOptimizer
    from .polyaxon import optimizer_from_polyaxon

    matrix = read_polyaxon_matrix(args) if args.polyaxon_matrix else None
    params = [] if matrix is not None else parse_params(args.params_search, args.params_override)
    strategy = resolve_strategy(args.optimizer_class)
    strategy_args = _json_object(args.strategy_args, "--strategy-args")
    titles, series, signs = _objectives(args)
    if args.args and not args.script:
        raise UsageError("--args needs --script (a --task-id task has its parameters already)")
    store = get_store()
    base_id = args.task_id or create_script_task(args, params, store)
    loop = {k: getattr(args, k) for k in ("time_limit_per_job", "total_max_jobs",
                                          "min_iteration_per_job", "max_iteration_per_job",
                                          "pool_period_min", "max_number_of_concurrent_tasks")
            if getattr(args, k) is not None}
    common = {"execution_queue": args.queue, "spawn_project": args.project,
              "optimization_time_limit": args.optimization_time_limit,
              "compute_time_limit": args.compute_time_limit,
              "save_top_k_tasks_only": args.save_top_k_tasks_only, "store": store, **loop}
    try:
        if matrix is not None:
            sign = signs if args.objective_metric_sign else None
            opt = optimizer_from_polyaxon(matrix, base_id, titles, series, sign, **common)
        else:
            opt = HyperParameterOptimizer(base_id, params, titles, series, signs,
                                          optimizer_class=strategy, **common, **strategy_args)
    except (ValueError, TypeError) as exc:
        raise UsageError(_message(exc)) from None
    return run_and_report(opt, store, args)


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume an optimizer (finished jobs are kept) and follow it like ``optimize``."""
    from workers import get_store

    from .optimizer import HyperParameterOptimizer

    store = get_store()
    try:
        opt = HyperParameterOptimizer.resume(args.optimizer_id, store=store)
    except (ValueError, TypeError) as exc:
        raise UsageError(_message(exc)) from None
    return run_and_report(opt, store, args)


def run_and_report(opt: HyperParameterOptimizer, store: Store, args: argparse.Namespace
                   ) -> int:
    """Start ``opt``, show the progress line until it ends (Ctrl-C stops it), print the top."""
    stream = sys.stderr  # trials run in this process (tests) may redirect sys.stderr
    opt.set_report_period(1 / 60)  # running/queued counts for the progress line, every second
    try:
        if args.local:
            opt.start_locally(num_workers=args.local_workers)
        else:
            opt.start()
    except StatusConflictError as exc:
        raise UsageError(_message(exc)) from None
    print(f"hpq: optimizer {opt.id} started (Ctrl-C stops it)", file=stream)
    outcome = follow(opt, store, stream)
    if outcome == "aborted":
        print(f"hpq: left without waiting; resume with: hpq resume {opt.id}", file=stream)
        return 130
    summary = report.load_summary(store, opt.id)
    print_top(summary, args.top_k, sys.stdout)
    reason = opt.end_reason
    print(f"\noptimizer {opt.id}: {reason or 'the optimization loop failed (see the log)'}")
    print(f"  resume: hpq resume {opt.id}\n  top:    hpq top {opt.id}\n"
          f"  report: hpq report {opt.id} -o report.html")
    if outcome == "stopped":
        return 130
    return 0 if reason is not None else 1


def follow(opt: HyperParameterOptimizer, store: Store, stream: TextIO) -> str:
    """Show the live progress line until ``opt`` ends.

    Returns ``ended``; ``stopped`` after a Ctrl-C (every job is stopped and the optimizer
    writes its final state); ``aborted`` after a second Ctrl-C while stopping.
    """
    line = ProgressLine(stream)
    try:
        # Polls instead of opt.wait(timeout): on Python < 3.12 a Thread.join() interrupted by
        # Ctrl-C can leave the thread looking dead (is_alive() False) while it still runs.
        while opt.is_active():
            time.sleep(PROGRESS_PERIOD)
            line.show(report.read_progress(store, opt.id))
    except KeyboardInterrupt:
        line.close()
        print("hpq: stopping every job (Ctrl-C again to quit without waiting)...", file=stream)
        try:
            opt.stop()
        except KeyboardInterrupt:
            return "aborted"
        return "stopped"
    opt.wait()
    line.show(report.read_progress(store, opt.id))
    line.close()
    return "ended"


class ProgressLine:
    """One status line on a terminal (rewritten with ``\\r``), or one line per change."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_key: tuple | None = None
        self._width = 0

    def show(self, progress: report.Progress) -> None:
        text = progress.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            key = (progress.done, progress.running, progress.queued, progress.best)
            if key == self._last_key:
                return
            self._last_key = key
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0


# ------------------------------------------------------------ optimize input
def parse_params(search: Sequence[str], override: Sequence[str]) -> list[Parameter]:
    """``--params-search`` and ``--params-override`` as Parameters (UsageError if invalid)."""
    out = [_parameter(d, text) for text in search
           for d in _json_items(text, "--params-search")]
    for text in override:
        for d in _json_items(text, "--params-override"):
            pairs = [(d["name"], d["value"])] if set(d) == {"name", "value"} else d.items()
            for name, value in pairs:
                out.append(DiscreteParameterRange(_full_name(name, "--params-override"),
                                                  [value]))
    if not out:
        raise UsageError("give at least one parameter with --params-search (or "
                         "--params-override)")
    return out


def _json_items(text: str, flag: str) -> list[dict[str, Any]]:
    """A JSON object, or a list of them."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: invalid JSON {text!r}: {exc}") from None
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            raise UsageError(f"{flag}: expected a JSON object, got {json.dumps(item)}")
    return items


def _full_name(name: Any, flag: str) -> str:
    if not isinstance(name, str) or not name:
        raise UsageError(f"{flag}: parameter name must be a non-empty string, got {name!r}")
    return name if "/" in name else f"General/{name}"


def _parameter(data: dict[str, Any], text: str) -> Parameter:
    """One ``--params-search`` object (ClearML's field names accepted)."""
    if "type" not in data:
        raise UsageError(f"--params-search: {text} has no \"type\"")
    data = dict(data)
    if "include_max_value" in data:
        data["include_max"] = data.pop("include_max_value")
    if "name" in data:
        data["name"] = _full_name(data["name"], "--params-search")
    if data["type"] == "ParameterSet":
        data["parameter_combinations"] = [
            {_full_name(k, "--params-search"): v for k, v in combo.items()}
            for combo in data.get("parameter_combinations", []) if isinstance(combo, dict)]
    try:
        return Parameter.from_dict(data)
    except KeyError as exc:
        raise UsageError(f"--params-search: {data['type']} {text} lacks field {exc}") from None
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--params-search: {_message(exc)}") from None


def read_polyaxon_matrix(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--polyaxon-matrix`` file's JSON object (UsageError if unreadable, or combined with
    the flags it replaces)."""
    replaced = [flag for flag, given in (
        ("--params-search", args.params_search), ("--params-override", args.params_override),
        ("--strategy-args", args.strategy_args), ("--script", args.script),
        ("--optimizer-class", args.optimizer_class != DEFAULT_STRATEGY),
        ("several objectives", len(args.objective_metric_title) > 1)) if given]
    if replaced:
        raise UsageError(f"--polyaxon-matrix cannot be combined with {', '.join(replaced)}")
    try:
        matrix = json.loads(Path(args.polyaxon_matrix).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--polyaxon-matrix: {exc}") from None
    if not isinstance(matrix, dict):
        raise UsageError(f"--polyaxon-matrix: expected a JSON object in {args.polyaxon_matrix}")
    return matrix


def _json_object(text: str | None, flag: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: invalid JSON {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: expected a JSON object, got {text}")
    return value


def _objectives(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """Strings for one objective, lists for several (a single sign applies to all)."""
    titles, series, signs = (args.objective_metric_title, args.objective_metric_series,
                             args.objective_metric_sign or ["min"])
    if len(signs) == 1:
        signs = signs * len(titles)
    if not len(titles) == len(series) == len(signs):
        raise UsageError("give as many --objective-metric-series (and signs) as titles")
    from .objective import parse_sign

    for sign in signs:
        try:
            parse_sign(sign)
        except ValueError as exc:
            raise UsageError(f"--objective-metric-sign: {exc}") from None
    if len(titles) == 1:
        return titles[0], series[0], signs[0]
    return titles, series, signs


def resolve_strategy(name: str) -> type[SearchStrategy]:
    """A strategy class by name (any in :mod:`controller.strategies`) or ``module:Class``."""
    if ":" in name or "." in name:
        module, _, attr = name.partition(":") if ":" in name else name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"--optimizer-class {name!r}: {exc}") from None
    else:
        known = strategy_classes()
        if name not in known:
            raise UsageError(f"--optimizer-class: unknown strategy {name!r}; known: "
                             f"{', '.join(sorted(known))} (or module:Class)")
        cls = known[name]
    if not (isinstance(cls, type) and issubclass(cls, SearchStrategy)):
        raise UsageError(f"--optimizer-class {name!r} is not a SearchStrategy class")
    return cls


def strategy_classes() -> dict[str, type[SearchStrategy]]:
    """Every strategy class of :mod:`controller.strategies` and its modules, by name."""
    from . import strategies

    found: dict[str, type[SearchStrategy]] = {}
    modules = [strategies]
    for info in pkgutil.iter_modules(strategies.__path__):
        with contextlib.suppress(ImportError):  # a strategy whose optional package is missing
            modules.append(importlib.import_module(f"{strategies.__name__}.{info.name}"))
    for module in modules:
        for attr, value in vars(module).items():
            if (isinstance(value, type) and issubclass(value, SearchStrategy)
                    and value is not SearchStrategy and not attr.startswith("_")):
                found.setdefault(attr, value)
    return found


def create_script_task(args: argparse.Namespace, params: Sequence[Parameter], store: Store
                       ) -> str:
    """The ``--script`` base task: ``[python, script, --name, {{ Section/name }}, ...]``.

    Its parameters are the ``--args`` values (as strings), plus each searched parameter that
    ``--args`` does not name (with its first value) so that every job passes all of them.
    """
    from workers.task import Task

    script = Path(args.script).resolve()
    if not script.is_file():
        raise UsageError(f"--script: no file {script}")
    defaults: dict[str, Any] = {}
    for item in args.args:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--args: expected NAME=VALUE, got {item!r}")
        defaults[_full_name(name, "--args")] = value
    for p in params:
        for name, value in p.to_list()[0].items():
            defaults.setdefault(name, value)
    command = [sys.executable, str(script)]
    for name in defaults:
        command += [f"--{name.rsplit('/', 1)[-1]}", f"{{{{ {name} }}}}"]
    task = Task.create(args.project or "", args.task_name or script.stem, command=command,
                       parameters=defaults, store=store)
    print(f"hpq: created base task {task.id} running {script.name}", file=sys.stderr)
    return task.id


# ================================================================ read-only
def cmd_top(args: argparse.Namespace) -> int:
    """Print the best jobs of an optimizer from its saved job table."""
    from workers import get_store

    summary = _summary(get_store(), args.optimizer_id)
    if args.json:
        top = [vars(j) for j in summary.top(args.top_k)]
        print(json.dumps({"optimizer": summary.id, "status": summary.status,
                          "objectives": summary.objectives, "top": top}, indent=2))
        return 0
    print(f"optimizer {summary.id} ({summary.status}"
          f"{': ' + summary.end_reason if summary.end_reason else ''})")
    print_top(summary, args.top_k, sys.stdout)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Workers and optimizers, or the state of one optimizer."""
    from workers import get_store

    store = get_store()
    if args.optimizer_id:
        print_optimizer_status(_summary(store, args.optimizer_id), sys.stdout)
        return 0
    from workers.sweep import live_workers

    workers = live_workers(store)
    print(f"workers ({len(workers)}):")
    for host, queues in sorted(workers.items()):
        print(f"  {host}  queues: {', '.join(queues)}")
    optimizers = report.list_optimizers(store)
    print(f"\noptimizers ({len(optimizers)}):")
    rows = [[rec["id"], rec.get("status", ""), str(p.done), str(p.running), str(p.queued),
             report.format_values(p.best), report.format_duration(p.elapsed_seconds),
             "yes" if p.live else "no", rec.get("name", "")] for rec, p in optimizers]
    if rows:
        print(_text_table(["id", "status", "done", "running", "queued", "best", "elapsed",
                           "live", "name"], rows, indent="  "))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report (``-o -`` prints it)."""
    from workers import get_store

    store = get_store()
    summary = _summary(store, args.optimizer_id)
    page = report.render_html(summary)
    if args.output == "-":
        sys.stdout.write(page)
        return 0
    path = Path(args.output or f"hpq-report-{summary.id}.html")
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path} ({len(summary.jobs)} jobs, {len(summary.ranked)} ranked)")
    return 0


def _summary(store: Store, opt_id: str) -> report.OptimizerSummary:
    try:
        return report.load_summary(store, opt_id)
    except ValueError as exc:
        raise UsageError(_message(exc)) from None


# ================================================================== printing
def print_top(summary: report.OptimizerSummary, k: int, out: TextIO) -> None:
    """The top-k table (best first)."""
    top = summary.top(k)
    objectives = ", ".join(f"{o['title']}/{o['series']} {o['sign']}"
                           for o in summary.objectives)
    if not top:
        print(f"no job has ended with the objective ({objectives}) yet", file=out)
        return
    print(f"top {len(top)} of {len(summary.ranked)} ranked jobs ({objectives}):", file=out)
    header = ["rank", "job id", "job #", *summary.objective_labels, "iteration", "status",
              *summary.parameter_names]
    rows = [[str(j.rank + 1), j.id, str(j.index),
             *[report.fmt(v, 6) for v in j.values or []],
             ",".join(str(i) for i in j.iterations if i is not None), j.status,
             *[report.fmt(j.parameters.get(n, ""), 6) for n in summary.parameter_names]]
            for j in top if j.rank is not None]
    print(_text_table(header, rows), file=out)


def print_optimizer_status(s: report.OptimizerSummary, out: TextIO) -> None:
    """One optimizer: status, budgets, job counts and the best job."""
    best = s.best
    controller = "live" if s.live else ("none (resume it with hpq resume)"
                                        if s.status == "in_progress" else "-")
    lines = [
        ("optimizer", f"{s.id}  {s.name}"),
        ("status", s.status + (f" ({s.end_reason})" if s.end_reason else "")),
        ("controller", controller),
        ("strategy", s.config.get("optimizer_class", "")),
        ("objective", ", ".join(f"{o['title']}/{o['series']} ({o['sign']})"
                                for o in s.objectives)),
        ("elapsed", report.format_duration(s.elapsed_seconds)),
        ("jobs", f"{len(s.jobs)}: " + (", ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
                                       or "none")),
        ("budgets", "; ".join(_budget_text(name, e) for name, e in s.budget.items())),
        ("best", "-" if best is None else f"{report.format_values(best.values)} (job #"
         f"{best.index} {best.id})"),
    ]
    if best is not None:
        lines += [(f"  {k}", report.fmt(v, 6)) for k, v in best.parameters.items()]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}", file=out)


def _budget_text(name: str, entry: dict[str, Any]) -> str:
    used = report.fmt(round(entry["used"], 2) if isinstance(entry["used"], float)
                      else entry["used"])
    limit = "-" if entry["limit"] is None else report.fmt(entry["limit"])
    pct = "" if entry["fraction"] is None else f" ({entry['fraction'] * 100:.0f}%)"
    unit = " min" if name in ("compute_time", "time") else ""
    return f"{name.replace('_', ' ')} {used}/{limit}{unit}{pct}"


def _text_table(header: list[str], rows: list[list[str]], indent: str = "") -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [header, *rows]]
    return "\n".join(indent + line for line in lines)


if __name__ == "__main__":
    sys.exit(main())
