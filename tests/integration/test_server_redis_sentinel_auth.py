"""REDIS_SENTINEL_PASSWORD against a real Sentinel started with ``requirepass``: the client
finds the primary through it with the password, and without it or with a wrong one Redis is
unavailable (no primary found). The data node itself takes no password."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ringrift.ops.services import RedisServer, free_port
from ringrift.server.redis import RedisUnavailable, ResilientRedis
from ringrift.server.redissentinel import SentinelAddress, SentinelConfig

pytestmark = pytest.mark.integration

PASSWORD = "sentinel-secret"


@pytest.fixture
def sentinel(redis_server: RedisServer, tmp_path: Path) -> Iterator[SentinelAddress]:
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\n"
        f'dir "{tmp_path}"\nrequirepass {PASSWORD}\n'
        f"sentinel monitor ringrift 127.0.0.1 {redis_server.port} 1\n"
    )
    with open(tmp_path / "sentinel.log", "wb") as log:
        process = subprocess.Popen(
            [RedisServer.binary(), str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        admin = redis.Redis(port=port, password=PASSWORD, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (tmp_path / "sentinel.log").read_text()
            try:
                if admin.sentinel_master("ringrift")["runid"]:  # it has reached the primary
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the Sentinel did not start"
            time.sleep(0.1)
        # The Sentinel really demands the password.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=1).ping()
        admin.close()
        yield SentinelAddress("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(10)


async def _write_and_read(client: ResilientRedis) -> str | None:
    await client.call(lambda c: c.set("ringrift:test:sentinel-auth", "ok", ex=30))
    value: str | None = await client.call(lambda c: c.get("ringrift:test:sentinel-auth"))
    return value


async def test_the_password_opens_the_sentinel_and_its_absence_is_reported(
    sentinel: SentinelAddress,
) -> None:
    good = ResilientRedis("", 1.0, sentinel=SentinelConfig("ringrift", (sentinel,), PASSWORD))
    try:
        assert (await good.ping()).ok
        assert await _write_and_read(good) == "ok"
    finally:
        await good.close()

    for password in (None, "wrong"):
        refused = ResilientRedis(
            "", 1.0, sentinel=SentinelConfig("ringrift", (sentinel,), password)
        )
        try:
            result = await refused.ping()
            assert not result.ok
            # redis-py counts a Sentinel that refuses AUTH as one that does not answer, so
            # the reason given (in /ready too) is that no Sentinel named a primary.
            assert result.error and "No master found for 'ringrift'" in result.error
            with pytest.raises(RedisUnavailable):
                await refused.call(lambda c: c.get("ringrift:test:sentinel-auth"))
        finally:
            await refused.close()
