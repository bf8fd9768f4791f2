"""The one place that reads and writes an optimizer's saved state in Redis.

The driver saves each pass with :meth:`OptimizerRepository.save_pass` (one transaction); the
facade loads it to resume; the report, ``hpq status`` and the dashboard read it from any process,
while the optimizer runs and after it ended. Nothing else in ``controller/`` touches the keys of
:mod:`controller.persistence.keys`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers import codec
from workers.errors import TaskNotFoundError
from workers.messages import queue_reply
from workers.record import TaskRecord
from workers.store import Store

from ..jobs import Job
from .keys import OptimizerKeys
from .state import BestPoint, Progress, SavedOptimizer, SavedState

#: Parsed job rows by job id, with the JSON they were parsed from (see :meth:`load`).
RowMemo = dict[str, tuple[str, Job]]


def _parse_rows(raw: Mapping[str, str], memo: RowMemo) -> list[Job]:
    """The rows of a job table, parsing only those not in ``memo`` with the same JSON."""
    jobs = []
    for job_id, text in raw.items():
        seen = memo.get(job_id)
        if seen is None or seen[0] != text:
            seen = memo[job_id] = (text, Job.from_row(job_id, json.loads(text)))
        jobs.append(seen[1])
    for gone in memo.keys() - raw.keys():
        del memo[gone]
    return jobs


@dataclass(frozen=True)
class SavedPass:
    """What :meth:`OptimizerRepository.save_pass` wrote to the event stream: the ids of the new
    jobs' created -> queued events, and the id of the newest event before them."""

    event_ids: list[str]
    newest_before: str

    def cursor_after(self, cursor: str) -> str:
        """The read cursor past this pass's own events when nothing else came after ``cursor``
        before them (they only echo what the pass wrote), else ``cursor``."""
        if self.event_ids and self.newest_before == cursor:
            return self.event_ids[-1]
        return cursor


