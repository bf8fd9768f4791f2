"""Every Redis key hpqueue writes, in one place, under a namespace prefix.

=====================================  ==================  ================================================
key                                    type                content
=====================================  ==================  ================================================
``{ns}:task:{id}``                     hash                the task record (see :mod:`workers.store`)
``{ns}:task:{id}:metrics``             hash                ``title\\x1fseries\\x1f{last,min,max,iter}``
``{ns}:task:{id}:history``             hash                ``title\\x1fseries\\x1fiteration`` -> value
``{ns}:task:{id}:metrics:{n}``         hash                metrics of attempt ``n``, set apart when a retry started
``{ns}:task:{id}:history:{n}``         hash                history of attempt ``n``, set apart when a retry started
``{ns}:task:{id}:artifacts``           hash                artifact name -> JSON description
``{ns}:task:{id}:checkpoints``         list                JSON descriptions, oldest first
``{ns}:task:{id}:replies``             list                the optimizer's JSON replies to the trial's requests
``{ns}:tasks``                         sorted set          every task id, scored by creation time
``{ns}:project:{name}``                sorted set          task ids of a project
``{ns}:children:{id}``                 sorted set          task ids whose parent is ``id``
``{ns}:heartbeats``                    sorted set          running task ids scored by their last heartbeat
``{ns}:events:{parent}``               stream              status changes and reports of the parent's children
``{ns}:worker:{hostname}``             string (TTL)        queues of a live worker (refreshed by its supervisor)
=====================================  ==================  ================================================

The optimizer's own keys (``{ns}:opt:{id}:jobs|state|best|lease``) belong to the controller: see
:mod:`controller.persistence.keys`.

Fields inside a metric or history hash are joined with ``\\x1f`` (unit separator), which titles and
series may therefore not contain.
"""

from __future__ import annotations

SEP = "\x1f"
ROOT_STREAM = "root"


class Keys:
    """Key names for one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.tasks = f"{namespace}:tasks"
        self.heartbeats = f"{namespace}:heartbeats"

    def task(self, task_id: str) -> str:
        return f"{self.ns}:task:{task_id}"

    def metrics(self, task_id: str) -> str:
        return f"{self.ns}:task:{task_id}:metrics"

    def history(self, task_id: str) -> str:
        return f"{self.ns}:task:{task_id}:history"

    def attempt_metrics(self, task_id: str, attempt: int) -> str:
        """The metrics of a dead attempt, set apart when the next one started."""
        return f"{self.metrics(task_id)}:{attempt}"

    def attempt_history(self, task_id: str, attempt: int) -> str:
        """The history of a dead attempt, set apart when the next one started."""
        return f"{self.history(task_id)}:{attempt}"

    def artifacts(self, task_id: str) -> str:
        return f"{self.ns}:task:{task_id}:artifacts"

    def checkpoints(self, task_id: str) -> str:
        return f"{self.ns}:task:{task_id}:checkpoints"

    def replies(self, task_id: str) -> str:
        """The list a running trial blocks on for the replies to its requests
        (:mod:`workers.messages`)."""
        return f"{self.ns}:task:{task_id}:replies"

    def project(self, name: str) -> str:
        return f"{self.ns}:project:{name}"

    def children(self, parent_id: str) -> str:
        return f"{self.ns}:children:{parent_id}"

    def events(self, parent_id: str | None) -> str:
        """The stream that carries the events of ``parent_id``'s children (``root`` for none)."""
        return f"{self.ns}:events:{parent_id or ROOT_STREAM}"

    def worker(self, hostname: str) -> str:
        return f"{self.ns}:worker:{hostname}"

    def task_keys(self, task_id: str) -> list[str]:
        """Every per-task key (for deletion)."""
        return [
            self.task(task_id),
            self.metrics(task_id),
            self.history(task_id),
            self.artifacts(task_id),
            self.checkpoints(task_id),
            self.replies(task_id),
        ]
