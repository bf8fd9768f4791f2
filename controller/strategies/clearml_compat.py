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

The rest of ClearML's strategy API (``get_created_jobs_ids``, ``budget``, ``set_job_class``,
strategies written as ``create_job()``) belongs here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..objective import MultiObjective, Objective
from ..parameters import Parameter
from .base import SearchStrategy

if TYPE_CHECKING:
    from workers.task import Task

    from ..results import ResultsView

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
        if objective_metric is not None:
            self.set_objective(objective_metric)

    def loop_arguments(self) -> dict[str, Any]:
        """The :data:`LOOP_ARGUMENTS` this strategy was built with (None left out)."""
        return {k: v for k in LOOP_ARGUMENTS if (v := getattr(self, k)) is not None}

    # ---------------------------------------------------------------- queries
    def get_objective_metric(self) -> MultiObjective | None:
        """The bound objective (ClearML's ``MultiObjective``)."""
        return self.objective

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
