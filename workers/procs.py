"""Child processes: free ports, Redis-protocol servers and Celery workers, started one way.

Local mode (:mod:`workers.local`), ``hpq worker``, the tests and the benchmarks all start their
servers and workers here:

* :func:`free_port` -- a TCP port nobody listens on;
* :func:`start_redis_server` -- a ``redis-server`` (or any binary that takes the same
  ``--name value`` arguments, such as ``valkey-server``) on a port, with a data directory and any
  configuration; it returns once the server answers PING, and stops cleanly;
  :func:`start_server` does the same for any command that serves the Redis protocol;
* :func:`celery_worker_argv` -- the ``celery -A workers.app worker`` command line with hpqueue's
  defaults; :class:`WorkerProcess` runs it with its output in a log file.

Only the standard library is imported at module level: trial code imports ``workers``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HpqError

if TYPE_CHECKING:
    from typing_extensions import Self

    from .store import Store

#: Where servers listen unless told otherwise.
LOCALHOST = "127.0.0.1"
#: Added to every worker command line unless the caller passes them: workers do not exchange
#: state at start-up (mingle) or gossip afterwards; hpqueue needs neither, and both cost
#: start-up time and broker traffic.
CELERY_WORKER_DEFAULTS = ("--without-mingle", "--without-gossip")
#: ``start_redis_server`` arguments that ``config`` may not set (they are parameters).
_RESERVED = frozenset({"port", "bind", "dir"})

ConfigValue = str | int | float | bool


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port on ``host`` that nobody listens on now (another process may still take it
    before it is bound: :func:`start_server` then retries with another one)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0, *,
                 kill_group: bool = False) -> None:
    """SIGTERM ``proc`` (not its children), wait up to ``timeout`` seconds, then SIGKILL it, or its
    whole process group if ``kill_group`` (a process started with ``start_new_session``)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if kill_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        proc.wait()


def _excerpt(text: str, where: str, lines: int = 5) -> str:
    """The last ``lines`` lines of ``text`` as a suffix for an error message ('' if empty)."""
    kept = text.strip().splitlines()[-lines:]
    return f"; {where} ends with:\n" + "\n".join(kept) if kept else ""


def _tail(path: Path | None, lines: int = 5) -> str:
    """:func:`_excerpt` of a log file ('' if there is none)."""
    if path is None or not path.is_file():
        return ""
    return _excerpt(path.read_text(errors="replace"), str(path), lines)


# ====================================================================== servers
class ServerProcess:
    """A Redis-protocol server running as a child process of this one, answering at :attr:`url`.

    Made by :func:`start_server` or :func:`start_redis_server`. :meth:`stop` (also on leaving a
    ``with`` block) ends it.
    """

    def __init__(self, proc: subprocess.Popen[bytes], host: str, port: int,
                 log: Path | None = None) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        #: The server's log file, if it writes one (quoted in start-up errors).
        self.log = log

    @property
    def url(self) -> str:
        """``redis://host:port/0``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis saves per its configuration and exits), SIGKILL after ``timeout``."""
        stop_process(self.proc, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _await(self, deadline: float, check_pid: bool) -> bool | None:
        """Poll until the server answers PING (True), exits (False) or ``deadline`` passes
        (None). With ``check_pid``, a server answering on the port must be this process (``INFO
        server``'s ``process_id``): another server may have taken the port first."""
        import redis

        while self.proc.poll() is None:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=2)
            try:
                if client.ping() and (not check_pid or int(
                        client.info("server").get("process_id", -1)) == self.pid):
                    return True
            except redis.RedisError:  # not listening yet, or loading its data
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return False


def start_server(command: Callable[[int], Sequence[str]], *, port: int | None = None,
                 host: str = LOCALHOST, timeout: float = 20.0, die_with_parent: bool = False,
                 log: Path | None = None, check_pid: bool = False, attempts: int = 3
                 ) -> ServerProcess:
    """Run ``command(port)`` and return once it answers PING at ``host:port``.

    ``port`` None picks a free port, and another one (up to ``attempts`` in all) when the
    server exits before answering (the port was taken in between). ``die_with_parent`` asks
    Linux to SIGTERM the server when this process dies, even by SIGKILL. ``log`` is the file
    the server writes its log to, quoted when it fails. Raises HpqError if the server exits or
    does not answer within ``timeout`` seconds.
    """
    preexec = _parent_death_signal() if die_with_parent else None
    for _ in range(1 if port is not None else max(attempts, 1)):
        chosen = port if port is not None else free_port(host)
        argv = [str(a) for a in command(chosen)]
        with tempfile.TemporaryFile() as stderr:  # read only if the start fails
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                preexec_fn=preexec)  # noqa: PLW1509 - only prctl(), resolved before the fork
            server = ServerProcess(proc, host, chosen, log)
            ready = server._await(time.monotonic() + timeout, check_pid)
            if ready:
                return server
            stderr.seek(0)
            said = _excerpt(stderr.read().decode(errors="replace"), "its stderr") + _tail(log)
        if ready is None:
            server.stop()
            raise HpqError(f"{Path(argv[0]).name} (pid {server.pid}) did not answer PING at "
                           f"{server.url} within {timeout}s{said}")
    raise HpqError(f"{Path(argv[0]).name} exited with code {proc.returncode} before answering "
                   f"at {server.url}{said}")


