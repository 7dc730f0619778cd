"""Error paths of the private-service helpers that need no server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ringrift.ops import services
from ringrift.ops.services import (
    MissingBinaryError,
    PostgresCluster,
    RedisServer,
    find_postgres_bindir,
    free_port,
    port_open,
)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert not port_open("127.0.0.1", port)


def test_missing_redis_binary_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.shutil, "which", lambda _name: None)
    monkeypatch.setattr(services.Path, "exists", lambda _self: False)
    with pytest.raises(MissingBinaryError) as info:
        RedisServer.binary()
    assert "redis-server" in str(info.value) and "apt-get install redis-server" in str(info.value)


def test_missing_postgres_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(services.glob, "glob", lambda _pattern: [])
    monkeypatch.setattr(services.shutil, "which", lambda _name: None)
    monkeypatch.setenv("RINGRIFT_PG_BINDIR", str(tmp_path))
    with pytest.raises(MissingBinaryError) as info:
        find_postgres_bindir()
    assert info.value.package == "postgresql"
    assert "apt-get install postgresql" in str(info.value)
    cluster = PostgresCluster(tmp_path / "run", bindir=tmp_path)
    with pytest.raises(MissingBinaryError, match="initdb"):
        cluster.start()


def test_database_names_are_checked() -> None:
    cluster = PostgresCluster(Path("/tmp/unused"), port=1)
    with pytest.raises(ValueError, match="unsafe database name"):
        cluster.create_database("x; DROP DATABASE y")
    assert cluster.url("abc") == "postgresql+asyncpg://ringrift@127.0.0.1:1/abc"
