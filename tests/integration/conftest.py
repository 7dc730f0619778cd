"""Fixtures for the server integration tests: a private PostgreSQL cluster and redis-server
(session-scoped, via ``ringrift.ops.services``), migrated template databases for both backends,
and an in-process app client parametrised over SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from realtime_support import WS
from server_support import AppFactory, LiveServer, fake_ai_service, make_settings, running_app

from ringrift.ops.services import PostgresCluster, RedisServer
from ringrift.server.db import migrate

TEMPLATE_DB = "ringrift_template"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    cluster.create_database(TEMPLATE_DB)
    asyncio.run(migrate.upgrade(cluster.url(TEMPLATE_DB)))
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def outage_cluster() -> Iterator[PostgresCluster]:
    """A migrated cluster of the test's own, for a test that stops and restarts it."""
    cluster = PostgresCluster()
    cluster.start()
    asyncio.run(migrate.upgrade(cluster.url()))
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def pg_database(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A migrated PostgreSQL database shared by one test module (for app processes)."""
    name = "m_" + uuid.uuid4().hex[:16]
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="ringrift-sqlite-"))
    path = directory / "template.db"
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    yield path
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "ringrift.db"
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = "t_" + uuid.uuid4().hex[:16]
    cluster.create_database(name, template=TEMPLATE_DB)
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def app_factory(database_url: str) -> AppFactory:
    """Build an app on this test's database with settings overrides."""

    def factory(
        **overrides: Any,
    ) -> contextlib.AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]:
        return running_app(make_settings(database_url, **overrides))

    return factory


@pytest_asyncio.fixture
async def client(app_factory: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with app_factory() as (_app, http):
        yield http


@pytest.fixture
def ai_service_factory() -> Iterator[Callable[[str], tuple[LiveServer, FastAPI]]]:
    started: list[LiveServer] = []

    def factory(mode: str = "first_legal") -> tuple[LiveServer, FastAPI]:
        app = fake_ai_service(mode)
        server = LiveServer(app).start()
        started.append(server)
        return server, app

    yield factory
    for server in started:
        server.stop()


@pytest_asyncio.fixture
async def sockets() -> AsyncIterator[list[WS]]:
    """Sockets a test opens (append them); all are closed when it ends."""
    opened: list[WS] = []
    yield opened
    for ws in opened:
        await ws.close()
