"""The security suite attacks real running apps: it reuses the integration fixtures (private
PostgreSQL cluster, redis-server, migrated databases) and their helpers (app and AI-service
processes on free ports)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

_spec = importlib.util.spec_from_file_location(
    "ringrift_integration_fixtures", INTEGRATION / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

# Re-exported so pytest registers them for this directory.
pg_cluster = _fixtures.pg_cluster
redis_server = _fixtures.redis_server
pg_database = _fixtures.pg_database
sqlite_template = _fixtures.sqlite_template
database_url = _fixtures.database_url
app_factory = _fixtures.app_factory
client = _fixtures.client
ai_service_factory = _fixtures.ai_service_factory

from realtime_support import Process, app_process  # noqa: E402


@pytest.fixture(scope="module")
def live_app(pg_database: str, redis_server: object) -> Iterator[Process]:
    """One ``ringrift serve`` process per module on PostgreSQL and Redis, default limits."""
    process = app_process(pg_database, redis_url=redis_server.url).start()  # type: ignore[attr-defined]
    yield process
    process.stop()
