"""Redis connections: URLs, the outage retry, masked URLs and the server version check.

Every Redis client hpqueue opens for its store is built by :func:`open_client`:

* URLs: ``redis://``, ``rediss://`` (TLS; certificate options as query parameters, e.g.
  ``rediss://:PASS@host:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem``, plus
  ``ssl_certfile``/``ssl_keyfile`` for a client certificate), ``unix://``, and Sentinel in
  Celery's form, ``sentinel://:PASS@host1:26379;sentinel://host2:26379/0`` with the master's name
  in ``HPQ_SENTINEL_MASTER`` (default ``mymaster``); the password is the master's.
* Outages: a client retries connection errors and timeouts with exponential backoff (capped at
  one second) for as long as the outage lasts, up to ``HPQ_REDIS_OUTAGE_SECONDS`` (one clock
  per client, shared by its connections: an outage is the time since the first failure with no
  success since). Callers see an error only past that budget. :class:`OutageRetry` counts the
  outages that ended, which is how the optimizer's loop knows to re-read its saved state.
* Connections are health-checked (a PING on a connection idle for 10 s), use TCP keepalive and a
  socket timeout, so that a dead peer (a network partition) is noticed.
* :func:`mask_url` hides passwords the way Celery does (``redis://:**@host:6379/0``): every
  message, log line and CLI output that names a URL goes through it.
* :func:`check_server` refuses a server older than Redis 6.2 (Celery's Redis transport needs it),
  naming the version found and the minimum.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from .config import DEFAULT_SENTINEL_MASTER
from .errors import RedisUnavailableError

T = TypeVar("T")
log = logging.getLogger("hpqueue")

#: Oldest Redis server hpqueue accepts (kombu's Redis transport uses commands of 6.2).
MIN_REDIS_VERSION = (6, 2)
#: Seconds a connection may stay idle before it is checked with a PING.
HEALTH_CHECK_SECONDS = 10
#: Seconds a reply may take (every blocking read hpqueue makes waits much less).
SOCKET_TIMEOUT = 10.0
#: Seconds a connection attempt may take.
CONNECT_TIMEOUT = 5.0
#: Longest pause between two attempts during an outage.
BACKOFF_CAP = 1.0
#: The errors that mean "Redis cannot be reached now" (a restart, a failover, a partition).
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError, redis.TimeoutError, socket.timeout, ConnectionError)

#: What a first contact with a server may raise (a wrong URL, a server that refuses us).
_PROBE_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, OSError, redis.ResponseError)

_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:@/;?]*:)[^@/;?]*@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&;]*", re.IGNORECASE)
_TLS_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


def mask_url(url: str | None) -> str:
    """``url`` with every password replaced by ``**`` (``redis://:**@host:6379/0``), as Celery
    shows broker URLs; each part of a Sentinel URL list is masked; None gives ''."""
    if not url:
        return ""
    return _QUERY_PASSWORD.sub(r"\g<head>**", _PASSWORD.sub(r"\g<head>**@", url))


def mask_text(text: str, url: str | None) -> str:
    """``text`` with the password of ``url`` (if any) masked wherever it appears."""
    for part in (url or "").split(";"):
        password = urlsplit(part).password if "://" in part else None
        if password:
            text = text.replace(password, "**").replace(unquote(password), "**")
    return _PASSWORD.sub(r"\g<head>**@", text)


class OutageRetry(Retry):
    """redis-py's retry, bounded by the length of the outage rather than a number of attempts.

    One instance is shared by every connection of a client (redis-py copies a retry object into
    each connection: copies return this same object). An outage starts at the first failure
    after a success and ends at the next success; an operation that fails once the outage is
    older than ``budget`` seconds raises its error.
    """

    def __init__(self, budget: float, *, cap: float = BACKOFF_CAP, base: float = 0.05,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ExponentialBackoff(cap=cap, base=base), retries=-1,
                         supported_errors=CONNECTION_ERRORS)  # type: ignore[arg-type]
        self.budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        #: Outages that ended (a connection lost and made again counts as one).
        self.outages = 0
        #: Wall-clock time (``time.time()``) at which the last outage ended (0: never).
        self.recovered_at = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> OutageRetry:
        return self

    def __copy__(self) -> OutageRetry:
        return self

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    @property
    def in_outage(self) -> bool:
        """True between a failure and the next success."""
        return self._since is not None

    def failed(self) -> float:
        """Note a failure; returns the seconds left in the budget (<= 0: give up)."""
        now = self._clock()
        with self._lock:
            if self._since is None:
                self._since = now
            return self._since + self.budget - now

    def succeeded(self) -> None:
        """Note a success (ends the outage, if one was going on)."""
        if self._since is None:
            return
        with self._lock:
            if self._since is not None:
                self._since = None
                self.outages += 1
                self.recovered_at = time.time()

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any],
                        is_retryable: Callable[[Exception], bool] | None = None,
                        with_failure_count: bool = False) -> T:
        failures = 0
        while True:
            try:
                result = do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                failures += 1
                if with_failure_count:
                    fail(error, failures)
                else:
                    fail(error)
                left = self.failed()
                if left <= 0:
                    raise
                time.sleep(min(self._backoff.compute(failures), left))
            else:
                self.succeeded()
                return result


@dataclass(frozen=True)
class SentinelURL:
    """A Sentinel URL list in Celery's form, parsed."""

    sentinels: list[tuple[str, int]]
    password: str | None
    username: str | None
    db: int


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse ``sentinel://[:PASS@]host:port[;sentinel://host:port...][/db]``; ValueError naming
    the part that is malformed."""
    sentinels, password, username, db = [], None, None, 0
    for part in filter(None, (p.strip() for p in url.split(";"))):
        parsed = urlsplit(part)
        if parsed.scheme != "sentinel" or not parsed.hostname:
            raise ValueError(f"{mask_url(part)!r} in {mask_url(url)!r} is not "
                             "sentinel://host:port")
        try:
            port = parsed.port or 26379
        except ValueError:
            raise ValueError(f"bad port in {mask_url(part)!r}") from None
        sentinels.append((parsed.hostname, port))
        password = password or (unquote(parsed.password) if parsed.password else None)
        username = username or (unquote(parsed.username) if parsed.username else None)
        if parsed.path.strip("/"):
            try:
                db = int(parsed.path.strip("/"))
            except ValueError:
                raise ValueError(f"bad database number in {mask_url(part)!r}") from None
    if not sentinels:
        raise ValueError(f"no sentinel in {mask_url(url)!r}")
    return SentinelURL(sentinels, password, username, db)


class _SentinelConnection(SentinelManagedConnection):  # type: ignore[misc]
    """A connection to a Sentinel-managed primary that asks the Sentinels where it is at every
    connection attempt. redis-py 8 reconnects a dropped connection (``send_packed_command``)
    through ``connect_check_health``, which retries the address the connection had -- after a
    failover, the dead primary's, for the whole outage budget -- rather than through
    ``connect``, which asks the Sentinels. No primary known yet (mid-failover) raises
    MasterNotFoundError, a ConnectionError: retried like any other."""

    def _connect(self) -> socket.socket:
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super()._connect()  # type: ignore[no-any-return]


def is_sentinel(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith("sentinel://")


def client_options(retry: Retry | None) -> dict[str, Any]:
    """The connection options of every store client (health checks, timeouts, keepalive)."""
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_keepalive": True, "health_check_interval": HEALTH_CHECK_SECONDS}
    if retry is not None:
        options["retry"] = retry
    return options


def open_client(url: str, *, budget: float | None, sentinel_master: str = DEFAULT_SENTINEL_MASTER,
                decode_responses: bool = True, client_name: str | None = None) -> redis.Redis:
    """A client for ``url`` (see the module's docstring for the forms); with ``budget``, it
    retries connection errors for up to that many seconds of outage (:class:`OutageRetry`),
    without, it fails at the first one. ``client_name`` names its connections in Redis's
    ``CLIENT LIST``. Raises ValueError for a malformed URL."""
    retry = OutageRetry(budget) if budget is not None else None
    options = client_options(retry)
    if client_name:
        options["client_name"] = client_name
    if is_sentinel(url):
        parsed = parse_sentinel_url(url)
        sentinel = Sentinel(parsed.sentinels, socket_timeout=CONNECT_TIMEOUT,
                            socket_connect_timeout=CONNECT_TIMEOUT)
        client = sentinel.master_for(sentinel_master, db=parsed.db, password=parsed.password,
                                     username=parsed.username, connection_class=_SentinelConnection,
                                     decode_responses=decode_responses, **options)
        return client
    if not url.lower().startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"{mask_url(url)!r} is not a redis://, rediss://, unix:// or "
                         "sentinel:// URL")
    return redis.Redis.from_url(url, decode_responses=decode_responses, **options)


def client_name() -> str:
    """``hpq-HOST-PID``: the name of this process's store connections in ``CLIENT LIST``."""
    return f"hpq-{re.sub(r'[^A-Za-z0-9_.-]', '_', socket.gethostname())}-{os.getpid()}"


def outage_retry(client: redis.Redis) -> OutageRetry | None:
    """The :class:`OutageRetry` of a client made by :func:`open_client` (None otherwise)."""
    retry = client.get_connection_kwargs().get("retry")
    return retry if isinstance(retry, OutageRetry) else None


def check_server(client: redis.Redis, url: str) -> str:
    """Ask the server its version (one round trip, no retries); returns it.

    Raises RedisUnavailableError (URL masked) if it does not answer, or if it is older than
    :data:`MIN_REDIS_VERSION`.
    """
    try:
        try:
            info = client.info("server")
        except redis.ResponseError:  # a server without INFO (fakeredis): it answers, at least
            client.ping()
            return "unknown"
    except (*_PROBE_ERRORS,) as exc:
        raise RedisUnavailableError(url, exc) from None
    version = str(info.get("redis_version", "0"))
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2]) or (0,)
    if numbers < MIN_REDIS_VERSION:
        minimum = ".".join(map(str, MIN_REDIS_VERSION))
        raise RedisUnavailableError(
            url, f"its version is {version}; hpqueue needs Redis {minimum} or newer "
                 "(Celery's Redis transport uses commands of 6.2)")
    return version


