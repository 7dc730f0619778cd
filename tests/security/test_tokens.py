"""Access tokens after a graceful rotation, token lifetimes, and refresh races between tabs,
against a real app process reading a keyring file."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from realtime_support import Process, app_process

from ringrift.ops.secrets import new_keyring, read_keyring, rotate, write_keyring

PASSWORD = "anchor-violet-ridge-27"


@pytest.fixture(scope="module")
def keyring_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keyring.json"
    write_keyring(path, new_keyring())
    return path


@pytest.fixture(scope="module")
def keyed_app(pg_database: str, keyring_path: Path) -> Iterator[Process]:
    process = app_process(pg_database, jwt_keyring_file=str(keyring_path), jwt_secret="").start()
    yield process
    process.stop()


def _register(base: str) -> dict[str, Any]:
    name = "t" + uuid.uuid4().hex[:9]
    response = httpx.post(
        f"{base}/api/auth/register",
        json={"email": f"{name}@example.com", "username": name, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    response = httpx.post(
        f"{base}/api/auth/login",
        json={"email": f"{name}@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _forge(secret: str, kid: str, user_id: str, issued: int, lifetime: int = 600) -> str:
    claims = {
        "sub": user_id,
        "iat": issued,
        "exp": issued + lifetime,
        "iss": "ringrift",
        "aud": "ringrift-api",
        "tv": 0,
        "type": "access",
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def _me(base: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{base}/api/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_token_lifetime_above_the_configured_maximum_is_rejected(
    keyed_app: Process, keyring_path: Path
) -> None:
    user = _register(keyed_app.url)
    document = read_keyring(keyring_path)
    assert document is not None
    active = next(k for k in document["keys"] if k["kid"] == document["activeKid"])
    now = int(time.time())
    uid = user["user"]["id"]
    normal = _forge(active["secret"], active["kid"], uid, now, lifetime=900)
    assert _me(keyed_app.url, normal).status_code == 200
    year = _forge(active["secret"], active["kid"], uid, now, lifetime=365 * 24 * 3600)
    assert _error(_me(keyed_app.url, year)) == (401, "AUTH_TOKEN_INVALID")


def test_retired_key_verifies_only_tokens_issued_before_retirement(
    keyed_app: Process, keyring_path: Path
) -> None:
    user = _register(keyed_app.url)
    old = read_keyring(keyring_path)
    assert old is not None
    old_key = next(k for k in old["keys"] if k["kid"] == old["activeKid"])
    # Retired two minutes ago, so that tokens "issued after retirement" are not in the future.
    rotate(keyring_path, "graceful", now=time.time() - 120)
    rotated = read_keyring(keyring_path)
    assert rotated is not None and rotated["activeKid"] != old_key["kid"]
    retired_at = next(k for k in rotated["keys"] if k["kid"] == old_key["kid"])["retiredAt"]
    uid = user["user"]["id"]

    # Wait until the app signs with the new key.
    deadline = time.monotonic() + 10
    while True:
        login = httpx.post(
            f"{keyed_app.url}/api/auth/login",
            json={"email": user["user"]["email"], "password": PASSWORD},
            timeout=10,
        )
        kid = jwt.get_unverified_header(login.json()["data"]["accessToken"])["kid"]
        if kid == rotated["activeKid"]:
            break
        assert time.monotonic() < deadline, "the app did not pick up the rotated keyring"
        time.sleep(0.2)

    # Tokens from before the rotation keep working until they expire...
    older = _forge(old_key["secret"], old_key["kid"], uid, retired_at - 60)
    assert _me(keyed_app.url, older).status_code == 200
    # ...but the retired key cannot mint new ones.
    for issued in (retired_at + 60, int(time.time()) - 1):
        minted = _forge(old_key["secret"], old_key["kid"], uid, issued)
        assert _error(_me(keyed_app.url, minted)) == (401, "AUTH_TOKEN_INVALID")


async def test_two_tabs_refreshing_at_once_stay_logged_in(keyed_app: Process) -> None:
    user = _register(keyed_app.url)
    shared = user["refreshToken"]
    async with httpx.AsyncClient(base_url=keyed_app.url, timeout=10) as http:
        tab_a, tab_b = await asyncio.gather(
            http.post("/api/auth/refresh", json={"refreshToken": shared}),
            http.post("/api/auth/refresh", json={"refreshToken": shared}),
        )
        assert (tab_a.status_code, tab_b.status_code) == (200, 200), (tab_a.text, tab_b.text)
        successor = tab_a.json()["data"]["refreshToken"]
        assert tab_b.json()["data"]["refreshToken"] == successor
        # A tab that reloads a second later still gets the same successor.
        await asyncio.sleep(1)
        late = await http.post("/api/auth/refresh", json={"refreshToken": shared})
        assert late.status_code == 200 and late.json()["data"]["refreshToken"] == successor
        # Past the reuse interval (5 s) the old token is a reuse: the family is revoked.
        await asyncio.sleep(5)
        reused = await http.post("/api/auth/refresh", json={"refreshToken": shared})
        assert _error(reused) == (401, "AUTH_REFRESH_TOKEN_REUSED")
        after = await http.post("/api/auth/refresh", json={"refreshToken": successor})
        assert _error(after) == (401, "AUTH_REFRESH_TOKEN_INVALID")
