"""Secrets and TLS: an optimization against a redis-server that requires a password and mutual
TLS (``rediss://`` with certificate options, a self-signed CA made here with ``openssl``), on
the store, the Celery broker and Optuna's journal; nothing hpqueue writes or prints -- worker
logs, this process's log, CLI output and errors, the HTML report, the records and events in
Redis -- shows the password."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from controller import HyperParameterOptimizer, OptimizerOptuna, UniformParameterRange
from tests.chaos.conftest import Workers
from tests.conftest import ROOT
from workers import Store, Task, TaskStatus, set_store
from workers import app as app_module
from workers.config import Settings
from workers.errors import HpqError
from workers.procs import ServerProcess, free_port, start_redis_server

pytestmark = pytest.mark.chaos

PASSWORD = "s3cr3t-" + uuid.uuid4().hex[:8]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(directory: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, signed by the CA."""
    directory.mkdir(parents=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", "ca.key",
            "-out", "ca.crt", "-subj", "/CN=hpqueue test CA", cwd=directory)
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-out", f"{name}.crt", "-extfile", "san.cnf",
                cwd=directory)


@dataclass
class TlsRedis:
    server: ServerProcess
    url: str  # rediss://:PASSWORD@127.0.0.1:TLS_PORT/0?ssl_...


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("needs redis-server and openssl on PATH")
    certs = tmp_path / "certs"
    make_certificates(certs)
    port = free_port()
    try:
        server = start_redis_server(tmp_path / "redis", config={
            "tls-port": port, "tls-cert-file": certs / "server.crt",
            "tls-key-file": certs / "server.key", "tls-ca-cert-file": certs / "ca.crt",
            "tls-auth-clients": "yes", "save": "", "appendonly": "no"})
    except HpqError as exc:  # a redis-server built without TLS
        if "tls" in str(exc).lower():
            pytest.skip(f"this redis-server has no TLS support: {exc}")
        raise
    # the password is set once the server answered (the start-up check uses no password)
    redis.Redis.from_url(server.url).config_set("requirepass", PASSWORD)
    url = (f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_cert_reqs=required"
           f"&ssl_ca_certs={certs / 'ca.crt'}&ssl_certfile={certs / 'client.crt'}"
           f"&ssl_keyfile={certs / 'client.key'}")
    try:
        yield TlsRedis(server, url)
    finally:
        server.stop()


def hpq(*args: str, env: dict[str, str]) -> str:
    """``hpq ARGS`` in a process of its own: its stdout and stderr."""
    proc = subprocess.run([sys.executable, "-m", "controller.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout + proc.stderr


@pytest.mark.timeout(150)
def test_tls_and_a_password_never_shown(tls_redis: TlsRedis, tmp_path: Path, queue: str,
                                        monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"HPQ_REDIS_URL": tls_redis.url, "HPQ_NAMESPACE": f"tls{uuid.uuid4().hex[:8]}",
           "HPQ_HOME": str(tmp_path / "home"), "HPQ_HEARTBEAT_INTERVAL": "0.2",
           "HPQ_HEARTBEAT_GRACE": "2", "HPQ_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    store = Store.connect(tls_redis.url, settings)
    set_store(store)
    app_module.configure(settings, tls_redis.url)
    workers = Workers(store, env, tmp_path / "logs")
    try:
        workers.start(queue, concurrency=2)
        base = Task.create("tls", "steps", entry_point="tests.chaos.trials:steps",
                           parameters={"General/x": 0.5, "General/pause": 0.01})
        opt = HyperParameterOptimizer(  # the Optuna study in the same Redis, over TLS
            base.id, [UniformParameterRange("General/x", 0.0, 1.0)], "val", "loss", "min",
            optimizer_class=OptimizerOptuna, max_number_of_concurrent_tasks=2,
            execution_queue=queue, total_max_jobs=4, pool_period_min=0.005, store=store)
        opt.start()
        assert opt.wait(timeout=1.5)
        assert opt.end_reason == "total_max_jobs reached"
        jobs = Task.get_tasks(parent=opt.id)
        assert len(jobs) == 4 and all(t.status is TaskStatus.COMPLETED for t in jobs)

        cli_env = {**os.environ, **env}
        report = tmp_path / "report.html"
        shown = [hpq("status", env=cli_env), hpq("status", opt.id, env=cli_env),
                 hpq("top", opt.id, env=cli_env),
                 hpq("report", opt.id, "-o", str(report), env=cli_env),
                 report.read_text()]
        # errors name the URL, masked: a wrong password, and a server that is not there
        wrong = hpq("status", env={**cli_env, "HPQ_REDIS_URL": tls_redis.url.replace(
            PASSWORD, PASSWORD[::-1])})
        gone = hpq("status", env={**cli_env, "HPQ_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:"
                                                              f"{free_port()}/0"})
        assert "cannot reach Redis at rediss://:**@127.0.0.1" in wrong, wrong
        assert "cannot reach Redis at redis://:**@127.0.0.1" in gone, gone
        shown += [wrong, gone]
    finally:
        workers.stop()
        set_store(None)
    assert "rediss://:**@127.0.0.1" in workers.log_text()  # Celery's banner, masked
    shown += [workers.log_text(), caplog.text]
    # and what is stored: every record, metric, history and event
    for key in store.redis.scan_iter(match=f"{env['HPQ_NAMESPACE']}:*"):
        kind = store.redis.type(key)
        dump = (store.redis.hgetall(key) if kind == "hash" else
                store.redis.xrange(key) if kind == "stream" else
                store.redis.lrange(key, 0, -1) if kind == "list" else
                store.redis.zrange(key, 0, -1) if kind == "zset" else store.redis.get(key))
        shown.append(repr(dump))
    leaks = [text[max(0, text.find(PASSWORD) - 80):text.find(PASSWORD) + 20]
             for text in shown if PASSWORD in text or PASSWORD[::-1] in text]
    assert not leaks, leaks
