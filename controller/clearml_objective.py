"""ClearML's objective queries on the tasks in the store, mixed into
:class:`~controller.objective.Objective` and :class:`~controller.objective.MultiObjective`.

``get_objective`` / ``get_normalized_objective`` / ``get_current_raw_objective`` take a task id,
a Task or a job (anything with ``task_id()`` or ``id``) and read the task's stored last/min/max;
``get_top_tasks`` ranks tasks (an optimizer's children, or all tasks) by the objective. Unlike
ClearML's, the ranking counts only finished tasks (completed or stopped) that reported the
objective, and several objectives rank by a real non-dominated sort. Every method takes an
optional ``store`` (default: the process's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workers.status import TaskStatus
from workers.store import Store, get_store
from workers.task import Task

if TYPE_CHECKING:
    from .objective import MultiObjective, Objective

#: ``task_filter`` keys ``get_top_tasks`` understands.
TASK_FILTER_KEYS = ("status", "tags", "project", "project_name")


def task_id_of(task: Any) -> str:
    """The id of a task id, a Task, or a job (``task_id()``, ClearML's ``ClearmlJob``)."""
    if isinstance(task, str):
        return task
    if callable(getattr(task, "task_id", None)):
        return str(task.task_id())
    if isinstance(getattr(task, "id", None), str):
        return str(task.id)
    raise TypeError(f"expected a task id, a Task or a job, got {type(task).__name__}")


class ObjectiveQueries:
    """ClearML's ``Objective`` methods (``self`` is an :class:`Objective`)."""

    def get_objective(self: Objective, task_id: Any,  # type: ignore[misc]
                      store: Store | None = None) -> float | None:
        """The task's objective: its last value, or its min/max for a ``_global`` sign; None
        when it did not report it."""
        return self.from_metrics((store or get_store()).metrics(task_id_of(task_id)))

    def get_current_raw_objective(self: Objective, task: Any,  # type: ignore[misc]
                                  store: Store | None = None) -> tuple[int, float] | None:
        """``(iteration, value)`` of the last report of the objective's series, or None."""
        stats = (store or get_store()).metric(task_id_of(task), self.title, self.series)
        return None if stats is None else (int(stats["iteration"]), float(stats["last"]))

    def get_objective_sign(self: Objective) -> float:  # type: ignore[misc]
        """+1 when maximizing, -1 when minimizing."""
        return 1.0 if self.maximize else -1.0

    def get_objective_metric(self: Objective) -> tuple[str, str]:  # type: ignore[misc]
        """``(title, series)``."""
        return self.title, self.series

    def get_normalized_objective(self: Objective, task_id: Any,  # type: ignore[misc]
                                 store: Store | None = None) -> float | None:
        """The objective times its sign: higher is better (ClearML's normalisation)."""
        value = self.get_objective(task_id, store)
        return None if value is None else self.get_objective_sign() * value

    def get_top_tasks(self: Objective, top_k: int,  # type: ignore[misc]
                      optimizer_task_id: str | None = None,
                      task_filter: Mapping[str, Any] | None = None,
                      store: Store | None = None) -> list[Task]:
        """The best ``top_k`` finished tasks (children of ``optimizer_task_id`` if given), best
        first; see :meth:`MultiObjectiveQueries.get_top_tasks`."""
        from .objective import MultiObjective

        return MultiObjective([self]).get_top_tasks(top_k, optimizer_task_id, task_filter, store)


class MultiObjectiveQueries:
    """ClearML's ``MultiObjective`` methods (``self`` is a :class:`MultiObjective`)."""

    objectives: list[Objective]

    def get_objective(self, task_id: Any, store: Store | None = None) -> list[float] | None:
        """Every objective of the task, or None if any is missing."""
        return self._all(o.get_objective(task_id, store) for o in self.objectives)

    def get_current_raw_objective(self, task: Any, store: Store | None = None
                                  ) -> list[tuple[int, float]] | None:
        """``(iteration, value)`` of each objective's last report, or None if any is missing."""
        return self._all(o.get_current_raw_objective(task, store) for o in self.objectives)

    def get_objective_sign(self) -> list[float]:
        return [o.get_objective_sign() for o in self.objectives]

    def get_normalized_objective(self, task_id: Any, store: Store | None = None
                                 ) -> list[float] | None:
        return self._all(o.get_normalized_objective(task_id, store) for o in self.objectives)

    def get_objective_metric(self) -> list[tuple[str, str]]:
        """``[(title, series), ...]``."""
        return [o.get_objective_metric() for o in self.objectives]

    def get_top_tasks(self: MultiObjective, top_k: int,  # type: ignore[misc]
                      optimizer_task_id: str | None = None,
                      task_filter: Mapping[str, Any] | None = None,
                      store: Store | None = None) -> list[Task]:
        """The best ``top_k`` tasks, best first: children of ``optimizer_task_id`` (every task
        when None) that finished (completed or stopped; ``task_filter={"status": [...]}``
        chooses others) with every objective. ``task_filter`` may also hold ``tags`` (all must
        be present) and ``project``.

        Raises ValueError for another ``task_filter`` key.
        """
        store = store or get_store()
        filters = dict(task_filter or {})
        unknown = sorted(set(filters) - set(TASK_FILTER_KEYS))
        if unknown:
            raise ValueError(f"task_filter keys {unknown} are not supported; use "
                             f"{', '.join(TASK_FILTER_KEYS)}")
        status = filters.get("status") or [TaskStatus.COMPLETED.value,
                                           TaskStatus.STOPPED.value]
        ids = store.find(parent=optimizer_task_id, status=status, tags=filters.get("tags"),
                         project=filters.get("project", filters.get("project_name")))
        scored = [(i, v) for i, m in zip(ids, store.metrics_many(ids))
                  if (v := self.values(m)) is not None]
        return [Task(i, store=store) for i in self.rank(scored)[:max(top_k, 0)]]

    @staticmethod
    def _all(values: Iterable[Any]) -> Any:
        out = list(values)
        return None if any(v is None for v in out) else out


def clearml_objectives(titles: str | Sequence[str], series: str | Sequence[str],
                       orders: str | Sequence[str],
                       extremums: bool | Sequence[bool]) -> list[tuple[str, str, str, bool]]:
    """ClearML's ``MultiObjective(title, series, order, extremum)`` arguments, one tuple per
    objective (a single string or bool counts as a list of one).

    Raises ValueError when the lists differ in length.
    """
    def as_list(value: Any) -> list[Any]:
        return [value] if isinstance(value, (str, bool)) else list(value)

    parts = [as_list(titles), as_list(series), as_list(orders), as_list(extremums)]
    if len({len(p) for p in parts}) != 1:
        raise ValueError(f"MultiObjective: title, series, order and extremum must have the "
                         f"same length, got {[len(p) for p in parts]}")
    return list(zip(*parts, strict=True))
