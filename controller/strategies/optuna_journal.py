"""Optuna's journal on Redis in one round trip per storage operation.

Optuna's ``JournalRedisBackend`` costs 2 round trips per log line written (``SETNX`` of the
counter, then an ``EVAL``) and, at every read of the storage (``JournalStorage`` reads the journal
before each of its operations, so a write is followed by one), 1 + one ``GET`` per new line.
An ``ask()`` of four parameters made 28 round trips, a ``tell()`` 6 (``bench/tpe_ask.py``).
:class:`RedisJournalBackend` keeps the keys and the log format -- ``optuna-dashboard redis://...``
and Optuna's own backend read and write the same journal -- and makes each operation one
round trip:

* a read is one script returning the counter and the lines from the reader's position on (in
  chunks of :data:`READ_CHUNK`);
* an append is one script that writes the lines (creating the counter, atomically for the whole
  batch) and returns the lines from the reader's position on, which the read that
  ``JournalStorage`` makes right after its write gets without asking Redis again.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Generator
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalRedisBackend

#: Most lines one read returns (a long journal is read in several round trips).
READ_CHUNK = 5_000

# KEYS[1]: the counter (last log number, -1 when empty); ARGV[1]: the log key prefix;
# ARGV[2]: first log number to return (-1: none); ARGV[3]: most lines to return.
_READ = """
local last = tonumber(redis.call('get', KEYS[1]) or '-1')
local from = tonumber(ARGV[2])
local out = {last}
if from < 0 then return out end
local to = math.min(last, from + tonumber(ARGV[3]) - 1)
for n = from, to do out[#out + 1] = redis.call('get', ARGV[1] .. n) or false end
return out
"""
# ARGV[4..]: the lines to append, in order (then as _READ).
_APPEND = """
if redis.call('exists', KEYS[1]) == 0 then redis.call('set', KEYS[1], -1) end
for i = 4, #ARGV do
  local n = redis.call('incr', KEYS[1])
  redis.call('set', ARGV[1] .. n, ARGV[i])
end
""" + _READ


class RedisJournalBackend(JournalRedisBackend):
    """``JournalRedisBackend`` with one round trip per read and per append (module docstring).

    Same constructor, keys and log lines as Optuna's. With ``use_cluster=True`` it is Optuna's
    backend unchanged (a cluster does not run scripts over keys it is not given).
    """

    def __init__(self, url: str, use_cluster: bool = False, prefix: str = "") -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(url, use_cluster=use_cluster, prefix=prefix)
        self._scripts()

    def _scripts(self) -> None:
        self._read = self._redis.register_script(_READ)
        self._append = self._redis.register_script(_APPEND)
        self._counter = f"{self._prefix}:log_number"
        self._line_prefix = f"{self._prefix}:log:"
        # per thread: the next log number its reader expects, and the lines an append read
        self._local = threading.local()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        for name in ("_read", "_append", "_local"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._scripts()

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        """The log lines from ``log_number_from`` on, as they are now (or as the append this
        thread just made left them)."""
        if self._use_cluster:
            yield from super().read_logs(log_number_from)
            return
        local = self._local
        ahead = getattr(local, "ahead", None)
        local.ahead = None
        if ahead is not None and ahead[0] == log_number_from:
            last, lines = ahead[1], ahead[2]
        else:
            last, lines = self._fetch(self._read, log_number_from)
        position = log_number_from
        while True:
            for line in lines:
                if line is None:  # not written yet (a writer between two commands): next time
                    local.position = position
                    return
                position += 1
                local.position = position
                yield json.loads(line)
            if position > last:
                return
            last, lines = self._fetch(self._read, position)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append ``logs`` atomically; the lines up to them come back for the next read."""
        if self._use_cluster:
            super().append_logs(logs)
            return
        position = getattr(self._local, "position", None)
        start = -1 if position is None else position
        last, lines = self._fetch(self._append, start, *(json.dumps(log) for log in logs))
        self._local.ahead = (start, last, lines) if start >= 0 else None

    def _fetch(self, script: Any, start: int, *logs: str) -> tuple[int, list[bytes | None]]:
        reply = script(keys=[self._counter],
                       args=[self._line_prefix, start, READ_CHUNK, *logs])
        return int(reply[0]), list(reply[1:])


def redis_journal_storage(url: str, prefix: str = "") -> JournalStorage:
    """Optuna's journal storage on the Redis at ``url``, through :class:`RedisJournalBackend`.

    With the default empty ``prefix`` the study opens with ``optuna-dashboard <url>`` as it is
    (the dashboard builds Optuna's backend without a prefix on the same keys); a prefix keeps
    several journals apart in one database, but then the dashboard needs a storage built in
    Python.
    """
    return JournalStorage(RedisJournalBackend(url, prefix=prefix))
