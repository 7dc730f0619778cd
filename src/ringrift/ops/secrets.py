"""JWT keyring rotation (``ringrift secrets rotate``).

The keyring file is the one the app reads (``JWT_KEYRING_FILE``; format in
``ringrift.server.security.keyring``). Running apps notice the new file by its modification
time within seconds, and a message on the ``ringrift:keyring`` Redis channel makes every
instance reload at once; a restart reads it too.

* ``immediate``: the ring holds only the new key and a new refresh secret, so every access
  token signed before is rejected (``AUTH_TOKEN_INVALID``) and every refresh token too.
* ``graceful``: the new key signs from now on; earlier keys keep verifying until tokens signed
  with them have expired (retired keys older than the access-token lifetime are pruned).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ringrift.server.security.keyring import KeyringError, parse_keyring_document

KEYRING_CHANNEL = "ringrift:keyring"
DEFAULT_ACCESS_TTL_SECONDS = 15 * 60

Mode = Literal["immediate", "graceful"]


@dataclass(frozen=True)
class Rotation:
    keyring_file: str
    mode: Mode
    previous_kid: str | None
    active_kid: str
    verifying_kids: list[str]
    refresh_secret_rotated: bool
    notified: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "keyringFile": self.keyring_file,
            "mode": self.mode,
            "previousKid": self.previous_kid,
            "activeKid": self.active_kid,
            "verifyingKids": self.verifying_kids,
            "refreshSecretRotated": self.refresh_secret_rotated,
            "notified": self.notified,
        }


def _new_kid(now: float) -> str:
    return time.strftime("k%Y%m%dT%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(3)


def read_keyring(path: Path) -> dict[str, Any] | None:
    """The current keyring document, validated; None when the file does not exist yet."""
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise KeyringError(f"{path}: cannot read the keyring: {error}") from None
    parse_keyring_document(document, str(path))
    return dict(document)


def write_keyring(path: Path, document: dict[str, Any]) -> None:
    """Write atomically with owner-only permissions, so a reader never sees half a file."""
    parse_keyring_document(document, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def new_keyring() -> dict[str, Any]:
    """A fresh keyring with one strong key and a refresh secret."""
    kid = _new_kid(time.time())
    return {
        "activeKid": kid,
        "keys": [{"kid": kid, "secret": secrets.token_urlsafe(48), "createdAt": int(time.time())}],
        "refreshSecret": secrets.token_urlsafe(48),
    }


def rotate(
    path: Path,
    mode: Mode,
    *,
    access_ttl_seconds: int = DEFAULT_ACCESS_TTL_SECONDS,
    redis_url: str = "",
    now: float | None = None,
) -> Rotation:
    """Put a new active key into the keyring file and tell running apps to reload it."""
    if mode not in ("immediate", "graceful"):
        raise ValueError(f"unknown rotation mode {mode!r}")
    now = time.time() if now is None else now
    current = read_keyring(path)
    kid = _new_kid(now)
    entry: dict[str, Any] = {"kid": kid, "secret": secrets.token_urlsafe(48), "createdAt": int(now)}
    previous_kid = None if current is None else str(current["activeKid"])
    if mode == "immediate" or current is None:
        keys: list[dict[str, Any]] = [entry]
        refresh = secrets.token_urlsafe(48)
        refresh_rotated = True
    else:
        keys = [entry]
        for old in current["keys"]:
            old = dict(old)
            if old["kid"] == previous_kid:
                old["retiredAt"] = int(now)
            retired = old.get("retiredAt")
            if isinstance(retired, int) and now - retired > access_ttl_seconds:
                continue  # every token it signed has expired
            keys.append(old)
        refresh = current.get("refreshSecret") or secrets.token_urlsafe(48)
        refresh_rotated = "refreshSecret" not in current
    document = {"activeKid": kid, "keys": keys, "refreshSecret": refresh}
    write_keyring(path, document)
    notified = notify_instances(redis_url) if redis_url else False
    return Rotation(
        keyring_file=str(path),
        mode=mode,
        previous_kid=previous_kid,
        active_kid=kid,
        verifying_kids=[k["kid"] for k in keys],
        refresh_secret_rotated=refresh_rotated,
        notified=notified,
    )


def notify_instances(redis_url: str) -> bool:
    """Publish a reload message for every app instance; False when Redis is unreachable
    (instances still pick the file up by its modification time)."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.publish(KEYRING_CHANNEL, json.dumps({"reload": True, "at": time.time()}))
        finally:
            client.close()
    except redis.RedisError:
        return False
    return True
