"""Where Redis is, when it is found through Sentinel instead of a fixed ``REDIS_URL``.

With ``REDIS_SENTINELS=host:port,host:port,...`` and ``REDIS_SENTINEL_MASTER=name`` the app
asks the Sentinels for the current primary of ``name`` whenever it opens a connection, so a
failover (Sentinel promoting a replica) is followed without a restart: the Redis client drops
its connections after a failure (``ResilientRedis``) and the next connection re-resolves.
``REDIS_SENTINEL_PASSWORD`` authenticates to Sentinels that run with ``requirepass`` (the same
password on every Sentinel); it is not sent to the Redis data nodes.

This module only parses and validates the setting; ``ringrift.server.redis`` builds the client.
Parsing is strict because a typo here would otherwise surface much later as "Redis degraded".
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SENTINEL_PORT = 26379


class SentinelConfigError(ValueError):
    """``REDIS_SENTINELS`` / ``REDIS_SENTINEL_MASTER`` do not describe a usable Sentinel set."""


@dataclass(frozen=True)
class SentinelAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SentinelConfig:
    """The Sentinels to ask and the master name they monitor."""

    master: str
    sentinels: tuple[SentinelAddress, ...]
    # AUTH to the Sentinels themselves; None when they need none. Kept out of repr().
    password: str | None = field(default=None, repr=False)


def parse_address(text: str) -> SentinelAddress:
    """``host:port`` (or ``host``, port 26379; ``[v6]:port`` for IPv6)."""
    item = text.strip()
    if not item:
        raise SentinelConfigError("empty Sentinel address (a stray comma?)")
    if item.startswith("["):
        host, sep, rest = item[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise SentinelConfigError(f"{item!r}: expected [ipv6]:port")
        port_text = rest[1:]
    elif item.count(":") > 1:
        raise SentinelConfigError(f"{item!r}: write IPv6 addresses as [address]:port")
    else:
        host, _, port_text = item.partition(":")
    if not host:
        raise SentinelConfigError(f"{item!r}: missing host")
    if not port_text:
        return SentinelAddress(host, DEFAULT_SENTINEL_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SentinelConfigError(f"{item!r}: port must be a number from 1 to 65535")
    return SentinelAddress(host, int(port_text))


def parse_addresses(text: str) -> tuple[SentinelAddress, ...]:
    """The comma-separated Sentinel addresses of ``REDIS_SENTINELS`` (empty: none)."""
    if not text.strip():
        return ()
    addresses = tuple(parse_address(part) for part in text.split(","))
    if len(set(addresses)) != len(addresses):
        raise SentinelConfigError("the same Sentinel is listed twice")
    return addresses


def parse_sentinels(text: str, master: str, password: str = "") -> SentinelConfig | None:
    """The configuration, or None when ``text`` is empty (no Sentinel: plain ``REDIS_URL``).
    An empty ``password`` means the Sentinels take no AUTH."""
    addresses = parse_addresses(text)
    if not addresses:
        if password:
            raise SentinelConfigError("REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is empty")
        return None
    name = master.strip()
    if not name:
        raise SentinelConfigError("REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS")
    if any(ch.isspace() for ch in name):
        raise SentinelConfigError(f"master name {name!r} must not contain spaces")
    return SentinelConfig(name, addresses, password or None)
