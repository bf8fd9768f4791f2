"""Requests from a running trial to the optimizer that launched it, and the optimizer's replies.

A trial talks to its optimizer through Redis, with no polling period:

* a request is appended to the event stream of the trial's parent (``kind=message``, the JSON
  ``body``) -- the stream the optimizer's loop already reads with a blocking ``XREAD``, so the
  loop sees it within a millisecond, in order with the trial's reports;
* a request that wants an answer carries a fresh ``id``, and the trial blocks on its own reply
  list (``BLPOP`` on :meth:`Keys.replies <workers.keys.Keys.replies>`); the loop pushes the reply
  ``{"id", "ok", "result" | "error"}`` there.

The loop pushes a reply in the same transaction as the optimizer state (and read cursor) that the
decision changed. A controller killed at any point has therefore either never decided (the
resumed controller reads the request again from its saved cursor and answers it) or the reply is
in the list: the trial keeps waiting through a controller restart and no decision is lost or
made twice. A reply left behind by a request the trial gave up on is skipped by its ``id``.

While it waits, the trial wakes every ``wait_slice`` seconds only to see whether it was asked to
stop (a blocked Redis read cannot be interrupted); the reply itself wakes it at once.

Requests are not authenticated beyond Redis access: a trial can talk to its own parent only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import TrialRequestError, TrialStopped

if TYPE_CHECKING:
    from .store import Store
    from .task import Task

MESSAGE_KIND = "message"
#: seconds an unread reply is kept (its trial gave up waiting, or died)
REPLY_TTL = 24 * 3600


def queue_reply(store: Store, pipe: Any, task_id: str, reply: Mapping[str, Any]) -> None:
    """Queue on ``pipe`` (the controller's transaction) the reply to a request of ``task_id``:
    ``{"id": request id, "ok": True, "result": ...}`` or ``{"id", "ok": False, "error"}``."""
    key = store.keys.replies(task_id)
    pipe.rpush(key, json.dumps(dict(reply), allow_nan=True))
    pipe.expire(key, REPLY_TTL)


class TrialChannel:
    """The request/reply channel of one running trial (``task``) to its parent optimizer.

    Args:
        task: the running trial (it must have a parent: the optimizer that launched it).
        wait_slice: seconds between the stop-flag checks while waiting for a reply.

    Raises:
        ValueError: ``task`` has no parent to talk to.
    """

    def __init__(self, task: Task, *, wait_slice: float = 1.0) -> None:
        if task.parent is None:
            raise ValueError(f"task {task.id} was not launched by an optimizer (it has no "
                             "parent): there is nobody to answer its requests")
        self.task = task
        self.store = task._store
        self.wait_slice = wait_slice

    def post(self, kind: str, data: Mapping[str, Any]) -> None:
        """Send a request that wants no answer (it is handled in order with later ones)."""
        self._send({"type": kind, "data": dict(data)})

    def request(self, kind: str, data: Mapping[str, Any], timeout: float | None = None) -> Any:
        """Send a request and block until its answer; returns the answer's ``result``.

        Raises:
            TrialRequestError: the optimizer refused the request (its message says why).
            TimeoutError: no answer within ``timeout`` seconds (None: wait as long as it takes,
                e.g. through a controller restart).
            TrialStopped: the trial was asked to stop while it waited.
        """
        request_id = uuid.uuid4().hex
        self._send({"type": kind, "data": dict(data), "id": request_id})
        key = self.store.keys.replies(self.task.id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = self.wait_slice if deadline is None else min(
                self.wait_slice, max(deadline - time.monotonic(), 0.0))
            # BLPOP's timeout is whole seconds in old servers: at least 1 ms, as a float
            popped = self.store.redis.blpop([key], timeout=max(wait, 0.001))
            if popped is not None:
                reply = json.loads(popped[1])
                if reply.get("id") != request_id:
                    continue  # the answer to an earlier request that gave up waiting
                if not reply.get("ok"):
                    raise TrialRequestError(f"{kind}: {reply.get('error', 'refused')}")
                return reply.get("result")
            if self.task.should_stop():
                raise TrialStopped(f"task {self.task.id}: stop requested while waiting for "
                                   f"the answer to {kind}")
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{kind}: no answer from optimizer {self.task.parent} "
                                   f"within {timeout:g}s")

    def _send(self, body: Mapping[str, Any]) -> None:
        self.task.flush()  # a request follows the reports made before it
        store = self.store
        store.redis.xadd(store.keys.events(self.task.parent),
                         {"task": self.task.id, "kind": MESSAGE_KIND,
                          "body": json.dumps(body, allow_nan=True)},
                         maxlen=store.settings.stream_maxlen, approximate=True)
