#!/usr/bin/env python
"""A real workload: hpqueue's strategies against standalone Optuna, on two cores, side by side.

    python bench/realwork.py                 # 120 s per system, 3 seeds (about 30 minutes)
    python bench/realwork.py --quick         # about a minute: 1 seed, an 8 s budget
    python bench/realwork.py --seeds 1 --budget 60 --systems hpq-tpe,optuna-tpe
    python bench/realwork.py --quick --local # hpqueue in local mode (it starts its workers)

The workload (``bench/realwork_trial.py``): scikit-learn's digits, an ``MLPClassifier`` trained
epoch by epoch with ``partial_fit`` (up to 27 epochs, 5-35 ms each), the validation error reported
after every epoch; ``lr`` and ``alpha`` log-uniform, four layer shapes, four batch sizes. Every
process runs with one BLAS thread. Each system gets 2 workers and the same wall-clock budget,
counted from its launch; the systems run one after another (never two at once), seed by seed:

* ``hpq-random``, ``hpq-tpe``, ``hpq-asha``: hpqueue's ``RandomSearch``, ``OptimizerOptuna``
  (its TPE; ``NopPruner``, as the standalone TPE below) and ``ASHA`` (rungs 1/3/9/27 epochs,
  eta 3, promotions continue the previous rung's checkpoint through ``task.save_checkpoint`` /
  ``task.latest_checkpoint``). One real Celery worker (``-c 2``, prefork) and the controller
  (a script of its own, as a user runs it) are launched at the same moment, on a private
  ``redis-server`` that the benchmark starts on a free port; concurrency 2. Optional:
  ``hpq-tpe-median`` (``OptimizerOptuna`` with Optuna's default pruner, a ``MedianPruner``,
  which is ClearML's default). ``hpq-random-ahead``, ``hpq-tpe-ahead``, ``hpq-asha-ahead``: the
  same with one trial queued ahead (``max_number_of_concurrent_tasks`` = 3 on the 2 worker
  processes): a worker whose trial ends takes the next from the broker at once, and the
  controller chooses the one after it while that runs.
  With ``--local`` the hpqueue systems run in local mode instead, as a script run without
  ``HPQ_REDIS_URL`` does: the controller starts its embedded ``redis-server`` and its own local
  workers (``-c 2``); nothing is started for it.
* ``optuna-tpe``, ``optuna-sh``: standalone Optuna, two processes running ``study.optimize`` on
  one study in a ``JournalFileBackend`` file, with the sampler ``OptimizerOptuna`` uses
  (``TPESampler(multivariate=True, constant_liar=True)``); ``optuna-sh`` adds a
  ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``. Both call ``trial.report``
  after every epoch (as every system reports every epoch), ``optuna-sh`` also ``should_prune``.

Every figure comes from the trials' own logs (see ``trial_log``): *start-up* is launch to the
first trial's entry; *training share* is the time spent in ``partial_fit`` + validation,
divided by 2 cores x (first trial running -> end of budget); the *gap* is, per worker process,
from the end of a trial's last report to the next trial's first epoch (the framework's work
between trials -- finish, dispatch or ask, claim, parameters -- plus the trial's own set-up and
checkpoint load/save); *report* is one report call (``report_scalar``; ``trial.report`` [+
``should_prune``]); best error at 25/50/100 % of the budget (30/60/120 s at the full budget) is
the lowest validation error any epoch had reported by then. Medians over seeds.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import itertools
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.overhead import RedisServer, _child_result, _emit, start_worker
from bench.realwork_trial import (
    ALPHA_RANGE,
    BATCH_SIZES,
    EPOCHS,
    HIDDEN,
    LOG_DIR_ENV,
    LR_RANGE,
    base_parameters,
    optuna_objective,
)
from bench.sections import write_section

ENTRY_POINT = "bench.realwork_trial:hpq_main"
WORKERS = 2
#: Fractions of the budget at which the best error so far is shown.
MARKS = (0.25, 0.5, 1.0)
RESULTS_FILE = ROOT / "bench" / "RESULTS.md"
SECTION = "## Real workload"
QUICK = {"budget": 8.0, "seeds": 1}
FULL = {"budget": 120.0, "seeds": 3}
BLAS_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                   "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                                   "NUMEXPR_NUM_THREADS")}


@dataclass(frozen=True)
class System:
    """One contender: ``kind`` is ``hpq`` (controller + Celery worker) or ``optuna``."""

    key: str
    label: str
    kind: str
    #: trials kept queued beyond the workers (``max_number_of_concurrent_tasks`` = workers +
    #: ahead): a worker whose trial ends starts the next at once
    ahead: int = 0

    @property
    def strategy(self) -> str:
        """The key of the hpqueue strategy it runs."""
        return self.key.removesuffix(AHEAD_SUFFIX)


AHEAD_SUFFIX = "-ahead"
SYSTEMS = {s.key: s for s in (
    System("hpq-random", "hpqueue RandomSearch", "hpq"),
    System("hpq-tpe", "hpqueue OptimizerOptuna (TPE, NopPruner)", "hpq"),
    System("hpq-asha", "hpqueue ASHA (1/3/9/27 epochs, checkpoints)", "hpq"),
    System("optuna-tpe", "Optuna TPE, 2 processes, journal file", "optuna"),
    System("optuna-sh", "Optuna TPE + SuccessiveHalvingPruner", "optuna"),
    System("hpq-tpe-median", "hpqueue OptimizerOptuna, MedianPruner", "hpq"),
    System("hpq-random" + AHEAD_SUFFIX, "hpqueue RandomSearch, 1 queued ahead", "hpq", 1),
    System("hpq-tpe" + AHEAD_SUFFIX, "hpqueue OptimizerOptuna, 1 queued ahead", "hpq", 1),
    System("hpq-asha" + AHEAD_SUFFIX, "hpqueue ASHA, 1 queued ahead", "hpq", 1),
)}
DEFAULT_SYSTEMS = ("hpq-random", "hpq-tpe", "hpq-asha", "optuna-tpe", "optuna-sh")


# ------------------------------------------------------------------------ the children
def hpq_space() -> list[Any]:
    """The search space as hpqueue parameters (``LogUniformParameterRange`` bounds are
    exponents of 10)."""
    from controller import DiscreteParameterRange, LogUniformParameterRange

    return [LogUniformParameterRange("General/lr", math.log10(LR_RANGE[0]),
                                     math.log10(LR_RANGE[1])),
            LogUniformParameterRange("General/alpha", math.log10(ALPHA_RANGE[0]),
                                     math.log10(ALPHA_RANGE[1])),
            DiscreteParameterRange("General/hidden", list(HIDDEN)),
            DiscreteParameterRange("General/batch_size", list(BATCH_SIZES))]


def hpq_strategy(key: str) -> tuple[type[Any], dict[str, Any]]:
    """The strategy class and its arguments of an hpqueue system."""
    import optuna

    from controller import ASHA, OptimizerOptuna, RandomSearch

    if key == "hpq-random":
        return RandomSearch, {}
    if key == "hpq-tpe":
        return OptimizerOptuna, {"optuna_pruner": optuna.pruners.NopPruner()}
    if key == "hpq-tpe-median":
        return OptimizerOptuna, {"optuna_pruner": optuna.pruners.MedianPruner()}
    if key == "hpq-asha":
        return ASHA, {"resource": "General/epochs", "min_resource": 1, "max_resource": EPOCHS,
                      "reduction_factor": 3, "resume": True}
    raise ValueError(f"not an hpqueue system: {key!r}")


def child_hpq(args: argparse.Namespace) -> None:
    """The controller script of an hpqueue system (its own process, as a user runs it)."""
    from controller import HyperParameterOptimizer
    from workers import Task

    strategy = SYSTEMS[args.system].strategy
    cls, kwargs = hpq_strategy(strategy)
    base = Task.create("realwork", "mlp-digits", entry_point=ENTRY_POINT,
                       parameters=base_parameters(args.seed, strategy == "hpq-asha"),
                       working_dir=str(ROOT))
    created = time.time()
    opt = HyperParameterOptimizer(
        base_task_id=base.id, hyper_parameters=hpq_space(), objective_metric_title="validation",
        objective_metric_series="error", objective_metric_sign="min", optimizer_class=cls,
        max_number_of_concurrent_tasks=args.concurrency, execution_queue=args.queue,
        seed=args.seed, **kwargs)
    opt.set_time_limit(specific_time=datetime.datetime.fromtimestamp(args.t0 + args.budget))
    loop_cpu = _cpu_seconds()
    opt.start()
    started = time.time()
    ended = opt.wait(timeout=(args.budget + 120) / 60)
    _emit({"task_created": created, "optimizer_started": started, "ended": ended,
           "end_reason": opt.end_reason, "controller_cpu": _cpu_seconds(),
           "loop_cpu": _cpu_seconds() - loop_cpu})


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_optuna(args: argparse.Namespace) -> None:
    """One of the two processes of a standalone Optuna system."""
    import warnings

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    prune = args.system == "optuna-sh"
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
              if prune else optuna.pruners.NopPruner())
    study = optuna.create_study(
        storage=JournalStorage(JournalFileBackend(args.journal)), study_name="realwork",
        sampler=optuna.samplers.TPESampler(seed=args.seed * 100 + args.index, multivariate=True,
                                           constant_liar=True),
        pruner=pruner, direction="minimize", load_if_exists=True)
    study.optimize(functools.partial(optuna_objective, prune=prune, seed=args.seed),
                   timeout=max(0.0, args.deadline - time.time()))


# ------------------------------------------------------------------------ one run
def run_system(system: System, seed: int, budget: float, server: RedisServer, tmp: Path,
               concurrency: int = WORKERS, local: bool = False) -> dict[str, Any]:
    """Launch ``system`` for ``budget`` seconds and analyse its trials."""
    server.client.flushall()  # the benchmark's own server: each run starts empty
    run_dir = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{system.key}-{seed}-"))
    logs = run_dir / "trials"
    logs.mkdir()
    env = {**os.environ, **BLAS_ENV, LOG_DIR_ENV: str(logs), "HPQ_REDIS_URL": server.url,
           "HPQ_NAMESPACE": f"rw{uuid.uuid4().hex[:8]}", "HPQ_HOME": str(run_dir / "home"),
           "HPQ_ARTIFACTS_DIR": str(run_dir / "artifacts"), "HPQ_PARENT_PID": str(os.getpid()),
           "PYTHONPATH": os.pathsep.join(dict.fromkeys(
               [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))}
    t0 = time.time()
    if system.kind == "hpq":
        extra = _run_hpq(system, seed, budget, t0, env, run_dir, concurrency, local)
    else:
        extra = _run_optuna(system, seed, budget, t0, env, run_dir)
    trials = read_trials(logs)
    if not trials:
        raise RuntimeError(f"{system.key}: no trial ran (logs in {run_dir})")
    return {"system": system.key, "seed": seed, "budget": budget,
            **analyse(trials, t0, budget, WORKERS), **extra}


def _run_hpq(system: System, seed: int, budget: float, t0: float, env: dict[str, str],
             run_dir: Path, concurrency: int, local: bool = False) -> dict[str, Any]:
    queue = f"realwork{uuid.uuid4().hex[:8]}"
    if local:  # the controller starts its server and workers (HPQ_HOME is the run's)
        env = {k: v for k, v in env.items() if k != "HPQ_REDIS_URL"}
        worker = None
    else:
        worker = start_worker(queue, WORKERS, env, run_dir / "worker.log")  # with the controller
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "_hpq", "--system", system.key, "--seed", str(seed),
             "--t0", repr(t0), "--budget", str(budget), "--queue", queue,
             "--concurrency", str(concurrency)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=budget + 300,
            check=False)
    finally:
        if worker is not None:
            worker.stop()
    out = _child_result(proc, f"{system.key} controller")
    if not out["ended"]:
        raise RuntimeError(f"{system.key}: the optimizer did not end ({out})")
    return {"controller": out, "setup_seconds": out["optimizer_started"] - t0}


def _run_optuna(system: System, seed: int, budget: float, t0: float, env: dict[str, str],
                run_dir: Path) -> dict[str, Any]:
    procs = []
    for index in range(WORKERS):
        with open(run_dir / f"optuna-{index}.log", "w") as log:
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "_optuna", "--system", system.key, "--seed", str(seed),
                 "--index", str(index), "--journal", str(run_dir / "journal.log"),
                 "--deadline", repr(t0 + budget)],
                env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT))
    for index, proc in enumerate(procs):
        if proc.wait(timeout=budget + 300) != 0:
            text = (run_dir / f"optuna-{index}.log").read_text()
            raise RuntimeError(f"{system.key} process {index} failed:\n{text[-3000:]}")
    return {}


def warm_up() -> None:
    """Read what every system imports once, so that the first system does not pay for a cold
    file cache (seconds, right after an install) that the others do not."""
    code = ("import celery, optuna, sklearn.neural_network, controller, workers.runner; "
            "import bench.realwork_trial as t; t.dataset()")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300,
                   env={**os.environ, **BLAS_ENV, "PYTHONPATH": str(ROOT)})


def read_trials(directory: Path) -> list[dict[str, Any]]:
    """Every trial log line of a run (one file per process)."""
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------ analysis
def analyse(trials: list[dict[str, Any]], t0: float, budget: float,
            workers: int = WORKERS) -> dict[str, Any]:
    """The figures of one run from its trial logs (see the module docstring); what happened
    after ``t0 + budget`` is left out."""
    deadline = t0 + budget
    started = [t for t in trials if t["start"] < deadline]
    first = min(t["start"] for t in started)
    epochs = [e for t in started for e in t["epochs"] if e[1] <= deadline]
    training = sum(min(e[1], deadline) - max(e[0], first)
                   for t in started for e in t["epochs"] if e[0] < deadline)
    ckpt_save = [t["checkpoint_save"] for t in started if t["checkpoint_save"] is not None]
    ckpt_load = [t["checkpoint_load"] for t in started if t["checkpoint_load"] is not None]
    failed = [t["outcome"] for t in started if t["outcome"].startswith("failed")]
    return {
        "startup": first - t0,
        "started": len(started),
        "completed": sum(t["outcome"] == "completed" and t["end"] <= deadline for t in started),
        "failed": len(failed), "first_failure": failed[0] if failed else None,
        "epochs": len(epochs),
        "continued": sum(t["first_epoch"] > 0 for t in started),
        "training_share": training / (workers * (deadline - first)),
        "gap_ms": _median_ms(gaps(started, deadline)),
        "report_ms": _median_ms([e[3] for e in epochs]),
        "checkpoint_save_ms": _median_ms(ckpt_save),
        "checkpoint_load_ms": _median_ms(ckpt_load),
        "best": {str(m): min((e[2] for e in epochs if e[1] <= t0 + m * budget), default=math.nan)
                 for m in MARKS},
    }


def gaps(trials: list[dict[str, Any]], deadline: float) -> list[float]:
    """Per process, from the end of a trial's last report to the next trial's first epoch
    (seconds); trials without an epoch leave their time in the gap around them."""
    by_pid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in trials:
        if t["epochs"]:
            by_pid[t["pid"]].append(t)
    out = []
    for mine in by_pid.values():
        mine.sort(key=lambda t: t["epochs"][0][0])
        for prev, nxt in itertools.pairwise(mine):
            begin = nxt["epochs"][0][0]
            if begin <= deadline:
                last = prev["epochs"][-1]
                out.append(begin - (last[1] + last[3]))
    return out


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else math.nan


# ------------------------------------------------------------------------ report
def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per system, the median of each figure over its seeds (in the order the systems ran)."""
    out: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(r["system"] for r in runs):
        mine = [r for r in runs if r["system"] == key]
        summary: dict[str, Any] = {"seeds": len(mine)}
        for field in ("startup", "started", "completed", "failed", "epochs", "training_share",
                      "gap_ms", "report_ms", "checkpoint_save_ms", "checkpoint_load_ms"):
            summary[field] = _nanmedian([r[field] for r in mine])
        summary["best"] = {m: _nanmedian([r["best"][m] for r in mine]) for m in mine[0]["best"]}
        if "controller" in mine[0]:
            summary["controller_cpu_share"] = _nanmedian(
                [r["controller"]["loop_cpu"] / r["budget"] for r in mine])
        out[key] = summary
    return out


