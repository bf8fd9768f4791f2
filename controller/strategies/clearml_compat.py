"""ClearML's strategy API over the strategy contract of :mod:`.base`.

ClearML's ``HyperParameterOptimizer`` builds its strategy as ``optimizer_class(base_task_id,
hyper_parameters, objective_metric, execution_queue, num_concurrent_workers, ...,
**optimizer_kwargs)``, and users call ``get_top_experiments*`` and ``get_objective_metric`` on
it. :class:`ClearMLSearchStrategy` is that API: it accepts and stores ClearML's constructor
arguments, hands the space, the seed and a subclass's own arguments to the core
:class:`~.base.SearchStrategy`, binds ``objective_metric`` when one is given, and answers the
queries from the results view the optimizer binds. Every built-in strategy derives from it, so
ClearML constructions (positional or by keyword, inside or outside an optimizer) work as they
are; a strategy of your own may derive from the core :class:`~.base.SearchStrategy` alone.

The optimizer builds a :class:`ClearMLSearchStrategy` subclass the ClearML way, with
:data:`LOOP_ARGUMENTS` and the rest of ClearML's arguments, and takes those limits from a
:class:`ClearMLSearchStrategy` instance passed as ``optimizer_class``; any other strategy gets
its space, its seed and its own arguments only. Either way the loop, not the strategy, enforces
the limits.

The rest of ClearML's strategy API is here too: ``get_created_jobs_ids()``,
``get_created_jobs_tasks()``, ``get_running_jobs()``, ``budget``, ``set_job_class``,
``set_job_default_parent``, ``set_job_naming_scheme``, ``set_optimizer_task``,
``get_random_seed``/``set_random_seed``. A strategy written ClearML's way -- a subclass that
implements ``create_job()`` (returning :meth:`ClearMLSearchStrategy.helper_create_job`'s job, or
None), and optionally ``monitor_job()`` and ``process_step()``, instead of ``suggest()`` -- runs
on hpqueue's loop through a bridge this layer gives it:

* ``suggest()`` hands over the next launched job; when none is waiting it runs
  ``process_step()``, whose default launches what ``create_job()`` returns (ClearML's, which also
  monitors jobs and counts budgets, which hpqueue's loop does). With nothing launched it answers
  WAIT while jobs run and None (the end) when none does, as ClearML's loop ends;
* the job a strategy launched is bound to the task the loop creates for it (``on_trial_start``);
* ``monitor_job(job)`` runs at each report of the objective by the job; returning False stops it.

Job handles read their task in the store (:class:`~controller.clearml_job.ClearmlJob`). A
resumed ClearML-style strategy gets its jobs back, not the rest of its own attributes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workers.clearml_task import hybridmethod

from ..clearml_job import ClearmlJob
from ..objective import MultiObjective, Objective
from ..parameters import Parameter, RandomSeed
from .base import WAIT, Decision, SearchStrategy, Suggestion, Trial, Wait

if TYPE_CHECKING:
    from workers.task import Task

    from ..results import ResultsView

#: A job naming function: ``naming(base_task_name, parameters) -> name``.
Naming = Callable[[str, dict[str, Any]], str]

#: ClearML's strategy arguments that the optimizer's loop enforces (the strategy keeps a copy).
LOOP_ARGUMENTS = ("pool_period_min", "time_limit_per_job", "total_max_jobs",
                  "min_iteration_per_job", "max_iteration_per_job")


def clearml_positional(owner: str, order: Sequence[str], args: Sequence[Any],
                       kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ``args`` named by ``order``: for a strategy whose ClearML namesake takes
    its positional arguments in another order than :class:`ClearMLSearchStrategy`
    (``OptimizerBOHB``).

    Raises:
        TypeError: more positional arguments than ``order`` names, or an argument given both
            positionally and by keyword (naming ``owner`` and the argument).
    """
    if len(args) > len(order):
        raise TypeError(f"{owner} takes at most {len(order)} positional arguments "
                        f"({', '.join(order)}), got {len(args)}")
    named = dict(kwargs)
    for name, value in zip(order, args):
        if name in named:
            raise TypeError(f"{owner} got multiple values for argument {name!r}")
        named[name] = value
    return named


@dataclass(frozen=True)
class BudgetField:
    """One of ClearML's ``Budget`` fields: ``limit`` and ``used`` (a fraction of the limit; None
    without a limit or use, as ClearML's ``Budget.Field.used``)."""

    limit: float | None
    used: float | None


