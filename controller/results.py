"""Read-only queries over an optimization's results (the ``get_top_experiments*`` family).

Rankings come from the scheduler's leaderboard in memory (no Redis query per job); Task objects
and full metrics are loaded for the requested top-k only, in one round trip.
"""

from __future__ import annotations

import threading
from typing import Any

from workers.status import TaskStatus
from workers.store import Store
from workers.task import Task

from .loop import Scheduler


class ResultsView:
    """Top-k queries; safe to call from any thread while the optimizer runs."""

    def __init__(self, store: Store, scheduler: Scheduler, lock: threading.RLock,
                 parameter_names: list[str]) -> None:
        self.store = store
        self.scheduler = scheduler
        self.lock = lock
        self.parameter_names = parameter_names

    def top_ids(self, top_k: int | None, *, only_completed: bool = False,
                include_running: bool = False) -> list[str]:
        """Ids of the best jobs that have the objective, best first."""
        with self.lock:
            sched = self.scheduler
            if include_running:
                extra = []
                for job in sched.active.values():
                    values = job.objective_values(sched.objective)
                    if values is not None:
                        extra.append((job.id, job.index, values))
                ranked = sched.leaderboard.merged(extra)
            elif only_completed:
                ranked = sched.leaderboard.ranked()
            else:
                return sched.leaderboard.top(top_k)
            if only_completed:
                ranked = [j for j in ranked
                          if sched.jobs[j].status == TaskStatus.COMPLETED]
            return ranked if top_k is None else ranked[:max(top_k, 0)]

    def created_jobs(self) -> dict[str, dict[str, Any]]:
        """``{job_id: parameters}`` of every job so far, in creation order."""
        with self.lock:
            jobs = sorted(self.scheduler.jobs.values(), key=lambda j: j.index)
            return {j.id: dict(j.parameters) for j in jobs}

    def active_ids(self) -> list[str]:
        """Ids of the queued and running jobs."""
        with self.lock:
            return list(self.scheduler.active)

    def budget(self, now: float) -> dict[str, Any]:
        """ClearML's budget dict (:meth:`controller.budget.Budget.to_dict`) at ``now``."""
        with self.lock:
            sched = self.scheduler
            return sched.budget.to_dict(sched.created, sched.iterations_used,
                                        sched.compute_seconds(now))

    def tasks(self, ids: list[str]) -> list[Task]:
        """Task handles of ``ids`` (one round trip), skipping records that are gone."""
        return [Task(i, store=self.store, record=rec)
                for i, rec in zip(ids, self.store.records(ids)) if rec is not None]

    # ------------------------------------------------------- ClearML's queries
    def get_top_experiments(self, top_k: int, *, only_completed: bool = False,
                            include_running: bool = False) -> list[Task]:
        """The best ``top_k`` jobs as Tasks, best first (finished jobs with the objective)."""
        return self.tasks(self.top_ids(top_k, only_completed=only_completed,
                                       include_running=include_running))

    def get_top_experiments_id_metrics_pair(self, top_k: int, all_metrics: bool = False,
                                            only_completed: bool = False
                                            ) -> list[tuple[str, dict[str, dict[str, Any]]]]:
        """``[(job_id, {"title/series": {"metric", "variant", "value", "min_value",
        "max_value"}})]`` best first; only the objective metrics unless ``all_metrics``."""
        ids = self.top_ids(top_k, only_completed=only_completed)
        return [(jid, m) for jid, m in zip(ids, self._metrics(ids, all_metrics))]

    def get_top_experiments_details(self, top_k: int, all_metrics: bool = False,
                                    all_hyper_parameters: bool = False,
                                    only_completed: bool = False) -> list[dict[str, Any]]:
        """``[{"task_id", "hyper_parameters", "metrics"}]`` best first.

        ``hyper_parameters`` holds the optimized parameters (every task parameter with
        ``all_hyper_parameters``), with their JSON types; ``metrics`` as in
        :meth:`get_top_experiments_id_metrics_pair`.
        """
        ids = self.top_ids(top_k, only_completed=only_completed)
        out = []
        for jid, metrics in zip(ids, self._metrics(ids, all_metrics)):
            with self.lock:
                params = dict(self.scheduler.jobs[jid].parameters)
            if all_hyper_parameters:
                params = Task(jid, store=self.store).get_parameters()
            else:
                params = {k: v for k, v in params.items() if k in self.parameter_names}
            out.append({"task_id": jid, "hyper_parameters": params, "metrics": metrics})
        return out

    def _metrics(self, ids: list[str], all_metrics: bool) -> list[dict[str, dict[str, Any]]]:
        if all_metrics:
            raw = self.store.metrics_many(ids)
        else:
            with self.lock:
                objectives = self.scheduler.objective.objectives
                raw = [{} for _ in ids]
                for out, jid in zip(raw, ids):
                    for obj, st in zip(objectives, self.scheduler.jobs[jid].stats):
                        out.setdefault(obj.title, {})[obj.series] = st.as_dict()
        return [{f"{title}/{series}": {"metric": title, "variant": series,
                                       "value": st.get("last"), "min_value": st.get("min"),
                                       "max_value": st.get("max"),
                                       "iteration": st.get("iteration")}
                 for title, by_series in metrics.items() for series, st in by_series.items()}
                for metrics in raw]