def broker_settings(url: str, *, sentinel_master: str = DEFAULT_SENTINEL_MASTER
                    ) -> dict[str, Any]:
    """Celery settings for a broker at ``url``: ``broker_url`` and, for ``rediss://``, the TLS
    options of its query (``broker_use_ssl``); for Sentinel, the master's name and the
    password as transport options. The returned ``broker_transport_options`` are to be merged
    into the app's own."""
    settings: dict[str, Any] = {"broker_url": url, "broker_transport_options": {}}
    if is_sentinel(url):
        parse_sentinel_url(url)  # a malformed URL fails here, with a clear message
        # (kombu takes the master's password from the first URL of the list)
        settings["broker_transport_options"] = {"master_name": sentinel_master}
        return settings
    parts = urlsplit(url)
    if parts.scheme.lower() == "rediss":
        query = dict(parse_qsl(parts.query))
        tls: dict[str, Any] = {k: query[k] for k in _TLS_OPTIONS if k in query}
        reqs = tls.get("ssl_cert_reqs", "required")
        tls["ssl_cert_reqs"] = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL,
                                "required": ssl.CERT_REQUIRED}.get(
            reqs.lower().removeprefix("cert_"), ssl.CERT_REQUIRED)
        settings["broker_use_ssl"] = tls
        rest = [(k, v) for k, v in parse_qsl(parts.query) if k not in _TLS_OPTIONS]
        settings["broker_url"] = parts._replace(
            query="&".join(f"{k}={v}" for k, v in rest)).geturl()
    return settings


