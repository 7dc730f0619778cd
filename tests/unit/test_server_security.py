"""Keyring, access tokens, refresh digests and password hashing."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jwt
import pytest

from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.security.keyring import (
    Keyring,
    KeyringError,
    derived_kid,
    secret_weakness,
)
from ringrift.server.security.passwords import Passwords
from ringrift.server.security.tokens import TokenService

STRONG = "kQ3vX9pL2mZ7wR4tY8nB1cF6hJ5dG0sKe-Tq2Wn5Zr7Tk1Mv4"
STRONG_2 = "u8Hq2Wn5Zr7Tk1Mv4Xb9Lc3Pf6Sd0GjR-yP4mE7aQ1zN8vC3xW"


def _write(path: Path, document: object) -> None:
    path.write_text(json.dumps(document))


def _tokens(keyring: Keyring) -> TokenService:
    return TokenService(keyring, issuer="ringrift", audience="ringrift-api", access_ttl=900)


def _code(call: object) -> ErrorCode:
    with pytest.raises(ApiError) as info:
        call()  # type: ignore[operator]
    return info.value.code


def test_secret_weakness_rules() -> None:
    assert secret_weakness("") == "it is empty"
    assert "placeholder" in (secret_weakness("changeme") or "")
    assert "shorter" in (secret_weakness("abcdefghij0123456789") or "")
    assert "distinct" in (secret_weakness("ab" * 20) or "")
    assert secret_weakness(STRONG) is None


def test_production_refuses_missing_and_weak_secrets(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no JWT signing secret"):
        Keyring(production=True)
    with pytest.raises(KeyringError, match="too weak"):
        Keyring(jwt_secret="secret", refresh_secret=STRONG_2, production=True)
    with pytest.raises(KeyringError, match="refresh-token secret"):
        Keyring(jwt_secret=STRONG, production=True)
    with pytest.raises(KeyringError, match="must differ"):
        Keyring(jwt_secret=STRONG, refresh_secret=STRONG, production=True)
    ring = tmp_path / "ring.json"
    _write(ring, {"activeKid": "a", "keys": [{"kid": "a", "secret": "short"}]})
    ring.chmod(0o600)  # production refuses a group/world-readable keyring before reading it
    with pytest.raises(KeyringError, match=r"'a'.*too weak"):
        Keyring(keyring_file=str(ring), refresh_secret=STRONG_2, production=True)
    ok = Keyring(jwt_secret=STRONG, refresh_secret=STRONG_2, production=True)
    assert ok.keyset.active_kid == derived_kid(STRONG)
    # Development accepts anything, including no secret at all (ephemeral key).
    assert Keyring().keyset.ephemeral


def test_keyring_file_validation(tmp_path: Path) -> None:
    ring = tmp_path / "ring.json"
    with pytest.raises(KeyringError, match="cannot read"):
        Keyring(keyring_file=str(ring))
    for document, message in (
        ("not json", "not valid JSON"),
        ([], "must be a JSON object"),
        ({"activeKid": "x", "keys": []}, "holds no keys"),
        ({"activeKid": "x", "keys": [{"kid": "a", "secret": STRONG}]}, "activeKid"),
        ({"activeKid": "a", "keys": [{"kid": "a"}]}, "non-empty 'kid' and 'secret'"),
        (
            {"activeKid": "a", "keys": [{"kid": "a", "secret": STRONG}] * 2},
            "duplicate kid",
        ),
    ):
        ring.write_text(document if isinstance(document, str) else json.dumps(document))
        with pytest.raises(KeyringError, match=message):
            Keyring(keyring_file=str(ring))


def test_rotation_immediate_and_graceful_via_reload(tmp_path: Path) -> None:
    ring = tmp_path / "ring.json"
    _write(ring, {"activeKid": "k1", "keys": [{"kid": "k1", "secret": STRONG}]})
    keyring = Keyring(keyring_file=str(ring))
    tokens = _tokens(keyring)
    old = tokens.issue_access("user-1", 0)
    assert tokens.verify_access(old).kid == "k1"

    # Graceful: new active key, old key still listed -> old tokens verify, new ones use k2.
    _write(
        ring,
        {
            "activeKid": "k2",
            "keys": [{"kid": "k1", "secret": STRONG}, {"kid": "k2", "secret": STRONG_2}],
        },
    )
    keyring.reload()
    assert tokens.verify_access(old).kid == "k1"
    new = tokens.issue_access("user-1", 0)
    assert jwt.get_unverified_header(new)["kid"] == "k2"

    # Immediate: old key removed -> old tokens are AUTH_TOKEN_INVALID at once.
    _write(ring, {"activeKid": "k2", "keys": [{"kid": "k2", "secret": STRONG_2}]})
    os.utime(ring, (time.time() + 5, time.time() + 5))
    assert keyring.reload_if_changed() is True
    assert keyring.reload_if_changed() is False
    assert _code(lambda: tokens.verify_access(old)) == ErrorCode.AUTH_TOKEN_INVALID
    assert tokens.verify_access(new).user_id == "user-1"

    # A broken file keeps the previous keys in force.
    ring.write_text("{broken")
    with pytest.raises(KeyringError):
        keyring.reload()
    assert tokens.verify_access(new).user_id == "user-1"


def test_access_token_claims_and_failures() -> None:
    keyring = Keyring(jwt_secret=STRONG)
    tokens = _tokens(keyring)
    now = time.time()
    token = tokens.issue_access("u1", 3, now=now)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": derived_kid(STRONG)}
    claims = jwt.decode(token, STRONG, algorithms=["HS256"], audience="ringrift-api")
    assert claims["sub"] == "u1" and claims["tv"] == 3 and claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == 900 and claims["iss"] == "ringrift"

    expired = tokens.issue_access("u1", 3, now=now - 10_000)
    assert _code(lambda: tokens.verify_access(expired)) == ErrorCode.AUTH_TOKEN_EXPIRED
    other = _tokens(Keyring(jwt_secret=STRONG_2)).issue_access("u1", 3)
    assert _code(lambda: tokens.verify_access(other)) == ErrorCode.AUTH_TOKEN_INVALID
    hs512 = jwt.encode({**claims}, STRONG, algorithm="HS512", headers={"kid": derived_kid(STRONG)})
    assert _code(lambda: tokens.verify_access(hs512)) == ErrorCode.AUTH_TOKEN_INVALID
    missing_tv = jwt.encode(
        {k: v for k, v in claims.items() if k != "tv"},
        STRONG,
        algorithm="HS256",
        headers={"kid": derived_kid(STRONG)},
    )
    assert _code(lambda: tokens.verify_access(missing_tv)) == ErrorCode.AUTH_TOKEN_INVALID
    assert _code(lambda: tokens.verify_access("")) == ErrorCode.AUTH_TOKEN_INVALID


def test_refresh_digest_is_sha256_or_hmac() -> None:
    plain = _tokens(Keyring(jwt_secret=STRONG))
    peppered = _tokens(Keyring(jwt_secret=STRONG, refresh_secret=STRONG_2))
    token = plain.new_refresh_token()
    assert len(token) >= 40 and token != plain.new_refresh_token()
    import hashlib

    assert plain.refresh_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert peppered.refresh_digest(token) != plain.refresh_digest(token)
    assert len(peppered.refresh_digest(token)) == 64


def test_passwords_are_argon2id() -> None:
    passwords = Passwords(time_cost=1, memory_cost_kib=1024, parallelism=1)
    digest = passwords.hash("hunter2-hunter2")
    assert digest.startswith("$argon2id$")
    assert passwords.verify(digest, "hunter2-hunter2")
    assert not passwords.verify(digest, "wrong")
    assert not passwords.verify(None, "hunter2-hunter2")
    assert not passwords.verify("not-a-hash", "x")
    assert Passwords(2, 2048, 1).needs_rehash(digest)