class OptimizerRepository:
    """Saved optimizers of one store's namespace (safe to share between threads)."""

    def __init__(self, store: Store, *, writer: Any = None) -> None:
        """``writer``: the client the saves go through (default: the store's), e.g. one that
        never retries (:meth:`Store.unretried_client`)."""
        self.store = store
        self.keys = OptimizerKeys(store.keys.ns)
        self._redis: Any = store.redis  # decoded replies: text in, text out
        self._writer: Any = writer if writer is not None else store.redis

    # ------------------------------------------------------------------ writing
    def save_pass(self, opt_id: str, state: SavedState, *, jobs: Iterable[Job] = (),
                  best: Sequence[BestPoint] = (), new_records: Sequence[Mapping[str, str]] = (),
                  queue: str = "", replies: Sequence[tuple[str, Mapping[str, Any]]] = ()
                  ) -> SavedPass:
        """Save one pass of the loop in one transaction: the new jobs' task records (written
        ``queued`` on ``queue``, with their created -> queued events), the rows of ``jobs``,
        ``state``, the new best points and the ``(job id, reply)`` answers to the jobs'
        requests (:mod:`workers.messages`)."""
        pipe = self._writer.pipeline(transaction=True)
        if new_records:  # the newest event before this pass's own
            pipe.xrevrange(self.store.keys.events(opt_id), count=1)
        queued = self.store.create_queued(pipe, new_records, opt_id, queue)
        self._write_rows(pipe, opt_id, jobs)
        pipe.hset(self.keys.state(opt_id), mapping=state.to_fields())
        if best:
            pipe.rpush(self.keys.best(opt_id), *(codec.dumps(b.to_dict()) for b in best))
        for job_id, reply in replies:
            queue_reply(self.store, pipe, job_id, reply)
        results = pipe.execute()
        if not new_records:
            return SavedPass([], "")
        return SavedPass(queued.ids(results), results[0][0][0] if results[0] else "0-0")

    def save_rows(self, opt_id: str, jobs: Iterable[Job]) -> None:
        """Save the job-table rows of ``jobs``."""
        pipe = self._writer.pipeline(transaction=False)
        if self._write_rows(pipe, opt_id, jobs):
            pipe.execute()

    def save_state(self, opt_id: str, state: SavedState) -> None:
        self._writer.hset(self.keys.state(opt_id), mapping=state.to_fields())

    def _write_rows(self, pipe: Any, opt_id: str, jobs: Iterable[Job]) -> bool:
        rows = {job.id: codec.dumps(job.to_row()) for job in jobs}
        if rows:
            pipe.hset(self.keys.jobs(opt_id), mapping=rows)
        return bool(rows)

    # ------------------------------------------------------------------ reading
    def load(self, opt_id: str, memo: RowMemo | None = None) -> SavedOptimizer:
        """Everything saved of ``opt_id`` (empty for an optimizer that never ran), in one
        transaction.

        ``memo`` (job id -> (saved JSON, row)) is for a reader that loads the same optimizer
        again and again (the dashboard): only the rows whose JSON changed since its last load
        are parsed, and the memo is updated in place. Its rows are shared between loads: the
        caller must not change them.
        """
        pipe = self._redis.pipeline(transaction=True)
        pipe.hgetall(self.keys.state(opt_id))
        pipe.hgetall(self.keys.jobs(opt_id))
        pipe.lrange(self.keys.best(opt_id), 0, -1)
        pipe.exists(self.keys.lease(opt_id))
        state, rows, best, lease = pipe.execute()
        jobs = _parse_rows(rows, {} if memo is None else memo)
        return SavedOptimizer(SavedState.from_fields(state), sorted(jobs, key=lambda j: j.index),
                              [BestPoint.from_dict(json.loads(b)) for b in best], bool(lease))

    def job(self, opt_id: str, job_id: str) -> Job | None:
        """One row of ``opt_id``'s job table (None if the job is not in it)."""
        raw = self._redis.hget(self.keys.jobs(opt_id), job_id)
        return Job.from_row(job_id, json.loads(raw)) if raw else None

    def progress(self, opt_id: str, now: float | None = None) -> Progress:
        """A :class:`Progress` in one round trip (no job rows are read); TaskNotFoundError for
        an unknown id."""
        now = time.time() if now is None else now
        pipe = self._redis.pipeline(transaction=False)
        pipe.hget(self.store.keys.task(opt_id), "status")
        pipe.hgetall(self.keys.state(opt_id))
        pipe.lindex(self.keys.best(opt_id), -1)
        pipe.exists(self.keys.lease(opt_id))
        status, raw, best_raw, lease = pipe.execute()
        if status is None:
            raise TaskNotFoundError(opt_id)
        state = SavedState.from_fields(raw)
        live = bool(lease)
        resources = state.resources if live else None
        best = BestPoint.from_dict(json.loads(best_raw)) if best_raw else None
        counts = state.scheduler.counts
        return Progress(status=status, live=live, done=sum(counts.values()),
                        running=resources.running if resources else 0,
                        queued=resources.pending if resources else 0,
                        best=best.value if best else None,
                        best_job=best.job_index if best else None,
                        elapsed_seconds=state.elapsed_seconds(live, now), counts=counts,
                        last_failure=state.scheduler.last_failure)

    def list_optimizers(self, now: float | None = None) -> list[tuple[TaskRecord, Progress]]:
        """``(task record, progress)`` of every optimizer that has started, newest first."""
        ids = [self.keys.id_of_state(key)
               for key in self._redis.scan_iter(match=self.keys.every_state, count=1000)]
        out = []
        for opt_id, rec in zip(ids, self.store.records(ids)):
            if rec is not None and rec.configuration:
                with contextlib.suppress(TaskNotFoundError):  # deleted meanwhile
                    out.append((rec, self.progress(opt_id, now)))
        out.sort(key=lambda item: -item[0].created)
        return out

    # -------------------------------------------------------------------- lease
    def acquire_lease(self, opt_id: str, owner: str, ttl: float) -> bool:
        """Take the right to drive ``opt_id`` for ``ttl`` seconds, unless another owner holds it."""
        return self.store.acquire_lease(self.keys.lease(opt_id), owner, ttl)

    def renew_lease(self, opt_id: str, owner: str, ttl: float) -> bool:
        """Extend ``owner``'s lease; False if another controller holds it now."""
        return self.store.renew_lease(self.keys.lease(opt_id), owner, ttl)

    def release_lease(self, opt_id: str, owner: str) -> None:
        self.store.release_lease(self.keys.lease(opt_id), owner)

    def lease_holder(self, opt_id: str) -> str | None:
        """The owner of ``opt_id``'s lease, or None when free."""
        holder = self._redis.get(self.keys.lease(opt_id))
        return str(holder) if holder is not None else None

    # ---------------------------------------------------------------- retention
    def job_ids(self, opt_id: str) -> list[str]:
        """Every job id of ``opt_id``: its job table's and its children index's (a job whose
        row was not saved yet is in the index only)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.hkeys(self.keys.jobs(opt_id))
        pipe.zrange(self.store.keys.children(opt_id), 0, -1)
        rows, children = pipe.execute()
        return list(dict.fromkeys([*rows, *children]))

    def forget_jobs(self, opt_id: str) -> None:
        """The first step of :meth:`delete`: drop the job table and the best points, so that
        readers see an optimizer without jobs while its jobs' records are deleted."""
        self._redis.delete(self.keys.jobs(opt_id), self.keys.best(opt_id))

    def delete(self, opt_id: str) -> int:
        """The last step of deleting an optimizer: its record, its saved state and lease, its
        job table and best points, its event stream and children index, in one transaction
        (its jobs are deleted before, through :meth:`Store.delete_tasks`). Returns how many keys
        were removed (0 when it was already deleted)."""
        k = self.keys
        return self.store.delete_tasks(
            [opt_id], also=[k.state(opt_id), k.lease(opt_id), k.jobs(opt_id), k.best(opt_id)])

    def trim_events(self, opt_id: str) -> int:
        """Remove the events of ``opt_id``'s stream that its saved cursor has passed (a resume
        reads only after the cursor); returns how many were removed."""
        cursor = self._redis.hget(self.keys.state(opt_id), "cursor")
        return self.store.trim_events(opt_id, cursor) if cursor and cursor != "0-0" else 0

    def optuna_log_number(self) -> int | None:
        """The number of the newest entry of Optuna's journal in this database (the journal of
        :func:`~controller.strategies.optuna_search.redis_journal_storage`, prefix ``""``), or
        None when there is no journal."""
        raw = self._redis.get(_OPTUNA_LOG_NUMBER)
        return int(raw) if raw is not None else None

    def drop_optuna_journal(self, log_number: int) -> bool:
        """Delete Optuna's whole journal if its newest entry is still ``log_number`` (the
        caller saw that no study is left in it up to there); False if it changed meanwhile."""
        return bool(self._redis.eval(_DROP_JOURNAL, 0, log_number))


#: Optuna's ``JournalRedisBackend`` keys with the empty prefix: ``:log_number``, ``:log:N``,
#: ``:snapshot``.
_OPTUNA_LOG_NUMBER = ":log_number"
_DROP_JOURNAL = """
local n = redis.call('get', ':log_number')
if n == false or tonumber(n) ~= tonumber(ARGV[1]) then return 0 end
for i = 0, tonumber(n), 1000 do
  local batch = {}
  for j = i, math.min(i + 999, tonumber(n)) do batch[#batch + 1] = ':log:' .. j end
  redis.call('unlink', unpack(batch))
end
redis.call('unlink', ':log_number', ':snapshot')
return 1
"""