def start_redis_server(directory: str | os.PathLike[str], *, binary: str = "redis-server",
                       port: int | None = None, host: str = LOCALHOST,
                       config: Mapping[str, ConfigValue] | None = None, timeout: float = 20.0,
                       die_with_parent: bool = False) -> ServerProcess:
    """Start ``binary --port PORT --bind HOST --dir DIRECTORY --name value ...`` and wait for it.

    ``binary`` is a name on PATH or a path (``redis-server``, ``valkey-server``). ``config``
    holds any other configuration directive as ``{name: value}`` (``{"appendonly": "yes",
    "save": ""}``; booleans become ``yes``/``no``); it may not set port, bind or dir. The log
    goes to ``DIRECTORY/redis.log`` unless ``config`` sets ``logfile``. ``directory`` is created
    if needed. See :func:`start_server` for ``port``, ``timeout`` and ``die_with_parent``.
    Raises HpqError if the binary is missing or the server does not start, ValueError for a
    reserved name in ``config``.
    """
    config = dict(config or {})
    reserved = sorted(_RESERVED & {k.lower() for k in config})
    if reserved:
        raise ValueError(f"config may not set {', '.join(reserved)}: pass port=, host= or the "
                         "directory instead")
    path = shutil.which(binary)
    if path is None:
        raise HpqError(f"no {binary!r} executable found (not on PATH and not a file)")
    data = Path(directory)
    data.mkdir(parents=True, exist_ok=True)
    config.setdefault("logfile", str(data / "redis.log"))
    log = data / str(config["logfile"]) if config["logfile"] else None  # relative to --dir
    args = [item for name, value in config.items() for item in (f"--{name}", _directive(value))]

    def command(port: int) -> list[str]:
        return [path, "--port", str(port), "--bind", host, "--dir", str(data), *args]

    return start_server(command, port=port, host=host, timeout=timeout, log=log,
                        die_with_parent=die_with_parent, check_pid=True)


def _directive(value: ConfigValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _parent_death_signal() -> Callable[[], None]:
    """A ``preexec_fn`` that makes Linux SIGTERM the child when this process dies (prctl
    PR_SET_PDEATHSIG); a no-op where there is no such call. libc is loaded here, in the parent:
    loading a library between fork and exec can deadlock."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return preexec


# ====================================================================== workers
def celery_worker_argv(queues: str | Iterable[str] = "default", *,
                       concurrency: int | None = None, loglevel: str = "info",
                       pool: str | None = None, hostname: str | None = None,
                       extra: Sequence[str] = ()) -> list[str]:
    """``python -m celery -A workers.app worker -Q QUEUES -l LEVEL [-c N] [-P POOL] [-n NAME]``,
    then :data:`CELERY_WORKER_DEFAULTS` that ``extra`` does not repeat, then ``extra`` (any
    other celery worker arguments, as they are)."""
    queue_list = queues if isinstance(queues, str) else ",".join(queues)
    argv = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", queue_list,
            "-l", loglevel]
    for flag, value in (("-c", concurrency), ("-P", pool), ("-n", hostname)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + [flag for flag in CELERY_WORKER_DEFAULTS if flag not in extra] + list(extra)


class WorkerProcess:
    """A Celery worker (:func:`celery_worker_argv`) in a session of its own, its output appended
    to ``log_path``.

    ``hostname`` (celery's ``-n``) names it in the store's worker registry, which
    :meth:`wait_ready` watches. :meth:`stop` is a warm shutdown.
    """

    def __init__(self, queues: str | Iterable[str], *, hostname: str, log_path: Path,
                 env: Mapping[str, str], concurrency: int | None = None,
                 pool: str | None = None, loglevel: str = "info", extra: Sequence[str] = (),
                 cwd: str | os.PathLike[str] | None = None) -> None:
        self.hostname = hostname
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            celery_worker_argv(queues, concurrency=concurrency, loglevel=loglevel, pool=pool,
                               hostname=hostname, extra=extra),
            env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, store: Store, timeout: float = 60.0) -> None:
        """Block until the worker registered itself in ``store``; HpqError (quoting its log) if
        it exits first or is not ready after ``timeout`` seconds."""
        key = store.keys.worker(self.hostname)
        deadline = time.monotonic() + timeout
        while not store.redis.exists(key):
            if self.proc.poll() is not None:
                raise HpqError(f"the Celery worker {self.hostname} exited with code "
                               f"{self.proc.returncode}{_tail(self.log_path, 20)}")
            if time.monotonic() > deadline:
                raise HpqError(f"the Celery worker {self.hostname} was not ready after "
                               f"{timeout}s{_tail(self.log_path, 20)}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown: SIGTERM to the main process only (sent to the whole group it would also
        reach the pool processes, which would then die mid-trial instead of finishing); SIGKILL
        to the whole group after ``timeout`` seconds."""
        stop_process(self.proc, timeout, kill_group=True)
        self._log.close()
