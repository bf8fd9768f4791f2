"""HyperParameterOptimizer: the ClearML-compatible facade users touch.

It validates the configuration, keeps it on the optimizer's own task record, and runs a
:class:`~controller.driver.Driver` on a daemon thread. Where ClearML's behaviour is a known defect
the README's "Differences from ClearML" lists what hpqueue does instead.
"""

from __future__ import annotations

import atexit
import copy
import importlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from workers import codec
from workers.connection import retry_for
from workers.errors import InvalidTaskError, StatusConflictError
from workers.record import TaskRecord
from workers.status import TaskStatus
from workers.store import Store, get_store
from workers.task import DEFAULT_SECTION, Task, new_task_id

from . import retention
from .budget import Budget
from .dispatch import Dispatcher, get_dispatcher
from .driver import Callback, Driver, DriverConfig, FailureCallback, LeaseHeldError, Reloaded
from .loop import Scheduler
from .objective import MultiObjective, Objective
from .parameters import Parameter, SearchSpace
from .persistence import (
    OptimizerRepository,
    SavedOptimizer,
    TimeLimit,
    Timing,
    restore_scheduler,
)
from .results import ResultsView
from .stopping import StoppingPolicy, build_policies
from .strategies.base import OptimizerContext, SearchStrategy
from .strategies.clearml_compat import LOOP_ARGUMENTS, ClearMLSearchStrategy
from .strategies.grid_random import RandomSearch

log = logging.getLogger("hpqueue.optimizer")


class LocalJob:
    """Marker for :meth:`HyperParameterOptimizer.set_default_job_class`: run jobs on local
    worker processes (ClearML's ``LocalClearmlJob``)."""


@dataclass
class OptimizerConfig:
    """Everything needed to rebuild an optimizer (saved as JSON on its record)."""

    base_task_id: str
    hyper_parameters: list[dict[str, Any]]
    objectives: list[dict[str, str]]
    optimizer_class: str
    optimizer_kwargs: dict[str, Any]
    max_number_of_concurrent_tasks: int
    execution_queue: str
    optimization_time_limit: float | None
    compute_time_limit: float | None
    save_top_k_tasks_only: int | None
    spawn_project: str | None
    early_stopping: list[dict[str, Any]] = field(default_factory=list)
    pool_period_min: float = 2.0
    time_limit_per_job: float | None = None
    total_max_jobs: int | None = None
    min_iteration_per_job: int | None = None
    max_iteration_per_job: int | None = None
    seed: int | None = None
    max_failed_jobs: int | None = None