@dataclass(frozen=True)
class BudgetView:
    """ClearML's ``strategy.budget``: ``jobs``, ``iterations``, ``compute_time`` and
    ``to_dict()``, as the optimizer's loop counts them."""

    jobs: BudgetField
    iterations: BudgetField
    compute_time: BudgetField

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> BudgetView:
        def field(name: str) -> BudgetField:
            entry = data.get(name, {})
            return BudgetField(entry.get("limit"), entry.get("used") or None)

        return cls(field("jobs"), field("iterations"), field("compute_time"))

    def to_dict(self) -> dict[str, dict[str, float | None]]:
        """``{'jobs'|'iterations'|'compute_time': {'limit', 'used'}}`` (``used`` 0 when None, as
        ClearML's)."""
        return {name: {"limit": f.limit, "used": f.used or 0}
                for name, f in (("jobs", self.jobs), ("iterations", self.iterations),
                                ("compute_time", self.compute_time))}


class ClearMLSearchStrategy(SearchStrategy):
    """A strategy with ClearML's ``SearchStrategy`` constructor and queries.

    Args:
        base_task_id, execution_queue, num_concurrent_workers, compute_time_limit: kept as
            attributes for ClearML code that reads them; the optimizer's own arguments decide.
        hyper_parameters: the search space (core).
        objective_metric: when given, bound at once (``bind(OptimizerContext(objective))``, so
            that the strategy works outside an optimizer); an optimizer binds its own objective.
        pool_period_min, time_limit_per_job, min_iteration_per_job, max_iteration_per_job,
            total_max_jobs: the loop's limits (:data:`LOOP_ARGUMENTS`); kept as attributes,
            which some strategies read as defaults of their own arguments.
        **kwargs: ``seed`` and the subclass's own arguments, for the core.

    A subclass that overrides :meth:`bind` sets what its ``bind`` reads before calling
    ``super().__init__``: with ``objective_metric``, ``bind`` runs inside this constructor.

    Raises:
        TypeError: for an argument the strategy does not know.
        ValueError: for an invalid search space, or an objective the strategy rejects.
    """

    def __init__(self, base_task_id: str | None = None,
                 hyper_parameters: Iterable[Parameter] = (),
                 objective_metric: MultiObjective | Objective | None = None,
                 execution_queue: str = "default", num_concurrent_workers: int = 1,
                 pool_period_min: float = 2.0, time_limit_per_job: float | None = None,
                 compute_time_limit: float | None = None,
                 min_iteration_per_job: int | None = None,
                 max_iteration_per_job: int | None = None, total_max_jobs: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(hyper_parameters, **kwargs)
        self.base_task_id = base_task_id
        self.hyper_parameters = self.space.parameters
        self.execution_queue = execution_queue
        self.num_concurrent_workers = num_concurrent_workers
        self.pool_period_min = pool_period_min
        self.time_limit_per_job = time_limit_per_job
        self.compute_time_limit = compute_time_limit
        self.min_iteration_per_job = min_iteration_per_job
        self.max_iteration_per_job = max_iteration_per_job
        self.total_max_jobs = total_max_jobs
        self._job_class: type[ClearmlJob] = ClearmlJob
        self._job_parent_id: str | None = None
        self._job_project: str | None = None
        self._naming_function: Naming | None = None
        self._optimizer_task: Task | None = None
        # the create_job bridge: jobs launched and not handed to the loop yet, the last one
        # suggest() handed over, and every job's handle by id
        self._clearml_launched: deque[ClearmlJob] = deque()
        self._clearml_handed: ClearmlJob | None = None
        self._clearml_jobs: dict[str, ClearmlJob] = {}
        if objective_metric is not None:
            self.set_objective(objective_metric)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass written ClearML's way (``create_job()`` or ``process_step()``, no
        ``suggest()``) gets the bridge described in the module docstring."""
        super().__init_subclass__(**kwargs)
        if not any(name in vars(cls) for name in ("create_job", "process_step")):
            return
        for name, bridge in _BRIDGE.items():
            own = getattr(cls, name)
            if getattr(own, "__isabstractmethod__", False) or own is getattr(
                    ClearMLSearchStrategy, name, None) or own is getattr(SearchStrategy, name):
                setattr(cls, name, bridge)

    def loop_arguments(self) -> dict[str, Any]:
        """The :data:`LOOP_ARGUMENTS` this strategy was built with (None left out)."""
        return {k: v for k in LOOP_ARGUMENTS if (v := getattr(self, k)) is not None}

    # ------------------------------------------------- ClearML's job protocol
    def create_job(self) -> ClearmlJob | None:
        """ClearML's hook: a new job (:meth:`helper_create_job`), or None when there is nothing
        to launch now. Unused by strategies that implement ``suggest()``."""
        return None

    def monitor_job(self, job: ClearmlJob) -> bool:
        """ClearML's hook, at each report of the objective by ``job``: False stops the job. The
        loop enforces time and iteration limits and budgets itself."""
        return True

    def process_step(self) -> bool:
        """ClearML's loop step: launch what :meth:`create_job` returns; True while the search
        goes on (a job was launched, or some run)."""
        job = self.create_job()
        if job is not None:
            job.launch(self.execution_queue)
            return True
        return bool(self.get_running_jobs())

    def helper_create_job(self, base_task_id: str | None = None,
                          parameter_override: Mapping[str, Any] | None = None,
                          task_overrides: Mapping[str, Any] | None = None,
                          tags: Sequence[str] | None = None, parent: str | None = None,
                          **kwargs: Any) -> ClearmlJob:
        """A job that clones the base task with ``parameter_override`` (see
        :class:`~controller.clearml_job.ClearmlJob`); :meth:`ClearmlJob.launch` hands it to
        the loop.

        Raises:
            ValueError: for another base task than the optimizer's, a parent other than the
                default one, or ``task_overrides``.
        """
        if base_task_id is not None and self.base_task_id not in (None, base_task_id):
            raise ValueError(f"jobs clone the optimizer's base task {self.base_task_id}, not "
                             f"{base_task_id}")
        if parent is not None and parent != (self._job_parent_id or parent):
            raise ValueError(f"jobs are children of {self._job_parent_id}, not {parent}")
        return self._job_class(base_task_id or self.base_task_id, parameter_override,
                               task_overrides, tags, parent or self._job_parent_id,
                               strategy=self, **kwargs)

    def hand_over(self, job: ClearmlJob) -> None:
        """A job of this strategy was launched: the loop takes it at the next ``suggest()``."""
        self._clearml_launched.append(job)

    def drop(self, job: ClearmlJob) -> None:
        """Forget a launched job that was aborted before the loop took it."""
        if job in self._clearml_launched:
            self._clearml_launched.remove(job)

    # ---------------------------------------------------------- ClearML's setters
    def set_job_class(self, job_class: type[ClearmlJob]) -> None:
        """The class :meth:`helper_create_job` builds (a :class:`ClearmlJob` subclass).

        Raises:
            TypeError: for another class.
        """
        if not (isinstance(job_class, type) and issubclass(job_class, ClearmlJob)):
            raise TypeError(f"job_class must be a controller.ClearmlJob subclass (jobs run on "
                            f"hpqueue's workers), got {job_class!r}")
        self._job_class = job_class

    def set_job_default_parent(self, job_parent_task_id: str | None,
                               project_name: str | None = None) -> None:
        """The parent and project of the jobs. The optimizer's loop reads its jobs' events
        from its own task: a parent other than the optimizer's task is refused when the
        optimizer adopts the strategy; ``project_name`` becomes its jobs' project."""
        self._job_parent_id = job_parent_task_id
        self._job_project = project_name

    def job_project(self, optimizer_id: str, spawn_project: str | None) -> str | None:
        """The project of the jobs the optimizer ``optimizer_id`` creates for this strategy:
        ``set_job_default_parent``'s, else ``spawn_project``.

        Raises:
            ValueError: when ``set_job_default_parent`` named another parent.
        """
        if self._job_parent_id not in (None, optimizer_id):
            raise ValueError(f"{type(self).__name__}: jobs are children of the optimizer task "
                             f"{optimizer_id}, not {self._job_parent_id} "
                             f"(set_job_default_parent)")
        self._job_parent_id = optimizer_id
        return self._job_project or spawn_project

    def set_job_naming_scheme(self, naming_function: Naming | None) -> None:
        """``naming_function(base_task_name, parameters) -> name`` names the jobs (None: the
        default ``"base: k=v ..."``)."""
        self._naming_function = naming_function or None

    @property
    def job_naming_function(self) -> Naming | None:
        return self._naming_function

    def set_optimizer_task(self, task: Task | None) -> None:
        """The optimizer's task (the optimizer sets it)."""
        self._optimizer_task = task

    def _get_seed(self) -> int:
        return self.seed

    def _set_seed(self, seed: int = 1337) -> None:
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    #: on a strategy: its seed; on the class (ClearML's static form): :class:`RandomSeed`'s
    get_random_seed = hybridmethod(_get_seed, lambda cls: RandomSeed.get_random_seed())
    #: on a strategy: reseed it (before the optimization starts); on the class:
    #: :meth:`RandomSeed.set_random_seed`
    set_random_seed = hybridmethod(_set_seed, lambda cls, seed=1337: RandomSeed.set_random_seed(
        seed))

    # ---------------------------------------------------------------- queries
    def get_objective_metric(self) -> tuple[str, str] | list[tuple[str, str]] | None:
        """ClearML's shape: ``(title, series)``, a list of them for several objectives (None
        before an objective is bound)."""
        if self.objective is None:
            return None
        pairs = self.objective.get_objective_metric()
        return pairs[0] if len(pairs) == 1 else pairs

    def get_created_jobs_ids(self) -> dict[str, dict[str, Any]]:
        """``{job_id: parameters}`` of every job the optimizer created for this strategy."""
        if self.context is not None and self.context.results is not None:
            return self.context.results.created_jobs()
        return {i: dict(j.parameter_override) for i, j in self._clearml_jobs.items()}

    def get_created_jobs_tasks(self) -> dict[str, ClearmlJob]:
        """``{job_id: job}`` of every job the optimizer created for this strategy."""
        return {i: self._handle(i, params) for i, params in self.get_created_jobs_ids().items()}

    def get_running_jobs(self) -> list[ClearmlJob]:
        """The queued and running jobs."""
        if self.context is not None and self.context.results is not None:
            return [self._handle(i) for i in self.context.results.active_ids()]
        return [j for j in self._clearml_jobs.values() if not j.is_stopped()]

    @property
    def budget(self) -> BudgetView:
        """ClearML's ``budget``: jobs, iterations and compute time used, as the loop counts
        them (nothing used outside an optimizer)."""
        if self.context is not None and self.context.results is not None:
            return BudgetView.from_dict(self.context.results.budget(time.time()))
        it_limit = (self.total_max_jobs * self.max_iteration_per_job
                    if self.total_max_jobs and self.max_iteration_per_job else None)
        return BudgetView(BudgetField(self.total_max_jobs, None), BudgetField(it_limit, None),
                          BudgetField(self.compute_time_limit, None))

    def _handle(self, job_id: str, parameters: Mapping[str, Any] | None = None) -> ClearmlJob:
        job = self._clearml_jobs.get(job_id)
        if job is None:
            job = self._job_class.of_task(job_id, parameters)
            self._clearml_jobs[job_id] = job
        return job

    def get_top_experiments(self, top_k: int) -> list[Task]:
        """The best ``top_k`` finished jobs as Tasks (same as the optimizer's method)."""
        return self._view().get_top_experiments(top_k)

    def get_top_experiments_id_metrics_pair(self, top_k: int, all_metrics: bool = False,
                                            only_completed: bool = False) -> list[Any]:
        return self._view().get_top_experiments_id_metrics_pair(top_k, all_metrics,
                                                                 only_completed)

    def get_top_experiments_details(self, top_k: int, all_metrics: bool = False,
                                    all_hyper_parameters: bool = False,
                                    only_completed: bool = False) -> list[dict[str, Any]]:
        return self._view().get_top_experiments_details(top_k, all_metrics,
                                                        all_hyper_parameters, only_completed)

    def _view(self) -> ResultsView:
        """The bound results view; RuntimeError outside an optimizer."""
        if self.context is None or self.context.results is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a "
                               f"HyperParameterOptimizer: no results to query")
        return self.context.results