def _nanmedian(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def _fmt(value: float, spec: str) -> str:
    return "—" if math.isnan(value) else format(value, spec)


def format_table(summary: dict[str, dict[str, Any]], budget: float) -> str:
    marks = " / ".join(f"{m * budget:g}" for m in MARKS)
    head = ["system", "start-up s", "trials started / completed", "epochs", "training share",
            "gap ms", "report ms", "checkpoint save / load ms", "controller CPU (1 core)",
            f"best error at {marks} s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for key, s in summary.items():
        failed = f" ({s['failed']:g} failed)" if s["failed"] else ""
        cpu = s.get("controller_cpu_share", math.nan)
        row = [SYSTEMS[key].label, _fmt(s["startup"], ".2f"),
               f"{s['started']:g} / {s['completed']:g}{failed}", f"{s['epochs']:g}",
               _fmt(s["training_share"], ".3f"), _fmt(s["gap_ms"], ".1f"),
               _fmt(s["report_ms"], ".2f"),
               f"{_fmt(s['checkpoint_save_ms'], '.1f')} / {_fmt(s['checkpoint_load_ms'], '.1f')}",
               _fmt(cpu * 100, ".0f") + ("" if math.isnan(cpu) else " %"),
               " / ".join(_fmt(v, ".4f") for v in s["best"].values())]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def goals(summary: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """The issue's goals (None: a system it needs did not run)."""
    def get(key: str, field: str) -> float:
        return summary[key][field] if key in summary else math.nan

    def check(ok: bool, *values: float) -> bool | None:
        return None if any(math.isnan(v) for v in values) else ok

    tpe_gap, opt_gap = get("hpq-tpe", "gap_ms"), get("optuna-tpe", "gap_ms")
    tpe_share, opt_share = get("hpq-tpe", "training_share"), get("optuna-tpe", "training_share")
    random_share, asha_gap = get("hpq-random", "training_share"), get("hpq-asha", "gap_ms")
    opt_start = get("optuna-tpe", "startup")
    hpq_start = max((s["startup"] for k, s in summary.items() if SYSTEMS[k].kind == "hpq"),
                    default=math.nan)
    tpe_ahead_gap = get("hpq-tpe" + AHEAD_SUFFIX, "gap_ms")
    random_ahead_share = get("hpq-random" + AHEAD_SUFFIX, "training_share")
    asha_ahead_gap = get("hpq-asha" + AHEAD_SUFFIX, "gap_ms")
    ahead_goals = {
        "with 1 queued ahead: TPE gap <= standalone Optuna's": check(
            tpe_ahead_gap <= opt_gap, tpe_ahead_gap, opt_gap),
        "with 1 queued ahead: RandomSearch training share >= 0.90": check(
            random_ahead_share >= 0.90, random_ahead_share),
        "with 1 queued ahead: ASHA gap <= 5 ms": check(asha_ahead_gap <= 5.0, asha_ahead_gap),
    }
    return {
        "TPE gap <= standalone Optuna's": check(tpe_gap <= opt_gap, tpe_gap, opt_gap),
        "TPE training share >= standalone Optuna's": check(tpe_share >= opt_share, tpe_share,
                                                           opt_share),
        "RandomSearch training share >= 0.90": check(random_share >= 0.90, random_share),
        "start-up <= standalone Optuna's (every hpqueue system)": check(hpq_start <= opt_start,
                                                                        hpq_start, opt_start),
        "ASHA gap <= 5 ms": check(asha_gap <= 5.0, asha_gap),
        **{goal: ok for goal, ok in ahead_goals.items() if ok is not None},
    }


def format_goals(result: dict[str, bool | None]) -> str:
    marks = {True: "yes", False: "**no**", None: "not measured"}
    return "\n".join(f"- {goal}: {marks[ok]}" for goal, ok in result.items())


def section(table: str, goal_text: str, command: str, redis_version: str, seeds: int,
            budget: float, wall: float, load: tuple[float, float]) -> str:
    """The Markdown section of a run: date, command, machine, the table and the goals."""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d")
    machine = (f"{os.cpu_count()} cores, shared with other work (load average {load[0]:.1f} "
               f"before the run, {load[1]:.1f} after), {platform.system()} {platform.release()}, "
               f"Python {platform.python_version()}, redis-server {redis_version}, scikit-learn "
               f"{_version('scikit-learn')}, optuna {_version('optuna')}, Celery "
               f"{_version('celery')}")
    how = (f"{budget:g} s per system and seed, {seeds} seed(s), medians over seeds; how each "
           "figure is measured: the docstring of `bench/realwork.py`")
    return "\n".join([SECTION, "", f"- Date: {date}",
                      f"- Command: `{command}` ({wall / 60:.0f} min wall clock)",
                      f"- Machine: {machine}", f"- {how}", "", table, "", goal_text, ""])


def _version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return "?"


# ------------------------------------------------------------------------ main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="child")
    c = sub.add_parser("_hpq")
    c.add_argument("--system", required=True)
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--t0", type=float, required=True)
    c.add_argument("--budget", type=float, required=True)
    c.add_argument("--queue", required=True)
    c.add_argument("--concurrency", type=int, default=WORKERS)
    c = sub.add_parser("_optuna")
    c.add_argument("--system", required=True)
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--index", type=int, required=True)
    c.add_argument("--journal", required=True)
    c.add_argument("--deadline", type=float, required=True)
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK['seeds']} seed, {QUICK['budget']:g} s per system (about a minute)")
    p.add_argument("--seeds", type=int, help=f"seeds 0..N-1 (default {FULL['seeds']})")
    p.add_argument("--budget", type=float,
                   help=f"seconds per system and seed (default {FULL['budget']:g})")
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                   help=f"comma-separated, from {', '.join(SYSTEMS)}")
    p.add_argument("--results", type=Path,
                   help="Markdown file to write the section into (default bench/RESULTS.md for "
                        "a full run, none with --quick)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--json", type=Path, help="also dump every run's figures as JSON here")
    p.add_argument("--local", action="store_true",
                   help="run the hpqueue systems in local mode (their controller starts its "
                        "embedded server and local workers)")
    p.add_argument("--keep", action="store_true",
                   help="keep the runs' directory (trial logs, worker and process logs)")
    return p.parse_args(argv)


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    cfg = dict(QUICK if args.quick else FULL)
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    if args.budget is not None:
        cfg["budget"] = args.budget
    unknown = [k for k in args.systems.split(",") if k not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    systems = [SYSTEMS[k] for k in args.systems.split(",")]
    warm_up()
    tmp = Path(tempfile.mkdtemp(prefix="hpq-realwork-"))
    server = RedisServer(tmp)
    load_before = os.getloadavg()[0]
    begin = time.time()
    runs = []
    try:
        for seed in range(int(cfg["seeds"])):
            for system in systems:
                print(f"[seed {seed}] {system.key}: {cfg['budget']:g} s ...", file=sys.stderr,
                      flush=True)
                runs.append(run_system(system, seed, cfg["budget"], server, tmp,
                                       WORKERS + system.ahead, local=args.local))
    finally:
        server.stop()
        if args.keep:
            print(f"runs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = summarize(runs)
    table = format_table(summary, cfg["budget"])
    goal_text = format_goals(goals(summary))
    print(table + "\n\nGoals:\n" + goal_text)
    command = "python bench/realwork.py" + ("" if not argv else " " + " ".join(argv))
    target = None if args.no_write else (args.results or (None if args.quick else RESULTS_FILE))
    if target is not None:
        write_section(target, section(table, "Goals:\n\n" + goal_text, command, server.version,
                                      int(cfg["seeds"]), cfg["budget"], time.time() - begin,
                                      (load_before, os.getloadavg()[0])))
        print(f"written to {target}")
    result = {"config": cfg, "runs": runs, "summary": summary}
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child == "_hpq":
        child_hpq(args)
    elif args.child == "_optuna":
        child_optuna(args)
    else:
        run(args, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
