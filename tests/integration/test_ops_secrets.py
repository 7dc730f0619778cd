"""Secrets rotation against a running app: immediate rejects old tokens, graceful keeps them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import jwt
import pytest
from server_support import bearer, make_settings, register, running_app

from ringrift.ops.secrets import new_keyring, rotate, write_keyring
from ringrift.server.config import Settings
from ringrift.server.security.keyring import KeyringError


async def _me_status(client, token: str) -> tuple[int, str | None]:  # type: ignore[no-untyped-def]
    response = await client.get("/api/users/me", headers=bearer(token))
    body = response.json()
    return response.status_code, (body.get("error") or {}).get("code")


async def _wait_for(client, token: str, status: int, timeout: float = 8.0) -> str | None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        code, error = await _me_status(client, token)
        if code == status or loop.time() > deadline:
            assert code == status, (code, error)
            return error
        await asyncio.sleep(0.25)


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    write_keyring(path, new_keyring())
    return path


@pytest.fixture
def keyring_settings(keyring_file: Path, sqlite_template: Path, tmp_path: Path) -> Settings:
    """App settings on a fresh SQLite copy, signing with the keyring file."""
    db = tmp_path / "app.db"
    db.write_bytes(sqlite_template.read_bytes())
    return make_settings(
        f"sqlite+aiosqlite:///{db}", jwt_secret="", jwt_keyring_file=str(keyring_file)
    )


async def test_immediate_rotation_rejects_old_tokens_without_restart(
    keyring_file: Path, keyring_settings: Settings
) -> None:
    async with running_app(keyring_settings) as (_app, client):
        user = await register(client)
        old = user["accessToken"]
        assert (await _me_status(client, old))[0] == 200
        result = rotate(keyring_file, "immediate")
        assert await _wait_for(client, old, 401) == "AUTH_TOKEN_INVALID"
        login = await client.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
        assert login.status_code == 200, login.text
        new = login.json()["data"]["accessToken"]
        assert jwt.get_unverified_header(new)["kid"] == result.active_kid
        assert (await _me_status(client, new))[0] == 200
        # The refresh secret rotated too: the old refresh token is dead.
        refreshed = await client.post(
            "/api/auth/refresh", json={"refreshToken": user["refreshToken"]}
        )
        assert refreshed.status_code == 401


async def test_graceful_rotation_keeps_old_tokens_valid(
    keyring_file: Path, keyring_settings: Settings
) -> None:
    async with running_app(keyring_settings) as (_app, client):
        user = await register(client)
        old = user["accessToken"]
        old_kid = jwt.get_unverified_header(old)["kid"]
        result = rotate(keyring_file, "graceful")
        assert old_kid in result.verifying_kids
        # Wait until the app signs with the new key, then check the old token still works.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 8
        while True:
            login = await client.post(
                "/api/auth/login", json={"email": user["email"], "password": user["password"]}
            )
            kid = jwt.get_unverified_header(login.json()["data"]["accessToken"])["kid"]
            if kid == result.active_kid or loop.time() > deadline:
                break
            await asyncio.sleep(0.25)
        assert kid == result.active_kid
        assert (await _me_status(client, old))[0] == 200


def test_rotation_refuses_a_malformed_keyring_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({"keys": []}))
    before = path.read_bytes()
    with pytest.raises(KeyringError):
        rotate(path, "immediate")
    assert path.read_bytes() == before


def test_graceful_rotation_prunes_keys_whose_tokens_expired(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first = rotate(path, "graceful", now=1_000_000)
    second = rotate(path, "graceful", now=1_000_100)
    assert second.verifying_kids == [second.active_kid, first.active_kid]
    third = rotate(path, "graceful", now=1_000_100 + 16 * 60)
    assert first.active_kid not in third.verifying_kids
    assert second.active_kid in third.verifying_kids
    assert (path.stat().st_mode & 0o777) == 0o600
