"""Live updates: event streams followed with blocking reads, fanned out to browser connections.

One thread per followed stream (an optimizer's, or ``root`` for optimizers without a parent)
blocks in ``XREAD`` (:func:`controller.dashboard.data.read_events`) and wakes as soon as a job
reports or changes status -- there is no polling period. Each batch is handed to every
:class:`Subscription` of the stream on its event loop; a thread ends once its stream has no
subscription left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from workers.store import Event, Store

from . import data

log = logging.getLogger("hpqueue.dashboard")

#: Longest blocking read (ms): how long a thread may outlive its last subscription.
BLOCK_MS = 2000


@dataclass(frozen=True)
class Change:
    """What a batch of events touched: task ids, their new statuses, control commands."""

    parent: str | None
    tasks: frozenset[str]
    statuses: dict[str, str] = field(default_factory=dict)
    commands: tuple[str, ...] = ()

    @classmethod
    def of(cls, parent: str | None, events: list[Event]) -> Change:
        statuses = {e.task_id: e.fields.get("status", "") for e in events if e.kind == "status"}
        return cls(parent, frozenset(e.task_id for e in events if e.task_id), statuses,
                   tuple(e.fields.get("command", "") for e in events if e.kind == "control"))


class Subscription:
    """A browser connection's queue of :class:`Change` (None once the hub closes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.parents: set[str | None] = set()

    def deliver(self, change: Change | None) -> None:
        """Thread-safe: queue ``change`` on the subscription's loop."""
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, change)
        except RuntimeError:  # the loop has closed: the connection is gone
            pass


class _Follower(threading.Thread):
    def __init__(self, hub: Hub, parent: str | None, cursor: str) -> None:
        super().__init__(name=f"hpq-dashboard-{parent or 'root'}", daemon=True)
        self.hub = hub
        self.parent = parent
        self.cursor = cursor
        self.subscriptions: set[Subscription] = set()

    def run(self) -> None:
        while True:
            with self.hub.lock:
                if self.hub.closed or not self.subscriptions:
                    self.hub.followers.pop(self.parent, None)
                    return
            try:
                events = data.read_events(self.hub.store, self.parent, self.cursor,
                                          self.hub.block_ms)
            except Exception as exc:  # noqa: BLE001 - Redis away: retry, keep the pages
                log.warning("dashboard: reading events of %s failed: %s", self.parent, exc)
                time.sleep(1.0)
                continue
            if not events:
                continue
            self.cursor = events[-1].id
            change = Change.of(self.parent, events)
            with self.hub.lock:
                subscriptions = list(self.subscriptions)
            for sub in subscriptions:
                sub.deliver(change)


class Hub:
    """The followed streams of one dashboard server."""

    def __init__(self, store: Store, block_ms: int = BLOCK_MS) -> None:
        self.store = store
        self.block_ms = block_ms
        self.lock = threading.Lock()
        self.followers: dict[str | None, _Follower] = {}
        self.closed = False
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, sub: Subscription, parent: str | None) -> None:
        """Deliver the changes of ``parent``'s stream that happen from now on to ``sub``
        (blocking: reads the stream's newest id when nobody follows it yet)."""
        with self.lock:
            if self.closed:
                sub.deliver(None)
                return
            self._subscriptions.add(sub)
            sub.parents.add(parent)
            follower = self.followers.get(parent)
            if follower is None or not follower.is_alive():
                follower = _Follower(self, parent, data.latest_event_id(self.store, parent))
                self.followers[parent] = follower
                follower.subscriptions.add(sub)
                follower.start()
            else:
                follower.subscriptions.add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` (its followers end after their current read)."""
        with self.lock:
            self._subscriptions.discard(sub)
            for parent in sub.parents:
                follower = self.followers.get(parent)
                if follower is not None:
                    follower.subscriptions.discard(sub)

    def close(self, timeout: float = 5.0) -> None:
        """End every subscription (they receive None) and every follower thread."""
        with self.lock:
            self.closed = True
            subs = list(self._subscriptions)
            followers = list(self.followers.values())
        for sub in subs:
            sub.deliver(None)
        deadline = time.monotonic() + timeout
        for follower in followers:
            follower.join(max(0.0, deadline - time.monotonic()))

    def stats(self) -> dict[str, Any]:
        """Followed streams and their subscription counts (for tests and diagnostics)."""
        with self.lock:
            return {str(p or "root"): len(f.subscriptions) for p, f in self.followers.items()}
