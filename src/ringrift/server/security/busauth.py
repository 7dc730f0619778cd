"""Signed game events on the Redis bus: what other instances read from ``ringrift:events``
reaches sockets only when it carries a valid HMAC from a key of the JWT keyring.

Anyone who can publish on Redis could otherwise push a made-up move or state to every
spectator. Each event gets ``kid`` (the signing key's id) and ``sig`` = HMAC-SHA256 over its
canonical JSON (orjson, sorted keys, without ``kid``/``sig``/``origin``) under a key derived
from that keyring key (so the bus never uses a token-signing key directly). Receivers verify
with any key of their keyring (rotations overlap), and drop and count anything else; sockets
then recover by version from the database as for any lost event.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import orjson

from ringrift.server.bus import EVENTS_CHANNEL, EventBus
from ringrift.server.metrics import Metrics
from ringrift.server.redis import ResilientRedis
from ringrift.server.security.keyring import Keyring

log = logging.getLogger(__name__)

# v2: the canonical form is orjson's sorted dump (v1 was ``json.dumps``, several times slower on
# the move path); instances of different versions drop each other's events, and their sockets
# recover by version as for any lost event.
_LABEL = b"ringrift bus events v2"
_UNSIGNED = ("kid", "sig", "origin")


def _bus_key(secret: bytes) -> bytes:
    return hmac.new(secret, _LABEL, hashlib.sha256).digest()


def _canonical(event: dict[str, Any]) -> bytes:
    body = {key: value for key, value in event.items() if key not in _UNSIGNED}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign_event(keyring: Keyring, event: dict[str, Any]) -> dict[str, Any]:
    keyset = keyring.keyset
    mac = hmac.new(_bus_key(keyset.active_secret), _canonical(event), hashlib.sha256)
    return {**event, "kid": keyset.active_kid, "sig": mac.hexdigest()}


def verify_event(keyring: Keyring, event: dict[str, Any]) -> bool:
    kid, sig = event.get("kid"), event.get("sig")
    secret = keyring.keyset.keys.get(kid) if isinstance(kid, str) else None
    if secret is None or not isinstance(sig, str):
        return False
    expected = hmac.new(_bus_key(secret), _canonical(event), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig)


class SignedEventBus(EventBus):
    """The event bus with signatures on what goes out and checks on what comes in."""

    def __init__(
        self,
        redis: ResilientRedis,
        metrics: Metrics,
        *,
        keyring: Keyring,
        backoff_min: float = 0.1,
        backoff_max: float = 1.0,
    ) -> None:
        super().__init__(redis, metrics, backoff_min=backoff_min, backoff_max=backoff_max)
        self.keyring = keyring

    def publish(self, event: dict[str, Any], remote: dict[str, Any] | None = None) -> None:
        """Local sockets get ``event`` as is; what goes over Redis (the slimmer ``remote``
        form when given) is signed."""
        super().publish(event, sign_event(self.keyring, event if remote is None else remote))

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("channel") == EVENTS_CHANNEL:
            data = message.get("data")
            if isinstance(data, str) and self.is_own(data):
                return  # delivered locally when published; dropping a forgery of it is safe
            try:
                event = orjson.loads(data) if isinstance(data, str) else None
            except ValueError:
                event = None
            if not isinstance(event, dict) or not verify_event(self.keyring, event):
                self.metrics.bus_received.labels(kind="rejected").inc()
                log.warning("dropped a bus event without a valid signature")
                return
        super()._handle(message)
