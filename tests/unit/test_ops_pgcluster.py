"""The replicated stack's database URL (built by ops, read by SQLAlchemy's asyncpg dialect, the
app's engine factory and the backup tools), without any server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine.url import make_url

from ringrift.ops import pgcluster
from ringrift.ops.backup import libpq_dsn
from ringrift.ops.pgcluster import PgHost, multi_host_url, parse_target
from ringrift.server.config import Settings
from ringrift.server.db.session import create_engine

HOSTS = [PgHost("127.0.0.1", 5433), PgHost("10.0.0.7", 6543)]


def test_multi_host_url_round_trips() -> None:
    url = multi_host_url(HOSTS, user="ringrift", database="games")
    assert url.startswith("postgresql+asyncpg://ringrift@/games?")
    target = parse_target(url)
    assert target.hosts == tuple(HOSTS)
    assert (target.user, target.database, target.target_session_attrs) == (
        "ringrift",
        "games",
        "read-write",
    )


def test_parse_target_reads_single_host_urls_too() -> None:
    target = parse_target("postgresql+asyncpg://app@db.internal:6000/ringrift")
    assert target.hosts == (PgHost("db.internal", 6000),)
    assert target.target_session_attrs is None
    assert parse_target("postgresql://app@db/x").hosts == (PgHost("db", 5432),)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@/db?host=nohostport",
        "postgresql://u@/db?host=h:notaport",
        "postgresql://u@/db",
        "sqlite+aiosqlite:///./x.db",
    ],
)
def test_parse_target_rejects_what_names_no_usable_host(url: str) -> None:
    with pytest.raises(ValueError):
        parse_target(url)


def test_multi_host_url_needs_a_host() -> None:
    with pytest.raises(ValueError):
        multi_host_url([], user="u", database="d")


def test_sqlalchemy_hands_asyncpg_every_host_and_the_read_write_requirement() -> None:
    """What asyncpg.connect receives: the host and port lists in order, and
    target_session_attrs, which makes it skip a standby (and a dead host) by itself."""
    url = make_url(multi_host_url(HOSTS, user="ringrift", database="games"))
    _args, kwargs = PGDialect_asyncpg().create_connect_args(url)
    assert kwargs["host"] == ["127.0.0.1", "10.0.0.7"]
    assert kwargs["port"] == [5433, 6543]
    assert kwargs["target_session_attrs"] == "read-write"
    assert kwargs["database"] == "games" and kwargs["user"] == "ringrift"


async def test_the_app_engine_accepts_a_multi_host_url() -> None:
    settings = Settings(database_url=multi_host_url(HOSTS, user="ringrift", database="games"))
    engine = create_engine(settings)
    try:
        assert engine.dialect.name == "postgresql"
        # Dead connections to a failed primary are replaced: an idle connection is pinged at
        # checkout (db.session.ping_when_idle; tests/integration/test_server_db_pool.py).
        assert len(engine.pool.dispatch.checkout) == 1
        assert len(engine.pool.dispatch.checkin) == 1
    finally:
        await engine.dispose()


def test_backup_tools_get_the_libpq_host_list() -> None:
    url = multi_host_url(HOSTS, user="ringrift", database="games")
    assert libpq_dsn(url) == (
        "postgresql://ringrift@127.0.0.1:5433,10.0.0.7:6543/games?target_session_attrs=read-write"
    )
    assert libpq_dsn(url, "postgres").split("?")[0].endswith("/postgres")
    single = "postgresql+asyncpg://u:p@db:5432/x?sslmode=require"
    assert libpq_dsn(single) == "postgresql://u:p@db:5432/x?sslmode=require"


def test_node_settings_keep_durability_and_name_the_node(tmp_path: Path) -> None:
    node = pgcluster.node_cluster(tmp_path / "postgres-b", 5999)
    assert not node.fast
    assert node.settings["cluster_name"] == "postgres_b"
    assert node.settings["synchronous_commit"] == pgcluster.SYNCHRONOUS_COMMIT
