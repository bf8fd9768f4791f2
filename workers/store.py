"""Atomic operations on task records, their scalars and their event streams.

Contract:

* A record is a Redis hash (:meth:`Keys.task`). Its fields are text; JSON fields are
  ``parameters``, ``tags``, ``command`` and ``configuration``. Numbers are seconds since the epoch.
  :meth:`Store.record` decodes it into a :class:`~workers.record.TaskRecord`; :meth:`Store.get`
  returns the raw hash.
* Outcomes are typed (:mod:`workers.outcomes`): a claim is a :class:`Claim` with a
  :class:`ClaimOutcome`, a stop request a :class:`StopOutcome`, a report a :class:`Reported`.
* Every status move is one compare-and-set (a Lua script) that states which statuses it accepts and
  returns whether it won; a move that lost wrote nothing.
* A running attempt is identified by a random token written when the worker claims the record.
  Reports, heartbeats and the final status of an attempt carry the token; once the attempt was
  declared dead or superseded, its writes are refused (nothing is written).
* Every status move and every scalar report is appended, in the same atomic step, to the event
  stream of the task's parent (:meth:`Keys.events`), which a controller reads with a cursor. A
  scalar event carries the series' last/min/max as the store computed them (:attr:`Event.stats`).
* The store is safe to share between threads (redis-py pools connections).

Errors: :class:`TaskNotFoundError` for an unknown id; :class:`RedisUnavailableError` (naming the
URL) when the server cannot be reached at connection time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.typing import EncodableT, FieldT

from . import codec, scripts
from .config import Settings
from .connection import check_server, client_name, open_client, outage_retry
from .errors import (
    InvalidScalarError,
    StatusConflictError,
    TaskNotFoundError,
)
from .keys import SEP, Keys
from .outcomes import (
    Claim,
    ClaimOutcome,
    Event,
    Reported,
    ReportStatus,
    StopOutcome,
)
from .record import TaskRecord
from .reporting import ReportCall, ReportPipe
from .status import TaskStatus

__all__ = [
    "Claim",
    "ClaimOutcome",
    "Event",
    "QueuedEvents",
    "ReportStatus",
    "Reported",
    "StopOutcome",
    "Store",
    "TaskRecord",
    "get_store",
    "parse_metrics",
    "set_store",
]


@dataclass(frozen=True)
class QueuedEvents:
    """Where the results of a pipeline hold the events that :meth:`Store.create_queued` queued."""

    positions: tuple[int, ...]

    def ids(self, results: Sequence[Any]) -> list[str]:
        """The events' stream ids, in record order, from ``pipe.execute()``'s results."""
        return [results[i] for i in self.positions]


class Store:
    """Records, scalars and events of one namespace on one Redis connection pool."""

    def __init__(self, client: redis.Redis, namespace: str = "hpq",
                 settings: Settings | None = None, url: str | None = None) -> None:
        self.redis = client
        #: The URL this store was opened on (None for an injected client).
        self.url = url
        self.settings = settings or Settings(redis_url=None, namespace=namespace)
        self.keys = Keys(namespace)
        #: The client's outage clock (None for a client not made by ``open_client``): how
        #: many outages ended, and when the last one did.
        self.outage = outage_retry(client)
        self._maxlen = str(self.settings.stream_maxlen)
        self._transition = client.register_script(scripts.TRANSITION)
        self._claim = client.register_script(scripts.CLAIM)
        self._declare_dead = client.register_script(scripts.DECLARE_DEAD)
        self._heartbeat = client.register_script(scripts.HEARTBEAT)
        self._report = client.register_script(scripts.REPORT)
        self._report_pipe: ReportPipe | None = None
        self._finish = client.register_script(scripts.FINISH)
        self._request_stop = client.register_script(scripts.REQUEST_STOP)
        self._renew = client.register_script(scripts.RENEW_LEASE)
        self._release = client.register_script(scripts.RELEASE_LEASE)

    @classmethod
    def connect(cls, url: str, settings: Settings | None = None) -> Store:
        """Open a store on ``url`` (any form :func:`workers.connection.open_client` takes).

        RedisUnavailableError (naming the URL, its password masked) if the server does not
        answer now or is older than Redis 6.2; afterwards the client rides out outages of up
        to ``HPQ_REDIS_OUTAGE_SECONDS`` (see :mod:`workers.connection`)."""
        settings = settings or Settings.from_env()
        probe = open_client(url, budget=None, sentinel_master=settings.sentinel_master)
        try:
            check_server(probe, url)  # fails fast (no retries): the URL may just be wrong
        finally:
            probe.close()
        client = open_client(url, budget=settings.outage_seconds,
                             sentinel_master=settings.sentinel_master,
                             client_name=client_name())
        store = cls(client, settings.namespace, settings, url)
        store.load_scripts()
        return store

    def unretried_client(self) -> redis.Redis:
        """A client of its own on the same server that never retries: its first command after
        Redis restarted (or failed over) fails, where the store's own client would carry on.
        For writers whose writes must not land on data that lost writes before they re-read it
        (the optimizer's state). A store on an injected client returns that client."""
        if self.url is None:
            return self.redis
        return open_client(self.url, budget=None, sentinel_master=self.settings.sentinel_master,
                           client_name=client_name())

    def load_scripts(self) -> None:
        """Load every script into the server's cache (one round trip), so that the first call
        of each is an EVALSHA that succeeds rather than a NOSCRIPT error and a retry (the
        local mode's fakeredis server drops a connection on any error reply)."""
        pipe = self.redis.pipeline(transaction=False)
        for script in (self._transition, self._claim, self._declare_dead, self._heartbeat,
                       self._report, self._finish, self._request_stop, self._renew,
                       self._release):
            pipe.script_load(script.script)
        pipe.execute()

    # ------------------------------------------------------------------ records
    def create(self, record: Mapping[str, str]) -> None:
        """Write a new record and its index entries in one transaction."""
        task_id = record["id"]
        created = float(record["created"])
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.task(task_id), mapping=_mapping(record))
        pipe.zadd(self.keys.tasks, {task_id: created})
        pipe.zadd(self.keys.project(record.get("project", "")), {task_id: created})
        if record.get("parent"):
            pipe.zadd(self.keys.children(record["parent"]), {task_id: created})
        pipe.execute()

    def create_queued(self, pipe: redis.client.Pipeline, records: Sequence[Mapping[str, str]],
                      parent: str, queue: str) -> QueuedEvents:
        """Queue on ``pipe`` (a MULTI pipeline the caller executes) the creation of new children
        of ``parent``, already ``queued`` on ``queue``: each record, its index entries and its
        created -> queued event. The ids of those events are in the pipeline's results, where
        the returned :class:`QueuedEvents` finds them."""
        positions = []
        indexes: dict[str, dict[str, float]] = {}  # one ZADD per index for the whole batch
        for record in records:
            task_id, created = record["id"], float(record["created"])
            pipe.hset(self.keys.task(task_id), mapping=_mapping({
                **record, "status": TaskStatus.QUEUED.value, "queue": queue,
                "last_update": record["created"]}))
            for index in (self.keys.tasks, self.keys.project(record.get("project", "")),
                          self.keys.children(parent)):
                indexes.setdefault(index, {})[task_id] = created
            positions.append(len(pipe))
            self.add_status_event(pipe, task_id, parent, TaskStatus.QUEUED.value,
                                  TaskStatus.CREATED.value)
        for index, members in indexes.items():
            pipe.zadd(index, members)
        return QueuedEvents(tuple(positions))

    def get(self, task_id: str) -> dict[str, str]:
        """The record's raw fields; TaskNotFoundError if there is none."""
        rec = cast(dict[str, str], self.redis.hgetall(self.keys.task(task_id)))
        if not rec:
            raise TaskNotFoundError(task_id)
        return rec

    def get_many(self, task_ids: Iterable[str]) -> list[dict[str, str] | None]:
        """Raw records of ``task_ids`` in one round trip (None where missing)."""
        pipe = self.redis.pipeline(transaction=False)
        ids = list(task_ids)
        for task_id in ids:
            pipe.hgetall(self.keys.task(task_id))
        return [rec or None for rec in pipe.execute()]

    def record(self, task_id: str) -> TaskRecord:
        """The decoded record; TaskNotFoundError if there is none."""
        return TaskRecord.from_raw(self.get(task_id))

    def records(self, task_ids: Iterable[str]) -> list[TaskRecord | None]:
        """Decoded records of ``task_ids`` in one round trip (None where missing)."""
        return [TaskRecord.from_raw(rec) if rec is not None else None
                for rec in self.get_many(task_ids)]

    def get_fields(self, task_id: str, *fields: str) -> list[str | None]:
        """Selected fields of a record (None where absent); TaskNotFoundError if none exists."""
        values = cast(list[str | None],
                      self.redis.hmget(self.keys.task(task_id), ["status", *fields]))
        if values[0] is None:
            raise TaskNotFoundError(task_id)
        return values[1:]

    def status(self, task_id: str) -> TaskStatus:
        """The current status; TaskNotFoundError if there is no such record."""
        status = cast(str | None, self.redis.hget(self.keys.task(task_id), "status"))
        if status is None:
            raise TaskNotFoundError(task_id)
        return TaskStatus(status)

    def set_fields(self, task_id: str, fields: Mapping[str, str], *,
                   allowed: Iterable[TaskStatus] | None = None) -> None:
        """Update plain fields; with ``allowed``, only while the status is one of them.

        Raises TaskNotFoundError, or StatusConflictError when the status does not allow it.
        """
        key = self.keys.task(task_id)
        allowed_values = {s.value for s in allowed} if allowed is not None else None

        def txn(pipe: redis.client.Pipeline) -> None:
            status = cast(str | None, pipe.hget(key, "status"))
            if status is None:
                raise TaskNotFoundError(task_id)
            if allowed_values is not None and status not in allowed_values:
                raise StatusConflictError(
                    f"task {task_id} is {status}; this change needs one of "
                    f"{sorted(allowed_values)}")
            pipe.multi()
            pipe.hset(key, mapping=_mapping(fields))

        self.redis.transaction(txn, key)

    def find(self, *, project: str | None = None, parent: str | None = None,
             status: Iterable[str] | str | None = None, tags: Iterable[str] | None = None,
             include_archived: bool = True) -> list[str]:
        """Ids of the tasks matching every given filter, oldest first."""
        index = (self.keys.children(parent) if parent is not None
                 else self.keys.project(project) if project is not None else self.keys.tasks)
        ids = cast(list[str], self.redis.zrange(index, 0, -1))
        if isinstance(status, str):
            status = [status]
        wanted_status = {str(s) for s in status} if status is not None else None
        wanted_tags = set(tags or ())
        if project is None and wanted_status is None and not wanted_tags and include_archived:
            return ids
        return [task_id for task_id, rec in zip(ids, self.records(ids))
                if rec is not None
                and (project is None or rec.project == project)
                and (wanted_status is None or rec.status.value in wanted_status)
                and wanted_tags.issubset(rec.tags)
                and (include_archived or not rec.archived)]

    # ------------------------------------------------------------- status moves
    def transition(self, task_id: str, parent: str | None, allowed: Iterable[TaskStatus],
                   to: TaskStatus, *, reason: str = "", fields: Mapping[str, str] | None = None,
                   now: float | None = None) -> tuple[bool, str]:
        """Move to ``to`` if the status is one of ``allowed``; returns (won, previous status).

        The previous status is '' when the record does not exist.
        """
        args: list[Any] = [task_id, ",".join(s.value for s in allowed), to.value,
                           _now(now), reason, self._maxlen]
        for k, v in (fields or {}).items():
            args += [k, v]
        won, prev = self._transition(
            keys=[self.keys.task(task_id), self.keys.events(parent), self.keys.heartbeats],
            args=args)
        return bool(won), prev

    def claim(self, task_id: str, parent: str | None, token: str, worker: str,
               now: float | None = None) -> Claim:
        """A worker's claim of a queued record (queued -> in_progress with ``token``).

        ``parent`` must be the record's parent (its events go to that stream); a mismatch
        writes nothing and returns outcome ``parent`` with the actual parent in ``parent``.
        A retry (attempt 2 or later) starts a clean history: the scalars of the attempt before
        it are set apart (:meth:`history` with ``attempt=``) and never count.
        """
        res = self._claim(
            keys=[self.keys.task(task_id), self.keys.events(parent), self.keys.heartbeats,
                  self.keys.metrics(task_id), self.keys.history(task_id)],
            args=[task_id, token, _now(now), worker, self.settings.max_attempts, self._maxlen,
                  parent or ""])
        outcome = ClaimOutcome(res[0])
        if outcome is ClaimOutcome.CLAIMED:
            flat = res[2:]
            return Claim(outcome, attempts=int(res[1]), record=TaskRecord.from_raw(
                dict(zip(flat[::2], flat[1::2], strict=True))))
        if outcome is ClaimOutcome.BUSY:
            return Claim(outcome, attempt=res[1], heartbeat=float(res[2]), worker=res[3])
        if outcome is ClaimOutcome.DONE:
            return Claim(outcome, status=TaskStatus(res[1]))
        if outcome is ClaimOutcome.PARENT:
            return Claim(outcome, parent=res[1] or None)
        return Claim(outcome)

    def declare_dead(self, task_id: str, parent: str | None, token: str, *, reason: str,
                     stale_before: float, now: float | None = None) -> TaskStatus | None:
        """End attempt ``token`` if its last heartbeat is older than ``stale_before``.

        Returns the record's new status: ``queued`` (it will be retried), ``failed`` (out of
        attempts), ``stopped`` (a stop was pending), or None when the attempt is not dead or no
        longer the current one (nothing written).
        """
        new = self._declare_dead(
            keys=[self.keys.task(task_id), self.keys.events(parent), self.keys.heartbeats],
            args=[task_id, token, _now(now), stale_before, self.settings.max_attempts,
                  self._maxlen, reason])
        return TaskStatus(new) if new else None

    def heartbeat(self, task_id: str, token: str, now: float | None = None) -> tuple[bool, str]:
        """Refresh attempt ``token``'s heartbeat; returns (still owner, stop reason or '')."""
        alive, stop = self._heartbeat(keys=[self.keys.task(task_id), self.keys.heartbeats],
                                      args=[task_id, token, _now(now)])
        return bool(alive), stop

    def stale_attempts(self, older_than: float) -> list[tuple[str, float]]:
        """(task id, last heartbeat) of running attempts whose heartbeat is older than a time."""
        return cast(list[tuple[str, float]],
                    self.redis.zrangebyscore(self.keys.heartbeats, "-inf", f"({older_than}",
                                             withscores=True))

    def finish(self, task_id: str, parent: str | None, token: str, status: TaskStatus, *,
               reason: str = "", fields: Mapping[str, str] | None = None,
               now: float | None = None) -> bool:
        """End attempt ``token`` with a final status; False (nothing written) if it lost."""
        args: list[Any] = [task_id, token, status.value, _now(now), reason, self._maxlen]
        for k, v in (fields or {}).items():
            args += [k, v]
        return bool(self._finish(
            keys=[self.keys.task(task_id), self.keys.events(parent), self.keys.heartbeats],
            args=args))

    def request_stop(self, task_id: str, parent: str | None, reason: str,
                     now: float | None = None) -> StopOutcome:
        """Ask a task to stop (see :class:`StopOutcome` for what happens)."""
        outcome, _ = self._request_stop(
            keys=[self.keys.task(task_id), self.keys.events(parent), self.keys.heartbeats],
            args=[task_id, _now(now), reason or "stop requested", self._maxlen])
        return StopOutcome(outcome)

    # ------------------------------------------------------------------ scalars
    def report(self, task_id: str, parent: str | None, token: str, title: str, series: str,
               iteration: int, value: float, *, overwrite: bool = False) -> Reported:
        """Record one scalar point of attempt ``token`` ('' for a report from outside a trial).

        Updates the series' last/min/max and history and appends the scalar event, atomically;
        a point already stored for (title, series, iteration) is ignored unless ``overwrite``.
        ``value`` must already be a float (NaN and inf are stored as such); InvalidScalarError
        for a bad title, series or iteration.
        """
        return self.write_report(self.prepare_report(task_id, parent, token, title, series,
                                                     iteration, value, overwrite=overwrite))

    def prepare_report(self, task_id: str, parent: str | None, token: str, title: str,
                       series: str, iteration: int, value: float, *, overwrite: bool = False
                       ) -> ReportCall:
        """:meth:`report`, checked now and run later: by :meth:`write_report`, or sent on the
        process's report pipe (a trial's write-behind reports, :mod:`workers.reporting`).
        InvalidScalarError as :meth:`report`."""
        _check_name(title, "title")
        _check_name(series, "series")
        iteration = _check_iteration(iteration)
        return ReportCall(
            [self.keys.task(task_id), self.keys.metrics(task_id), self.keys.history(task_id),
             self.keys.events(parent)],
            [task_id, token, title, series, iteration, codec.encode_number(value),
             "1" if math.isnan(value) else "0", self._maxlen, "1" if overwrite else "0"])

    def write_report(self, call: ReportCall) -> Reported:
        """Run a prepared report now."""
        status, stop = self._report(keys=call.keys, args=call.args)
        return Reported(ReportStatus(status), stop)

    @property
    def report_sha(self) -> str:
        """The SHA1 of the report script (loaded by :meth:`load_scripts`)."""
        return str(self._report.sha)

    def report_pipe(self) -> ReportPipe:
        """This process's report connection to this store (:mod:`workers.reporting`)."""
        pipe = self._report_pipe
        if pipe is None or pipe.pid != os.getpid():
            pipe = self._report_pipe = ReportPipe(self)
        return pipe

    def metrics(self, task_id: str) -> dict[str, dict[str, dict[str, float | int]]]:
        """``{title: {series: {"last", "min", "max", "iteration"}}}`` of one task."""
        return parse_metrics(cast(dict[str, str],
                                  self.redis.hgetall(self.keys.metrics(task_id))))

    def metrics_many(self, task_ids: Iterable[str]
                     ) -> list[dict[str, dict[str, dict[str, float | int]]]]:
        """:meth:`metrics` of several tasks in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.metrics(task_id))
        return [parse_metrics(raw) for raw in pipe.execute()]

    def metric(self, task_id: str, title: str, series: str) -> dict[str, float | int] | None:
        """Stats of one series (``last``, ``min``, ``max``, ``iteration``) or None."""
        base = f"{title}{SEP}{series}{SEP}"
        last, mn, mx, it = cast(list[str | None], self.redis.hmget(
            self.keys.metrics(task_id), [base + "last", base + "min", base + "max", base + "iter"]))
        if last is None or mn is None or mx is None or it is None:
            return None
        return {"last": float(last), "min": float(mn), "max": float(mx), "iteration": int(it)}

    def history(self, task_id: str, attempt: int | None = None
                ) -> dict[str, dict[str, dict[str, list]]]:
        """Every reported point: ``{title: {series: {"x": [iterations], "y": [values]}}}``, of
        the current attempt, or of an earlier ``attempt`` that died (kept for debugging)."""
        points: dict[tuple[str, str], list[tuple[int, float]]] = {}
        key = (self.keys.history(task_id) if attempt is None
               else self.keys.attempt_history(task_id, attempt))
        raw = cast(dict[str, str], self.redis.hgetall(key))
        for field, value in raw.items():
            title, series, it = field.split(SEP)
            points.setdefault((title, series), []).append((int(it), float(value)))
        out: dict[str, dict[str, dict[str, list]]] = {}
        for (title, series), pts in points.items():
            pts.sort()
            out.setdefault(title, {})[series] = {"x": [p[0] for p in pts], "y": [p[1] for p in pts]}
        return out

    # -------------------------------------------------------- artifacts/checkpoints
    def set_artifact(self, task_id: str, name: str, description: Mapping[str, Any]) -> None:
        self.redis.hset(self.keys.artifacts(task_id), name, codec.dumps(description))

    def artifacts(self, task_id: str) -> dict[str, dict[str, Any]]:
        raw = cast(dict[str, str], self.redis.hgetall(self.keys.artifacts(task_id)))
        return {name: codec.loads(value) for name, value in raw.items()}

    def push_checkpoint(self, task_id: str, description: Mapping[str, Any]) -> None:
        self.redis.rpush(self.keys.checkpoints(task_id), codec.dumps(description))

    def checkpoints(self, task_id: str) -> list[dict[str, Any]]:
        return [codec.loads(v) for v in self.redis.lrange(self.keys.checkpoints(task_id), 0, -1)]

    # ------------------------------------------------------------------- events
    def read_events(self, parent: str | None, cursor: str = "0-0", *, block_ms: int | None = None,
                    count: int = 1000) -> list[Event]:
        """Events of ``parent``'s children after ``cursor`` (a stream id), oldest first.

        With ``block_ms`` the call waits up to that long for the first new event.
        """
        stream = self.keys.events(parent)
        reply: Any = self.redis.xread({stream: cursor}, count=count, block=block_ms)
        if not reply:
            return []
        # RESP2 answers [[stream, entries]], RESP3 {stream: [entries]}
        entries: list[tuple[str, dict[str, str]]] = (
            reply[0][1] if isinstance(reply, list) else reply[stream][0])
        return [Event(eid, f.get("task", ""), f.get("kind", ""), f) for eid, f in entries]

    def add_status_event(self, pipe: redis.client.Pipeline, task_id: str, parent: str | None,
                         status: str, prev: str, reason: str = "") -> None:
        """Queue on ``pipe`` the event of a status move that the caller writes inside its own
        transaction (the same fields as the scripts' status events)."""
        pipe.xadd(self.keys.events(parent), {"task": task_id, "kind": "status", "status": status,
                                             "prev": prev, "reason": reason},
                  maxlen=self.settings.stream_maxlen, approximate=True)

    def post_control(self, parent: str, command: str) -> None:
        """Append a control event (e.g. ``stop``) that wakes whoever reads ``parent``'s stream."""
        self.redis.xadd(self.keys.events(parent), {"task": "", "kind": "control",
                                                   "command": command},
                        maxlen=self.settings.stream_maxlen, approximate=True)

    def last_event_id(self, parent: str | None) -> str:
        """Id of the newest event of ``parent``'s stream ('0-0' if it is empty): the cursor
        after which a follower sees only what happens from now on."""
        newest = self.redis.xrevrange(self.keys.events(parent), count=1)
        return str(newest[0][0]) if newest else "0-0"

    # -------------------------------------------------------------------- leases
    def acquire_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Take ``key`` for ``owner`` for ``ttl`` seconds if nobody holds it (or owner does)."""
        if self.redis.set(key, owner, nx=True, px=int(ttl * 1000)):
            return True
        return self.renew_lease(key, owner, ttl)

    def renew_lease(self, key: str, owner: str, ttl: float) -> bool:
        """Extend ``owner``'s lease; False if someone else holds it (or it expired and was taken)."""
        return bool(self._renew(keys=[key], args=[owner, int(ttl * 1000)]))

    def release_lease(self, key: str, owner: str) -> None:
        self._release(keys=[key], args=[owner])

    # ----------------------------------------------------------------- retention
    def delete_tasks(self, task_ids: Sequence[str], *, also: Sequence[str] = ()) -> int:
        """Delete tasks for good, in one transaction: every per-task key
        (:meth:`Keys.task_keys`), the stream of their children's events and their children
        index, their entries in the task, project, parent and heartbeat indexes, and the keys
        ``also`` names (the caller's own keys that must go in the same step). Unknown ids are
        skipped, so deleting again is harmless. Returns how many keys were removed.

        A task's children are not deleted with it: delete them first."""
        ids = list(task_ids)
        records = self.get_many(ids)
        pipe = self.redis.pipeline(transaction=True)
        keys = list(also)
        for task_id, rec in zip(ids, records):
            keys += [*self.keys.task_keys(task_id), self.keys.events(task_id),
                     self.keys.children(task_id)]
            pipe.zrem(self.keys.tasks, task_id)
            pipe.zrem(self.keys.heartbeats, task_id)
            if rec is not None:
                pipe.zrem(self.keys.project(rec.get("project", "")), task_id)
                if rec.get("parent"):
                    pipe.zrem(self.keys.children(rec["parent"]), task_id)
        if keys:
            pipe.delete(*keys)
        removed = int(pipe.execute()[-1]) if keys else 0
        outside = {rec.get("parent", "") for rec in records if rec is not None} - set(ids)
        for parent in outside:  # the deleted tasks' own events in a stream that stays
            removed += self._drop_events_of(parent or None, set(ids))
        return removed

    def _drop_events_of(self, parent: str | None, task_ids: set[str]) -> int:
        """Delete the events of ``task_ids`` from ``parent``'s stream (read in pages), and the
        stream itself if that empties it; returns 1 if the stream went, else 0."""
        stream, start = self.keys.events(parent), "-"
        while True:
            page = cast(list[tuple[str, dict[str, str]]],
                        self.redis.xrange(stream, min=start, count=1000))
            mine = [eid for eid, fields in page if fields.get("task") in task_ids]
            if mine:
                self.redis.xdel(stream, *mine)
            if len(page) < 1000:
                break
            ms, _, seq = page[-1][0].partition("-")
            start = f"{ms}-{int(seq) + 1}"
        return int(self.redis.eval(_DROP_EMPTY_STREAM, 1, stream))

    def trim_events(self, parent: str, through: str) -> int:
        """Remove the events of ``parent``'s stream up to and including id ``through`` (a
        reader's cursor: what comes after it stays); returns how many were removed."""
        ms, _, seq = through.partition("-")
        return int(self.redis.xtrim(self.keys.events(parent), minid=f"{ms}-{int(seq or 0) + 1}"))


_DROP_EMPTY_STREAM = """
if redis.call('exists', KEYS[1]) == 1 and redis.call('xlen', KEYS[1]) == 0 then
  return redis.call('del', KEYS[1])
end
return 0
"""


def parse_metrics(raw: Mapping[str, str]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Decode a metrics hash into ``{title: {series: {"last","min","max","iteration"}}}``."""
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    for field, value in raw.items():
        title, series, stat = field.split(SEP)
        entry = out.setdefault(title, {}).setdefault(series, {})
        if stat == "iter":
            entry["iteration"] = int(value)
        else:
            entry[stat] = float(value)
    return out


def _check_iteration(iteration: Any) -> int:
    """``iteration`` as an int (integral floats and numpy integers accepted); InvalidScalarError
    otherwise."""
    if isinstance(iteration, int) and not isinstance(iteration, bool):
        return iteration
    try:
        number = codec.to_float(iteration, "iteration")
    except InvalidScalarError:
        raise InvalidScalarError(f"iteration must be an integer, got {iteration!r}") from None
    if not number.is_integer():
        raise InvalidScalarError(f"iteration must be an integer, got {iteration!r}")
    return int(number)


def _mapping(fields: Mapping[str, str]) -> Mapping[FieldT, EncodableT]:
    """``fields`` typed as redis-py's ``hset`` wants them."""
    return cast(Mapping[FieldT, EncodableT], fields)


def _check_name(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidScalarError(f"{what} must be a non-empty string, got {value!r}")
    if SEP in value:
        raise InvalidScalarError(f"{what} {value!r} may not contain the \\x1f character")


def _now(now: float | None) -> float:
    return time.time() if now is None else now


# ------------------------------------------------------------- the default store
_default: Store | None = None
_default_lock = threading.Lock()


def get_store() -> Store:
    """The process's store: ``HPQ_REDIS_URL``, or the local mode's embedded server if unset."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                settings = Settings.from_env()
                url = settings.redis_url
                if url is None:
                    from .local import ensure_local_server

                    url = ensure_local_server(settings)
                _default = Store.connect(url, settings)
    return _default


def set_store(store: Store | None) -> None:
    """Replace the process's default store (tests, or an application that manages its own)."""
    global _default
    with _default_lock:
        _default = store