# ======================================================== the create_job bridge
def _suggest_from_jobs(self: ClearMLSearchStrategy) -> Suggestion | Wait | None:
    """The next launched job as a suggestion (running ``process_step()`` when none waits)."""
    if not self._clearml_launched and not self.process_step():
        return None
    if not self._clearml_launched:
        return WAIT if self.get_running_jobs() else None
    job = self._clearml_launched.popleft()
    self._clearml_handed = job
    return Suggestion(dict(job.parameter_override))


def _bind_started_job(self: ClearMLSearchStrategy, job_id: str, suggestion: Suggestion) -> None:
    """The loop created ``job_id`` for the job handed over last."""
    job = self._clearml_handed if self._clearml_handed is not None else self._job_class(
        parameter_override=suggestion.parameters)
    self._clearml_handed = None
    job.bind(job_id)
    self._clearml_jobs[job_id] = job


def _monitor_on_result(self: ClearMLSearchStrategy, job_id: str, iteration: int,
                       value: float | list[float]) -> Decision:
    """``monitor_job`` at each report: False stops the job."""
    return Decision.CONTINUE if self.monitor_job(self._handle(job_id)) else Decision.STOP


def _load_jobs(self: ClearMLSearchStrategy, state: dict[str, Any],
               trials: Sequence[Trial] = ()) -> None:
    """Resume: the seed, and a bound handle for every job so far."""
    SearchStrategy.load_state_dict(self, state, trials)
    for trial in trials:
        self._handle(trial.job_id, trial.parameters)


_BRIDGE: dict[str, Callable[..., Any]] = {
    "suggest": _suggest_from_jobs, "on_trial_start": _bind_started_job,
    "on_trial_result": _monitor_on_result, "load_state_dict": _load_jobs}
