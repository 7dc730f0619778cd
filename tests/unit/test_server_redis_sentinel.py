"""REDIS_SENTINELS / REDIS_SENTINEL_MASTER parsing and validation (server/redissentinel.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ringrift.server.config import Settings
from ringrift.server.redis import ResilientRedis
from ringrift.server.redissentinel import (
    SentinelAddress,
    SentinelConfigError,
    parse_address,
    parse_sentinels,
)


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in (
        "REDIS_URL",
        "REDIS_SENTINELS",
        "REDIS_SENTINEL_MASTER",
        "REDIS_SENTINEL_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_addresses_parse_with_default_port_and_ipv6() -> None:
    assert parse_address(" 10.0.0.5:26380 ") == SentinelAddress("10.0.0.5", 26380)
    assert parse_address("sentinel-a") == SentinelAddress("sentinel-a", 26379)
    assert parse_address("[::1]:5000") == SentinelAddress("::1", 5000)
    assert parse_address("[fe80::2]") == SentinelAddress("fe80::2", 26379)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("host:0", "port must be a number"),
        ("host:65536", "port must be a number"),
        ("host:abc", "port must be a number"),
        (":26379", "missing host"),
        ("::1:26379", "IPv6"),
        ("[::1", "expected \\[ipv6\\]:port"),
        ("  ", "empty Sentinel address"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(SentinelConfigError, match=message):
        parse_address(text)


def test_sentinel_list_needs_a_master_name_and_distinct_entries() -> None:
    config = parse_sentinels("a:1, b:2,c", "ringrift")
    assert config is not None
    assert config.master == "ringrift"
    assert [str(s) for s in config.sentinels] == ["a:1", "b:2", "c:26379"]
    assert parse_sentinels("", "ringrift") is None
    with pytest.raises(SentinelConfigError, match="REDIS_SENTINEL_MASTER is required"):
        parse_sentinels("a:1", " ")
    with pytest.raises(SentinelConfigError, match="listed twice"):
        parse_sentinels("a:1,a:1", "m")
    with pytest.raises(SentinelConfigError, match="stray comma"):
        parse_sentinels("a:1,,b:2", "m")
    with pytest.raises(SentinelConfigError, match="spaces"):
        parse_sentinels("a:1", "my master")


def test_settings_read_the_sentinel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch,
        REDIS_SENTINELS="127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381",
        REDIS_SENTINEL_MASTER="ringrift",
    )
    config = settings.redis_sentinel
    assert config is not None and config.master == "ringrift"
    assert [s.port for s in config.sentinels] == [26379, 26380, 26381]
    assert settings.redis_url == ""


def test_sentinel_password_is_read_and_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(
        monkeypatch,
        REDIS_SENTINELS="127.0.0.1:26379",
        REDIS_SENTINEL_MASTER="ringrift",
        REDIS_SENTINEL_PASSWORD="sentinel-pass-never-shown",
    )
    config = settings.redis_sentinel
    assert config is not None and config.password == "sentinel-pass-never-shown"
    assert "sentinel-pass-never-shown" not in repr(config)
    unauthenticated = parse_sentinels("a:1", "m")
    assert unauthenticated is not None and unauthenticated.password is None
    assert parse_sentinels("a:1", "m", "") == unauthenticated
    with pytest.raises(SentinelConfigError, match="REDIS_SENTINELS is empty"):
        parse_sentinels("", "m", "pw")


def test_plain_redis_url_configuration_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, REDIS_URL="redis://r:6379/0")
    assert settings.redis_url == "redis://r:6379/0"
    assert settings.redis_sentinel is None
    assert _settings(monkeypatch).redis_sentinel is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {
                "REDIS_URL": "redis://r:6379/0",
                "REDIS_SENTINELS": "a:1",
                "REDIS_SENTINEL_MASTER": "m",
            },
            "not both",
        ),
        ({"REDIS_SENTINELS": "a:1"}, "REDIS_SENTINEL_MASTER is required"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS is empty"),
        ({"REDIS_SENTINELS": "a:99999", "REDIS_SENTINEL_MASTER": "m"}, "port must be"),
        (
            {"REDIS_URL": "redis://r:6379/0", "REDIS_SENTINEL_PASSWORD": "never-print-this-secret"},
            "REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is empty",
        ),
    ],
)
def test_inconsistent_sentinel_settings_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("JWT_SECRET", "never-print-this-secret")
    with pytest.raises(ValidationError, match=message) as raised:
        _settings(monkeypatch, **env)
    # The start-up message quotes the offending input: only the Redis setting, no secret.
    assert len(raised.value.errors()) == 1
    assert "never-print-this-secret" not in str(raised.value)


def test_client_refuses_a_url_and_sentinels_together() -> None:
    config = parse_sentinels("a:1", "m")
    with pytest.raises(ValueError, match="not both"):
        ResilientRedis("redis://r:6379/0", sentinel=config)
    client = ResilientRedis("", sentinel=config)
    assert client.enabled and client.healthy
    assert not ResilientRedis("").enabled