def retry_for(budget: float, what: str, func: Callable[[], T], *,
              errors: tuple[type[BaseException], ...] = CONNECTION_ERRORS,
              on_error: Callable[[BaseException], None] | None = None,
              cap: float = BACKOFF_CAP) -> T:
    """``func()``, called again with exponential backoff while it raises one of ``errors``, for
    up to ``budget`` seconds; then the last error propagates. ``on_error`` hears each error
    (``what`` names the operation in the warning it logs, once per outage)."""
    backoff = ExponentialBackoff(cap=cap, base=0.05)
    deadline = time.monotonic() + budget
    failures = 0
    while True:
        try:
            return func()
        except errors as exc:
            failures += 1
            if on_error is not None:
                on_error(exc)
            if failures == 1:
                log.warning(
                    "%s failed (%s); retrying for up to %gs", what, exc, budget)
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(backoff.compute(failures), left))


def publish_retry_policy(budget: float, step: float = 0.2, cap: float = BACKOFF_CAP
                         ) -> dict[str, float]:
    """Celery's ``task_publish_retry_policy`` whose pauses add up to ``budget`` seconds: a trial
    message published during an outage waits for Redis as the store does."""
    retries, waited = 0, 0.0
    while waited < budget:
        waited += min(step * retries, cap)
        retries += 1
    return {"max_retries": retries, "interval_start": 0, "interval_step": step,
            "interval_max": cap}