def _positive(name: str, value: Any, *, integer: bool = False, allow_none: bool = True) -> Any:
    if value is None and allow_none:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}"
                         f"{' or None' if allow_none else ''}, got {value!r}")
    return value


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> type:
    module, _, name = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _json_safe(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in kwargs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            log.info("optimizer argument %r is not JSON; pass it again to resume()", key)
            continue
        out[key] = value
    return out


class HyperParameterOptimizer:
    """Clone a base task, launch parameterised jobs on Celery, follow results, keep the best.

    Args mirror ClearML's ``HyperParameterOptimizer``; additionally ``early_stopping`` (a list of
    :mod:`controller.stopping` policies or their dicts), ``max_failed_jobs`` (end the optimization
    once that many jobs failed; None: never), ``store`` (a :class:`workers.Store`;
    default: ``HPQ_REDIS_URL`` or the local mode) and ``dispatcher`` (how trials are sent,
    stopped and archived: a :class:`controller.dispatch.Dispatcher`; default: the process's,
    Celery unless :func:`controller.dispatch.set_dispatcher` installed another).
    ``**optimizer_kwargs`` carry ``pool_period_min``, ``time_limit_per_job`` (minutes),
    ``total_max_jobs``, ``min_iteration_per_job``, ``max_iteration_per_job`` and the strategy's
    own arguments.

    Raises:
        TaskNotFoundError: the base task does not exist.
        ValueError: a hyper-parameter the base task does not have (the message lists the names it
            has), a bad sign, limit or early-stopping entry.
        TypeError: mismatched objective argument types, or an argument the strategy does not know.
    """

    def __init__(self, base_task_id: str, hyper_parameters: Sequence[Parameter],
                 objective_metric_title: str | Sequence[str],
                 objective_metric_series: str | Sequence[str],
                 objective_metric_sign: str | Sequence[str] = "min",
                 optimizer_class: type[SearchStrategy] | SearchStrategy = RandomSearch,
                 max_number_of_concurrent_tasks: int = 10, execution_queue: str = "default",
                 optimization_time_limit: float | None = None,
                 compute_time_limit: float | None = None,
                 auto_connect_task: bool | Task = True, always_create_task: bool = False,
                 spawn_project: str | None = None, save_top_k_tasks_only: int | None = None,
                 *, early_stopping: Iterable[StoppingPolicy | Mapping[str, Any]] | None = None,
                 max_failed_jobs: int | None = None, store: Store | None = None,
                 dispatcher: Dispatcher | None = None, **optimizer_kwargs: Any) -> None:
        self._store = store or get_store()
        self._dispatcher = dispatcher
        objective = MultiObjective.build(objective_metric_title, objective_metric_series,
                                         objective_metric_sign)
        loop_kwargs = {k: optimizer_kwargs.pop(k) for k in LOOP_ARGUMENTS if k in optimizer_kwargs}
        seed = optimizer_kwargs.pop("seed", None)
        strategy_instance = optimizer_class if isinstance(optimizer_class, SearchStrategy) else None
        cls = type(optimizer_class) if strategy_instance else optimizer_class
        if not (isinstance(cls, type) and issubclass(cls, SearchStrategy)):
            raise TypeError(f"optimizer_class must be a SearchStrategy class or instance, got "
                            f"{optimizer_class!r}")
        if strategy_instance is not None:
            # an instance comes with its seed and space, and a ClearML one with its limits
            seed = strategy_instance.seed
            if strategy_instance.space.parameters and not hyper_parameters:
                hyper_parameters = strategy_instance.space.parameters
            if isinstance(strategy_instance, ClearMLSearchStrategy):
                loop_kwargs = {**strategy_instance.loop_arguments(), **loop_kwargs}
        config = OptimizerConfig(
            base_task_id=base_task_id,
            hyper_parameters=SearchSpace(hyper_parameters).to_dicts(),
            objectives=objective.to_dicts(), optimizer_class=_class_path(cls),
            optimizer_kwargs=_json_safe(optimizer_kwargs),
            max_number_of_concurrent_tasks=max_number_of_concurrent_tasks,
            execution_queue=execution_queue, optimization_time_limit=optimization_time_limit,
            compute_time_limit=compute_time_limit, save_top_k_tasks_only=save_top_k_tasks_only,
            spawn_project=spawn_project,
            early_stopping=[p.to_dict() for p in build_policies(early_stopping)],
            seed=seed, max_failed_jobs=max_failed_jobs,
            **{k: v for k, v in loop_kwargs.items() if v is not None})
        opt_task = auto_connect_task if isinstance(auto_connect_task, Task) else None
        if opt_task is None:
            opt_task = Task.current_task()
        saved = _config_to_continue(self._store, opt_task, config) if opt_task else None
        if saved is not None and opt_task is not None:
            # the optimizer task runs again (a worker reran it after the one running it died):
            # it continues its saved state instead of starting over
            log.warning("optimizer %s already holds jobs: continuing it", opt_task.id)
        self._setup(saved or config, opt_task=opt_task, strategy=strategy_instance,
                    extra_kwargs=optimizer_kwargs, resume=saved is not None)

    # ------------------------------------------------------------------- setup
    def _setup(self, config: OptimizerConfig, *, opt_task: Task | None,
               strategy: SearchStrategy | None, extra_kwargs: Mapping[str, Any],
               resume: bool) -> None:
        store = self._store
        self._saved = OptimizerRepository(store)
        _validate_limits(config)
        base = store.record(config.base_task_id)
        base_params = base.parameters
        config.hyper_parameters = _with_sections(config.hyper_parameters, base_params)
        space = SearchSpace.from_dicts(config.hyper_parameters)
        unknown = [n for n in space.names if n not in base_params]
        if unknown:
            raise ValueError(
                f"hyper-parameter(s) {unknown} are not parameters of base task "
                f"{config.base_task_id}; it has: {sorted(base_params) or '(none)'}")
        objective = MultiObjective([Objective.from_dict(o) for o in config.objectives])
        self._config = config
        self._local = False
        self._num_local_workers: int | None = None
        self._local_workers: Any = None
        self._local_workers_count = 0
        from workers import local

        if local.is_embedded(store.url):
            # local mode: the worker processes boot (a few tenths of a second for a Celery
            # worker) while the optimizer is built, started and sends its first jobs
            self._start_local_workers()
        try:
            self._build(config, space, objective, base, opt_task, strategy, extra_kwargs, resume)
        except BaseException:
            self._stop_local_workers()
            raise

    def _build(self, config: OptimizerConfig, space: SearchSpace, objective: MultiObjective,
               base: TaskRecord, opt_task: Task | None, strategy: SearchStrategy | None,
               extra_kwargs: Mapping[str, Any], resume: bool) -> None:
        """The rest of :meth:`_setup`: the strategy, the scheduler, the optimizer's record."""
        store = self._store
        self._objective = objective
        self._space = space
        self._base = base
        self._opt_task = opt_task
        self._opt_id = opt_task.id if opt_task is not None else new_task_id()
        # a task this process runs as a trial (ClearML's optimizer run by an agent) keeps the
        # status its worker gives it: the optimizer must not complete it under its feet
        current = Task.current_task()
        self._owns_status = current is None or current.id != self._opt_id
        #: the attempt this process runs the optimizer task as (a worker runs it), else ''
        self._attempt = current.attempt_token if not self._owns_status and current else ""
        self._extra_kwargs = dict(extra_kwargs)
        # a strategy instance given by the user: kept unused, so that a reload can start from
        # a copy of it (None: rebuilt from the configuration)
        self._pristine = _copy_or_none(strategy)
        if strategy is None:
            strategy = self._build_strategy(config, space, extra_kwargs)
        self._strategy = strategy
        config.seed = strategy.seed
        if isinstance(strategy, ClearMLSearchStrategy):  # set_job_default_parent's project
            config.spawn_project = strategy.job_project(self._opt_id, config.spawn_project)
        self._scheduler = self._new_scheduler(strategy)
        self._lock = threading.RLock()
        self._results = ResultsView(store, self._scheduler, self._lock, space.names)
        strategy.bind(self._context())
        self._time_limit: TimeLimit | None = None
        if config.optimization_time_limit:
            self._time_limit = ("minutes", float(config.optimization_time_limit))
        self._report_seconds = 60.0
        self._naming: Callable[[str, dict[str, Any]], str] | None = None
        self._driver: Driver | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._started_at: float | None = None
        self._told_resume = False
        self._elapsed_before = 0.0
        self._cursor = "0-0"
        self._reloaded = False
        self._resumed_stopped = False
        if resume:
            self._restore()
        else:
            self._write_record()
        if isinstance(strategy, ClearMLSearchStrategy):
            strategy.set_optimizer_task(self._opt_task)

    def _new_scheduler(self, strategy: SearchStrategy) -> Scheduler:
        config = self._config
        return Scheduler(
            strategy, self._objective, concurrency=config.max_number_of_concurrent_tasks,
            budget=Budget(config.total_max_jobs, config.max_iteration_per_job,
                          config.compute_time_limit),
            time_limit_per_job=config.time_limit_per_job,
            policies=build_policies(config.early_stopping),
            save_top_k=config.save_top_k_tasks_only, max_failed_jobs=config.max_failed_jobs)

    @staticmethod
    def _build_strategy(config: OptimizerConfig, space: SearchSpace,
                        extra: Mapping[str, Any]) -> SearchStrategy:
        """The strategy of ``config``: its space, seed and own arguments; a
        :class:`ClearMLSearchStrategy` also gets ClearML's arguments, as ClearML builds it."""
        cls = _import_class(config.optimizer_class)
        kwargs: dict[str, Any] = {**config.optimizer_kwargs, **extra}
        if issubclass(cls, ClearMLSearchStrategy):
            loop = {k: v for k in LOOP_ARGUMENTS if (v := getattr(config, k)) is not None}
            kwargs.update(base_task_id=config.base_task_id, execution_queue=config.execution_queue,
                          num_concurrent_workers=config.max_number_of_concurrent_tasks,
                          compute_time_limit=config.compute_time_limit, **loop)
        return cls(hyper_parameters=space.parameters, seed=config.seed, **kwargs)

    def _context(self) -> OptimizerContext:
        """What the optimizer provides to its strategy: the objective, the results view, and an
        Optuna storage on the same Redis (its URL; none for a store without one) with a study
        named after the optimizer."""
        return OptimizerContext(self._objective, results=self._results,
                                optuna_storage=self._store.url, study_name=self._opt_id)

    def _write_record(self) -> None:
        config_json = codec.dumps(asdict(self._config), "optimizer configuration")
        if self._opt_task is not None:
            self._store.set_fields(self._opt_id, {"configuration": config_json})
            self._opt_task.add_tags(["optimization"])
            return
        base = self._base
        record = Task._base_record(
            self._config.spawn_project or base.project,
            f"Optimizing: {base.name}", "optimizer", "", ["optimization"],
            {f"opt/{k}": v for k, v in json.loads(config_json).items()
             if isinstance(v, (str, int, float, bool)) or v is None}, self._opt_id)
        record["configuration"] = config_json
        self._store.create(record)
        self._opt_task = Task(self._opt_id, store=self._store, record=record)

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(cls, optimizer_task_id: str, *, store: Store | None = None,
               dispatcher: Dispatcher | None = None,
               **optimizer_kwargs: Any) -> HyperParameterOptimizer:
        """The optimizer of an existing optimizer task, ready to :meth:`start` again.

        Finished jobs are never run again, running ones are re-attached, budgets, elapsed time
        and the strategy's state continue. Arguments that could not be saved as JSON (an Optuna
        sampler object, say) must be passed again in ``optimizer_kwargs``; ``store`` and
        ``dispatcher`` are the constructor's.
        Raises TaskNotFoundError, or ValueError if the task is not an optimizer.
        """
        store = store or get_store()
        record = store.record(optimizer_task_id)
        if not record.configuration:
            raise ValueError(f"task {optimizer_task_id} is not an hpqueue optimizer")
        config = OptimizerConfig(**json.loads(record.configuration))
        task = Task(optimizer_task_id, store=store, record=record)
        self = cls.__new__(cls)
        self._store = store
        self._dispatcher = dispatcher
        self._setup(config, opt_task=task, strategy=None, extra_kwargs=optimizer_kwargs,
                    resume=True)
        return self

    def _restore(self) -> None:
        """Load the saved state into this optimizer (a resumed one, before it starts)."""
        stopped = self._store.status(self._opt_id) == TaskStatus.STOPPED
        self._apply_saved(self._saved.load(self._opt_id), self._scheduler, clear_ending=stopped)

    def _apply_saved(self, saved: SavedOptimizer, scheduler: Scheduler, *, clear_ending: bool,
                     timing: bool = True) -> None:
        """Restore ``scheduler`` and the cursor from ``saved``; ``clear_ending``: the last
        session ended by stop(), and resuming continues the search; ``timing``: the elapsed
        time and time limit come from the saved state too."""
        state = saved.state
        scheduler_state = state.scheduler
        if clear_ending:
            scheduler_state = replace(scheduler_state, ending=None)
        restore_scheduler(scheduler, saved.jobs, scheduler_state, state.strategy)
        self._cursor = state.cursor
        if state.timing is not None and timing:
            self._elapsed_before = state.timing.elapsed(
                state.saved_at if state.saved_at is not None else state.timing.session_started)
            if state.timing.time_limit:
                self._time_limit = state.timing.time_limit

    def _reload(self) -> Reloaded:
        """The driver's :data:`~controller.driver.Reload`: a fresh strategy and scheduler with
        the saved state (what the driver holds may be stale: another controller drove the
        optimization meanwhile, or Redis lost the writes of its last second). Called once the
        lease is taken (this session's start), and after each Redis outage."""
        first, self._reloaded = not self._reloaded, True
        if self._owns_status:
            status, reason = self._store.get_fields(self._opt_id, "status", "status_reason")
            if status is not None and TaskStatus(status).is_final:
                return Reloaded(self._scheduler, self._cursor,
                                f"already {status}" + (f": {reason}" if reason else ""))
        saved = self._saved.load(self._opt_id)
        if not saved.jobs and saved.state.saved_at is None:
            return Reloaded(self._scheduler, self._cursor)  # a new optimizer: nothing saved
        strategy = self._fresh_strategy()
        scheduler = self._new_scheduler(strategy)
        strategy.bind(self._context())
        if isinstance(strategy, ClearMLSearchStrategy):
            strategy.set_optimizer_task(self._opt_task)
        self._apply_saved(saved, scheduler, clear_ending=first and self._resumed_stopped,
                          timing=first)
        with self._lock:
            self._strategy, self._scheduler = strategy, scheduler
            self._results.scheduler = scheduler
        if first and self._driver is not None and self._started_at is not None:
            self._driver.set_timing(Timing(self._started_at, self._elapsed_before,
                                           self._time_limit))
        return Reloaded(scheduler, self._cursor)

    def _fresh_strategy(self) -> SearchStrategy:
        if self._pristine is not None:
            return _copy_or_none(self._pristine) or self._strategy
        return self._build_strategy(self._config, self._space, self._extra_kwargs)

    # ----------------------------------------------------------------- running
    def start(self, job_complete_callback: Callback | None = None, *,
              job_failed_callback: FailureCallback | None = None) -> bool:
        """Start the optimization on a daemon thread and return at once (True).

        ``job_complete_callback(job_id, objective_value, objective_iteration, job_parameters,
        top_performance_job_id)`` fires once per job that ends with its objective (a float and
        an int for one objective, lists for several); ``job_failed_callback(job_id, reason,
        job_parameters)`` once per job that failed (``reason``: the error, e.g.
        ``"ModuleNotFoundError: No module named 'x'"``). A callback that raises is logged.
        In local mode (no ``HPQ_REDIS_URL``) local worker processes run the jobs: started when
        the optimizer was built, so that they boot while it is set up (nothing waits for them:
        the jobs sent before they are ready wait in the queue).

        If this process exits while the optimization runs (Ctrl-C, the script's end), the
        session is saved and left: ``hpq resume ID`` continues it.
        """
        if self._thread is not None:
            return True
        from workers import local

        if self._local or local.is_embedded(self._store.url):
            self._start_local_workers()
        now = time.time()
        self._started_at = now
        if self._owns_status:
            won, prev = self._store.transition(
                self._opt_id, self._opt_task.parent if self._opt_task else None,
                [TaskStatus.CREATED, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS,
                 TaskStatus.STOPPED, TaskStatus.FAILED], TaskStatus.IN_PROGRESS)
            if not won and prev == TaskStatus.COMPLETED.value:
                raise StatusConflictError(f"optimizer {self._opt_id} has already completed")
            self._resumed_stopped = prev == TaskStatus.STOPPED.value
        config = DriverConfig(
            opt_id=self._opt_id, base_record=self._base, queue=self._config.execution_queue,
            project=self._config.spawn_project or (self._opt_task.project if self._opt_task
                                                   else self._base.project),
            housekeeping_seconds=min(1.0, max(0.05, self._config.pool_period_min * 60)),
            report_seconds=self._report_seconds,
            naming=self._naming or getattr(self._strategy, "job_naming_function", None))
        driver = Driver(self._store, self._scheduler, config,
                        dispatcher=self._dispatcher or get_dispatcher(self._store),
                        callback=job_complete_callback, failure_callback=job_failed_callback,
                        deadline=self._deadline, lock=self._lock, cursor=self._cursor,
                        attempt=self._attempt, reload=self._reload,
                        health=self._local_workers_health if self._local_workers else None)
        driver.set_timing(Timing(now, self._elapsed_before, self._time_limit))
        self._driver = driver
        self._thread = threading.Thread(target=self._run, name=f"hpq-optimizer-{self._opt_id}",
                                        daemon=True)
        self._thread.start()
        atexit.register(self._detach_at_exit)
        return True

    def start_locally(self, job_complete_callback: Callback | None = None, *,
                      num_workers: int | None = None,
                      job_failed_callback: FailureCallback | None = None) -> bool:
        """Like :meth:`start`, with local Celery worker processes (``num_workers``, default the
        concurrency) consuming the execution queue of this machine."""
        self._local = True
        self._num_local_workers = num_workers
        return self.start(job_complete_callback, job_failed_callback=job_failed_callback)

    def _start_local_workers(self) -> None:
        """Start the local worker processes (``num_workers`` of :meth:`start_locally`, default
        the concurrency) unless they run; ones started with another count are replaced."""
        from workers.local import LocalWorkers

        n = self._num_local_workers or self._config.max_number_of_concurrent_tasks
        if self._local_workers is not None and self._local_workers_count != n:
            self._stop_local_workers()
        if self._local_workers is None:
            self._local_workers = LocalWorkers([self._config.execution_queue], concurrency=n,
                                               url=self._store.url)
            self._local_workers_count = n

    def _stop_local_workers(self) -> None:
        if self._local_workers is not None:
            self._local_workers.stop()
            self._local_workers = None

    def _local_workers_health(self) -> str | None:
        """Why the optimization cannot go on: its local workers exited (None while they run)."""
        workers = self._local_workers
        if workers is None or workers.proc.poll() is None:
            return None
        return (f"the local workers exited (code {workers.proc.returncode}); "
                f"their log: {workers.log_path}")

    def _run(self) -> None:
        assert self._driver is not None
        try:
            self._driver.run()
            self._finalize()
        finally:
            self._done.set()
            atexit.unregister(self._detach_at_exit)

    def detach(self, timeout: float | None = None) -> bool:
        """End this process's session and leave the optimization in progress: queued and
        running jobs go on, the state is saved and the lease released, so that
        :meth:`resume` (``hpq resume ID``) continues it at once, from any process. Waits up to
        ``timeout`` minutes; True once the session has ended (also when it had already)."""
        if self._driver is None or self._done.is_set():
            return True
        self._driver.request_detach()
        return self._done.wait(None if timeout is None else timeout * 60)

    def _detach_at_exit(self) -> None:
        """At interpreter exit with the loop still running: :meth:`detach`, and say how to
        continue."""
        try:
            detached = not self._done.is_set() and self.detach(timeout=1 / 6)
        except Exception:  # noqa: BLE001 - the store is gone: the lease expires by itself
            return
        if detached:
            self._tell_resume(f"this process exits: optimizer {self._opt_id} stays in progress "
                              "(its state is saved)")

    def _finalize(self) -> None:
        """Write the final report on the optimizer's record."""
        driver = self._driver
        assert driver is not None
        reason = driver.end_reason or (f"controller error: {driver.error}" if driver.error
                                       else "ended")
        if driver.detached or isinstance(driver.error, LeaseHeldError) or driver.already_ended:
            # detached: the optimization goes on (its state is saved; no final report, no
            # final status); a lease held: another controller drives it, or drove it to its end
            # (its state is not ours)
            if driver.detached:
                with self._lock:
                    state = replace(driver.state(), saved_at=time.time())
                self._saved.save_state(self._opt_id, state)
            self._stop_local_workers()
            return
        if driver.gave_up:
            # Redis was unreachable too long: what this session holds may not match what Redis
            # kept, so the saved state stays as it was; the record says why it ended (written
            # as soon as Redis answers again, within another outage budget)
            parent = self._opt_task.parent if self._opt_task else None
            try:
                retry_for(self._store.settings.outage_seconds, "writing the end reason",
                          lambda: self._store.transition(
                              self._opt_id, parent, [TaskStatus.IN_PROGRESS], TaskStatus.FAILED,
                              reason=reason))
            except Exception:  # Redis is still away: the log has the reason
                log.exception("optimizer %s: could not write its end reason", self._opt_id)
            finally:
                self._stop_local_workers()
            return
        try:
            with self._lock:
                state = replace(driver.state(), saved_at=time.time())
            self._saved.save_state(self._opt_id, state)
            summary = {"reason": reason, "jobs": self._scheduler.created,
                       "objective": self._objective.to_dicts(),
                       "top": self._results.get_top_experiments_details(10)}
            if self._opt_task is not None:
                self._opt_task.upload_artifact("summary", summary)
            if driver.end_reason is not None and self._owns_status:
                final = (TaskStatus.FAILED if reason == driver.failure
                         else TaskStatus.STOPPED if reason == driver.stop_reason
                         else TaskStatus.COMPLETED)
                self._store.transition(self._opt_id, self._opt_task.parent if self._opt_task
                                       else None, [TaskStatus.IN_PROGRESS], final, reason=reason)
            if driver.end_reason is not None:
                retention.on_end(self._store, self._opt_id)
        except Exception:  # the report must not hide the loop's outcome
            log.exception("optimizer %s: final report failed", self._opt_id)
        finally:
            self._stop_local_workers()

    def stop(self, timeout: float | None = None, wait_for_reporter: bool = True) -> None:
        """Stop every queued and running job and end the optimization.

        Waits for the loop to write its final report (up to ``timeout`` minutes when given)
        unless ``wait_for_reporter`` is False. A stopped optimization can be resumed (it goes on
        with new jobs).
        """
        if self._driver is None or self._thread is None:
            return
        if not self._done.is_set():
            self._driver.request_stop()
        if wait_for_reporter and self._thread is not threading.current_thread():
            # (from the callback, on the loop's own thread, the loop ends after it returns)
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the optimization ends (or ``timeout`` minutes); True if it ended.

        Ctrl-C raises KeyboardInterrupt as usual, after printing how to continue: the loop goes
        on while the process lives (``except KeyboardInterrupt: opt.stop()`` stops it); when the
        process exits, its state is saved and ``hpq resume ID`` continues it.
        """
        if self._thread is None:
            return True
        # an Event, not Thread.join: a join interrupted by Ctrl-C marks a live thread as ended
        try:
            return self._done.wait(None if timeout is None else timeout * 60)
        except KeyboardInterrupt:
            if not self._done.is_set():
                self._tell_resume(f"interrupted: optimizer {self._opt_id} is saved")
            raise

    def _tell_resume(self, what: str) -> None:
        """Print ``what`` and how to resume the optimizer, once, on stderr (nothing when the
        store is local mode's in-memory server, whose data is gone when the process exits)."""
        from workers.local import keeps_data

        if self._told_resume or not keeps_data(self._store.url):
            return
        self._told_resume = True
        print(f"hpq: {what}; continue it with: hpq resume {self._opt_id}", file=sys.stderr,
              flush=True)

    def is_active(self) -> bool:
        """True while the optimization runs (False before :meth:`start` and after the end)."""
        return self._thread is not None and not self._done.is_set()

    def is_running(self) -> bool:
        """Same as :meth:`is_active`."""
        return self.is_active()

    # ----------------------------------------------------------------- timing
    def elapsed(self) -> float:
        """Minutes since :meth:`start` (summed over resumed sessions); -1 before start."""
        if self._started_at is None:
            return -1.0
        return (time.time() - self._started_at + self._elapsed_before) / 60.0

    def set_time_limit(self, in_minutes: float | None = None,
                       specific_time: datetime | None = None) -> None:
        """Limit the optimization's duration, counted from :meth:`start` (``specific_time``
        wins when given); a falsy value removes the limit."""
        if specific_time is not None:
            self._time_limit = ("at", specific_time.timestamp())
        elif in_minutes:
            self._time_limit = ("minutes", float(_positive("in_minutes", in_minutes)))
        else:
            self._time_limit = None
        if self._driver is not None and self._started_at is not None:
            self._driver.set_timing(Timing(self._started_at, self._elapsed_before,
                                           self._time_limit))

    def _deadline(self) -> float | None:
        if self._time_limit is None:
            return None
        kind, value = self._time_limit
        if kind == "at":
            return value
        start = self._started_at if self._started_at is not None else time.time()
        return start + value * 60.0 - self._elapsed_before

    def get_time_limit(self) -> datetime | None:
        """When the time limit ends (None without a limit)."""
        deadline = self._deadline()
        return None if deadline is None else datetime.fromtimestamp(deadline)

    def reached_time_limit(self) -> bool:
        """True once started and past the time limit; False without a limit."""
        deadline = self._deadline()
        return self._started_at is not None and deadline is not None and time.time() >= deadline

    # ---------------------------------------------------------------- results
    def get_top_experiments(self, top_k: int, *, include_running: bool = False) -> list[Task]:
        """The best ``top_k`` jobs (finished, with the objective; running ones on request)."""
        return self._results.get_top_experiments(top_k, include_running=include_running)

    def get_top_experiments_details(self, top_k: int, all_metrics: bool = False,
                                    all_hyper_parameters: bool = False,
                                    only_completed: bool = False) -> list[dict[str, Any]]:
        return self._results.get_top_experiments_details(top_k, all_metrics,
                                                         all_hyper_parameters, only_completed)

    def get_top_experiments_id_metrics_pair(self, top_k: int, all_metrics: bool = False,
                                            only_completed: bool = False) -> list[Any]:
        return self._results.get_top_experiments_id_metrics_pair(top_k, all_metrics,
                                                                 only_completed)

    def get_active_experiments(self) -> list[Task]:
        """Queued and running jobs as Tasks."""
        with self._lock:
            ids = list(self._scheduler.active)
        return self._results.tasks(ids)

    def get_num_active_experiments(self) -> int:
        with self._lock:
            return len(self._scheduler.active)

    def get_optimizer(self) -> SearchStrategy:
        return self._strategy

    def set_default_job_class(self, job_class: type) -> None:
        """``LocalJob`` runs jobs on local worker processes; other job classes are a TypeError
        (jobs always run through Celery)."""
        if job_class is not LocalJob:
            raise TypeError("hpqueue runs every job through Celery; the only job class is "
                            "controller.LocalJob (local worker processes)")
        self._local = True

    def set_report_period(self, report_period_minutes: float) -> None:
        """How often the budget summary on the optimizer's record is refreshed (default 1 min).

        Callbacks, archiving and reports of results are immediate regardless of this period.
        """
        self._report_seconds = float(_positive("report_period_minutes", report_period_minutes)) * 60

    def set_job_naming_scheme(self, naming: Callable[[str, dict[str, Any]], str] | None) -> None:
        """``naming(base_task_name, parameters) -> job name`` (default ``"base: k=v ..."``)."""
        self._naming = naming

    @property
    def objective_metric(self) -> Objective | MultiObjective:
        objs = self._objective.objectives
        return objs[0] if len(objs) == 1 else self._objective

    @property
    def id(self) -> str:
        """The optimizer task's id (pass it to :meth:`resume` or ``hpq``)."""
        return self._opt_id

    @property
    def end_reason(self) -> str | None:
        """Why the optimization ended (None while it runs)."""
        return self._driver.end_reason if self._driver is not None else None

    @classmethod
    def get_optimizer_top_experiments(cls, objective_metric_title: str,
                                      objective_metric_series: str,
                                      objective_metric_sign: str, optimizer_task_id: str,
                                      top_k: int, *, store: Store | None = None) -> list[Task]:
        """Post-hoc: the best ``top_k`` finished jobs of an optimizer task by any objective."""
        objective = Objective(objective_metric_title, objective_metric_series,
                              objective_metric_sign)
        return objective.get_top_tasks(top_k, optimizer_task_id, store=store)


def _config_to_continue(store: Store, task: Task, config: OptimizerConfig
                        ) -> OptimizerConfig | None:
    """The saved configuration of ``task`` when it already holds optimizer jobs (the task runs
    again: on another worker after the one running it died, say); None when it holds none.

    Raises:
        ValueError: the saved configuration differs from ``config`` (the seed aside).
    """
    raw = task.record.get("configuration")
    if not raw or not OptimizerRepository(store).load(task.id).jobs:
        return None
    saved = OptimizerConfig(**json.loads(raw))
    mine = json.loads(codec.dumps(asdict(config)))
    mine["hyper_parameters"] = _with_sections(mine["hyper_parameters"],
                                              store.record(config.base_task_id).parameters)
    theirs = json.loads(raw)
    differ = sorted(k for k in theirs if k != "seed" and theirs[k] != mine.get(k))
    if differ:
        raise ValueError(f"task {task.id} already holds another optimization (its "
                         f"configuration differs in {', '.join(differ)}): use a new task, or "
                         f"HyperParameterOptimizer.resume({task.id!r})")
    return saved


def _with_sections(dicts: list[dict[str, Any]], base_params: Mapping[str, Any]
                   ) -> list[dict[str, Any]]:
    """Saved parameters with each name that has no section (``"lr"``) resolved to
    ``"General/lr"`` when the base task has exactly that, as ClearML does (one warning for
    all). Names it cannot resolve are left for the caller's check, which lists the base task's
    names.
    """
    renamed: dict[str, str] = {}

    def resolve(name: Any) -> Any:
        full = f"{DEFAULT_SECTION}/{name}"
        if isinstance(name, str) and "/" not in name and full in base_params:
            renamed[name] = full
            return full
        return name

    def fix(param: dict[str, Any]) -> dict[str, Any]:
        param = dict(param)
        if "name" in param:
            param["name"] = resolve(param["name"])
        if "parameter_combinations" in param:  # a ParameterSet: keys and nested parameters
            param["parameter_combinations"] = [
                {resolve(k): fix(v) if isinstance(v, dict) and "type" in v else v
                 for k, v in combo.items()} for combo in param["parameter_combinations"]]
        return param

    out = [fix(d) for d in dicts]
    if renamed:
        log.warning("hyper-parameter name(s) without a section resolved to the base task's: %s",
                    ", ".join(f"{k} -> {v}" for k, v in renamed.items()))
    return out


def _copy_or_none(strategy: SearchStrategy | None) -> SearchStrategy | None:
    """A deep copy of ``strategy``; None if there is none or it cannot be copied."""
    if strategy is None:
        return None
    try:
        return copy.deepcopy(strategy)
    except Exception:  # noqa: BLE001 - a strategy holding e.g. a lock: reused as it is
        return None


def _validate_limits(config: OptimizerConfig) -> None:
    _positive("max_number_of_concurrent_tasks", config.max_number_of_concurrent_tasks,
              integer=True, allow_none=False)
    if not isinstance(config.execution_queue, str) or not config.execution_queue:
        raise ValueError(f"execution_queue must be a non-empty string, got "
                         f"{config.execution_queue!r}")
    _positive("optimization_time_limit", config.optimization_time_limit)
    _positive("compute_time_limit", config.compute_time_limit)
    _positive("time_limit_per_job", config.time_limit_per_job)
    _positive("pool_period_min", config.pool_period_min)
    _positive("total_max_jobs", config.total_max_jobs, integer=True)
    _positive("max_iteration_per_job", config.max_iteration_per_job, integer=True)
    _positive("min_iteration_per_job", config.min_iteration_per_job, integer=True)
    _positive("max_failed_jobs", config.max_failed_jobs, integer=True)
    if config.save_top_k_tasks_only is not None and (
            isinstance(config.save_top_k_tasks_only, bool)
            or not isinstance(config.save_top_k_tasks_only, int)):
        raise ValueError(f"save_top_k_tasks_only must be an integer or None, got "
                         f"{config.save_top_k_tasks_only!r}")
    if not isinstance(config.spawn_project, (str, type(None))):
        raise InvalidTaskError(f"spawn_project must be a string, got {config.spawn_project!r}")
