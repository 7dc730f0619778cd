"""The JWT signing keyring: one active key signs, every key in the ring verifies.

Sources, in order of precedence:

* ``JWT_KEYRING_FILE``: a JSON file
  ``{"activeKid": "k2", "keys": [{"kid": "k1", "secret": "..."}, {"kid": "k2", "secret": "..."}],
  "refreshSecret"?: "..."}``. Keys that are no longer listed stop verifying at once (that is how an
  immediate rotation rejects old tokens); keys kept in the list keep verifying (graceful rotation).
* ``JWT_SECRET``: a single key whose ``kid`` is derived from the secret, so a token signed with a
  previous secret carries an unknown kid and is rejected.
* development only: a random per-process key (tokens do not survive a restart; a warning is logged).

``Keyring.reload()`` re-reads the source atomically; a failed reload keeps the previous keys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringrift.server.security.files import readable_by_others

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
_KNOWN_WEAK = {
    "secret",
    "changeme",
    "change-me",
    "password",
    "jwt-secret",
    "jwt_secret",
    "dev-secret",
    "development",
    "test",
    "testsecret",
    "your-secret-key",
    "your_jwt_secret",
    "supersecret",
}


class KeyringError(ValueError):
    """The keyring source is missing, malformed or (in production) too weak."""


# A production secret must look like the output of a CSPRNG: at least 32 characters and an
# estimated guessing cost of 10^40 (about 133 bits; 32 random bytes base64url-encoded estimate at
# 10^43). The estimate is zxcvbn's, which sees through sequences, repeats, keyboard walks, words
# and dates: "0123456789abcdefghijklmnopqrstuv" estimates at 10^4.
MIN_SECRET_GUESSES_LOG10 = 40.0
HOW_TO_MAKE_ONE = (
    "use 32 or more random bytes, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    " or `ringrift secrets rotate`"
)


def secret_weakness(secret: str) -> str | None:
    """Return why ``secret`` is too weak for production, or None when it is acceptable."""
    if not secret:
        return "it is empty"
    lowered = secret.strip().lower()
    if lowered in _KNOWN_WEAK or any(lowered.startswith(w) for w in ("changeme", "change-me")):
        return f"it is a well-known placeholder value; {HOW_TO_MAKE_ONE}"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters; {HOW_TO_MAKE_ONE}"
    if len(set(secret)) < 10:
        return f"it has fewer than 10 distinct characters; {HOW_TO_MAKE_ONE}"
    from zxcvbn import zxcvbn

    estimate = float(zxcvbn(secret[:256])["guesses_log10"])
    if estimate < MIN_SECRET_GUESSES_LOG10:
        bits = round(estimate * 3.32)
        return (
            f"it does not look random (estimated strength about {bits} bits, at least "
            f"{round(MIN_SECRET_GUESSES_LOG10 * 3.32)} needed); {HOW_TO_MAKE_ONE}"
        )
    return None


def derived_kid(secret: str) -> str:
    return "env-" + hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class KeySet:
    active_kid: str
    keys: dict[str, bytes]
    refresh_secret: bytes | None
    source: str
    ephemeral: bool = False
    loaded_from_mtime: float | None = field(default=None, compare=False)
    # kid -> unix time the key stopped signing (keyring ``retiredAt``). A retired key verifies
    # only tokens issued before then; see ``TokenService.verify_access``.
    retired_at: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def active_secret(self) -> bytes:
        return self.keys[self.active_kid]


def parse_keyring_document(document: Any, source: str) -> KeySet:
    if not isinstance(document, dict):
        raise KeyringError(f"{source}: keyring must be a JSON object")
    raw_keys = document.get("keys")
    keys: dict[str, bytes] = {}
    retired_at: dict[str, float] = {}
    if isinstance(raw_keys, list):
        for index, entry in enumerate(raw_keys):
            if not isinstance(entry, dict):
                raise KeyringError(f"{source}: keys[{index}] must be an object")
            kid, secret = entry.get("kid"), entry.get("secret")
            if not isinstance(kid, str) or not kid or not isinstance(secret, str) or not secret:
                raise KeyringError(f"{source}: keys[{index}] needs non-empty 'kid' and 'secret'")
            if kid in keys:
                raise KeyringError(f"{source}: duplicate kid {kid!r}")
            keys[kid] = secret.encode()
            retired = entry.get("retiredAt")
            if retired is not None:
                if not isinstance(retired, int | float) or isinstance(retired, bool):
                    raise KeyringError(f"{source}: keys[{index}].retiredAt must be a unix time")
                retired_at[kid] = float(retired)
    elif isinstance(raw_keys, dict):
        for kid, secret in raw_keys.items():
            if not isinstance(secret, str) or not secret or not kid:
                raise KeyringError(f"{source}: key {kid!r} needs a non-empty secret")
            keys[str(kid)] = secret.encode()
    else:
        raise KeyringError(f"{source}: 'keys' must be a list of {{kid, secret}} objects")
    if not keys:
        raise KeyringError(f"{source}: the keyring holds no keys")
    active = document.get("activeKid", document.get("active_kid"))
    if not isinstance(active, str) or active not in keys:
        raise KeyringError(f"{source}: 'activeKid' must name one of the keys ({', '.join(keys)})")
    refresh = document.get("refreshSecret")
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise KeyringError(f"{source}: 'refreshSecret' must be a non-empty string")
    retired_at.pop(active, None)
    return KeySet(
        active_kid=active,
        keys=keys,
        refresh_secret=refresh.encode() if isinstance(refresh, str) else None,
        source=source,
        retired_at=retired_at,
    )


class Keyring:
    """Thread-safe holder of the current :class:`KeySet` with hot :meth:`reload`."""

    def __init__(
        self,
        *,
        keyring_file: str = "",
        jwt_secret: str = "",
        refresh_secret: str = "",
        production: bool = False,
    ) -> None:
        self._file = Path(keyring_file) if keyring_file else None
        self._jwt_secret = jwt_secret
        self._refresh_secret = refresh_secret
        self._production = production
        self._lock = threading.Lock()
        self._keyset = self._load()

    @property
    def keyset(self) -> KeySet:
        return self._keyset

    @property
    def file(self) -> Path | None:
        return self._file

    def _load(self) -> KeySet:
        if self._file is not None:
            try:
                if self._production and readable_by_others(self._file):
                    raise KeyringError(
                        f"JWT_KEYRING_FILE {self._file} is readable or writable by group or "
                        f"others (mode {self._file.stat().st_mode & 0o777:o}); production "
                        f"refuses it: chmod 600 {self._file}"
                    )
                text = self._file.read_text(encoding="utf-8")
                mtime = self._file.stat().st_mtime
            except OSError as error:
                raise KeyringError(
                    f"cannot read JWT_KEYRING_FILE {self._file}: {error.strerror or error}"
                ) from error
            try:
                document = json.loads(text)
            except json.JSONDecodeError as error:
                raise KeyringError(f"{self._file}: not valid JSON ({error.msg})") from error
            keyset = parse_keyring_document(document, str(self._file))
            # A non-active key without ``retiredAt`` retired when the file was last written.
            retired = {
                kid: keyset.retired_at.get(kid, mtime)
                for kid in keyset.keys
                if kid != keyset.active_kid
            }
            keyset = KeySet(
                active_kid=keyset.active_kid,
                keys=keyset.keys,
                refresh_secret=(
                    self._refresh_secret.encode() if self._refresh_secret else keyset.refresh_secret
                ),
                source=keyset.source,
                loaded_from_mtime=mtime,
                retired_at=retired,
            )
        elif self._jwt_secret:
            kid = derived_kid(self._jwt_secret)
            keyset = KeySet(
                active_kid=kid,
                keys={kid: self._jwt_secret.encode()},
                refresh_secret=self._refresh_secret.encode() if self._refresh_secret else None,
                source="JWT_SECRET",
            )
        else:
            if self._production:
                raise KeyringError(
                    "no JWT signing secret configured: set JWT_KEYRING_FILE or JWT_SECRET "
                    "(and JWT_REFRESH_SECRET); production refuses to start without them"
                )
            secret = secrets.token_urlsafe(48)
            kid = "ephemeral-" + secrets.token_hex(4)
            log.warning(
                "no JWT secret configured: using a random per-process key; tokens will not "
                "survive a restart (set JWT_KEYRING_FILE or JWT_SECRET)"
            )
            keyset = KeySet(
                active_kid=kid,
                keys={kid: secret.encode()},
                refresh_secret=None,
                source="ephemeral",
                ephemeral=True,
            )
        if self._production:
            check_production_keyset(keyset)
        return keyset

    def reload(self) -> KeySet:
        """Re-read the key source. On error the previous keys stay in force and the error is
        raised to the caller."""
        with self._lock:
            keyset = self._load()
            previous = self._keyset
            self._keyset = keyset
        if previous.keys.keys() != keyset.keys.keys() or previous.active_kid != keyset.active_kid:
            log.info(
                "JWT keyring reloaded",
                extra={"active_kid": keyset.active_kid, "kids": sorted(keyset.keys)},
            )
        return keyset

    def reload_if_changed(self) -> bool:
        """Reload when the keyring file's mtime changed; returns whether a reload happened."""
        if self._file is None:
            return False
        try:
            mtime = os.stat(self._file).st_mtime
        except OSError:
            return False
        if mtime == self._keyset.loaded_from_mtime:
            return False
        self.reload()
        return True


def check_production_keyset(keyset: KeySet) -> None:
    """Refuse weak or missing secrets (raises :class:`KeyringError` naming the problem)."""
    for kid, secret in keyset.keys.items():
        problem = secret_weakness(secret.decode(errors="replace"))
        if problem:
            raise KeyringError(
                f"JWT signing key {kid!r} from {keyset.source} is too weak for production: "
                f"{problem}"
            )
    if keyset.refresh_secret is None:
        raise KeyringError(
            "no refresh-token secret configured: set JWT_REFRESH_SECRET (or 'refreshSecret' in "
            "the keyring file); production refuses to start without it"
        )
    problem = secret_weakness(keyset.refresh_secret.decode(errors="replace"))
    if problem:
        raise KeyringError(f"JWT_REFRESH_SECRET is too weak for production: {problem}")
    if keyset.refresh_secret in keyset.keys.values():
        raise KeyringError("JWT_REFRESH_SECRET must differ from the access-token signing keys")
