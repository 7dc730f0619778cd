"""Accounts and tokens over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import jwt
from server_support import TEST_JWT_SECRET, AppFactory, bearer, register

from ringrift.server.security.keyring import derived_kid


def _code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False
    assert body["error"]["requestId"]
    return str(body["error"]["code"])


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "x",
        "iat": now,
        "exp": now + 600,
        "iss": "ringrift",
        "aud": "ringrift-api",
        "tv": 0,
        "type": "access",
    }
    claims.update(overrides)
    return claims


def _sign(claims: dict[str, Any], secret: str = TEST_JWT_SECRET, kid: str | None = None) -> str:
    return jwt.encode(
        claims, secret, algorithm="HS256", headers={"kid": kid or derived_kid(TEST_JWT_SECRET)}
    )


async def test_register_login_me_and_profile(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/register",
        json={
            "email": "Alice@Example.com",
            "username": "alice",
            "password": "s3cret-violet-harbor",
        },
    )
    # Registering issues no tokens (the answer is the same for a known address); sign in.
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["data"]["accepted"] is True
    assert "accessToken" not in body["data"]
    signed_in = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "s3cret-violet-harbor"}
    )
    data = signed_in.json()["data"]
    assert set(data) >= {"user", "accessToken", "refreshToken"}
    assert data["user"]["email"] == "alice@example.com"

    header = jwt.get_unverified_header(data["accessToken"])
    assert header["alg"] == "HS256" and header["kid"]
    claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
    assert {"sub", "iat", "exp", "iss", "aud", "tv"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 15 * 60

    login = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "s3cret-violet-harbor"}
    )
    assert login.status_code == 200
    ldata = login.json()["data"]
    assert ldata["accessToken"] and ldata["refreshToken"] and ldata["expiresIn"] == 900

    me = await client.get("/api/users/me", headers=bearer(ldata["accessToken"]))
    assert me.status_code == 200
    assert me.json()["data"]["user"]["username"] == "alice"

    profile = await client.get(f"/api/users/{data['user']['id']}")
    assert profile.status_code == 200
    pdata = profile.json()["data"]
    assert "email" not in pdata["user"]
    assert pdata["stats"]["gamesPlayed"] == 0 and pdata["ratingHistory"] == []

    missing = await client.get("/api/users/does-not-exist")
    assert missing.status_code == 404 and _code(missing) == "RESOURCE_NOT_FOUND"


async def test_duplicate_and_invalid_registration(client: httpx.AsyncClient) -> None:
    await register(client, "bob")
    dup_email = await client.post(
        "/api/auth/register",
        json={
            "email": "BOB@example.com",
            "username": "bobby",
            "password": "anchor-violet-ridge-27",
        },
    )
    # A known address gets the same answer as a new one, and no second account.
    fresh = await client.post(
        "/api/auth/register",
        json={
            "email": "fresh@example.com",
            "username": "freshman",
            "password": "anchor-violet-ridge-27",
        },
    )
    assert dup_email.status_code == fresh.status_code == 202
    assert dup_email.json() == fresh.json()
    not_created = await client.post(
        "/api/auth/login", json={"email": "bob@example.com", "password": "anchor-violet-ridge-27"}
    )
    assert _code(not_created) == "AUTH_INVALID_CREDENTIALS"
    # ... nor a "bobby" account: the name is still free.
    bobby = await register(client, "bobby")
    assert bobby["user"]["username"] == "bobby"
    dup_name = await client.post(
        "/api/auth/register",
        json={
            "email": "other@example.com",
            "username": "BOB",
            "password": "anchor-violet-ridge-27",
        },
    )
    assert dup_name.status_code == 409 and _code(dup_name) == "RESOURCE_USERNAME_EXISTS"
    for bad in (
        {"email": "not-an-email", "username": "carol", "password": "anchor-violet-ridge-27"},
        {"email": "c@example.com", "username": "c", "password": "anchor-violet-ridge-27"},
        {"email": "c@example.com", "username": "carol", "password": "short"},
        {"email": "c@example.com", "username": "carol"},
    ):
        response = await client.post("/api/auth/register", json=bad)
        assert response.status_code == 400, bad
        assert _code(response) == "VALIDATION_FAILED"
        assert response.json()["error"]["details"]
    # Nothing was created by the rejected requests.
    login = await client.post(
        "/api/auth/login", json={"email": "c@example.com", "password": "anchor-violet-ridge-27"}
    )
    assert _code(login) == "AUTH_INVALID_CREDENTIALS"


async def test_refresh_rotation_and_reuse_detection(app_factory: AppFactory) -> None:
    # No reuse interval: the second presentation is a reuse at once.
    async with app_factory(refresh_reuse_interval_seconds=0) as (_app, client):
        await _rotation_and_reuse(client)


async def _rotation_and_reuse(client: httpx.AsyncClient) -> None:
    user = await register(client)
    first = user["refreshToken"]
    rotated = await client.post("/api/auth/refresh", json={"refreshToken": first})
    assert rotated.status_code == 200
    second = rotated.json()["data"]["refreshToken"]
    assert second != first
    assert (
        await client.get("/api/users/me", headers=bearer(rotated.json()["data"]["accessToken"]))
    ).status_code == 200

    # Presenting the already-rotated token again: reuse -> the whole family is revoked.
    reused = await client.post("/api/auth/refresh", json={"refreshToken": first})
    assert reused.status_code == 401 and _code(reused) == "AUTH_REFRESH_TOKEN_REUSED"
    after = await client.post("/api/auth/refresh", json={"refreshToken": second})
    assert after.status_code == 401 and _code(after) == "AUTH_REFRESH_TOKEN_INVALID"

    unknown = await client.post("/api/auth/refresh", json={"refreshToken": "nope"})
    assert _code(unknown) == "AUTH_REFRESH_TOKEN_INVALID"

    # Another login is an independent family and still works.
    login = await client.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )
    ok = await client.post(
        "/api/auth/refresh", json={"refreshToken": login.json()["data"]["refreshToken"]}
    )
    assert ok.status_code == 200


async def test_concurrent_refresh_with_one_token_gets_one_successor(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    results = await asyncio.gather(
        *[
            client.post("/api/auth/refresh", json={"refreshToken": user["refreshToken"]})
            for _ in range(4)
        ]
    )
    # Within the reuse interval every racer gets the same successor; the family lives on.
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    successors = {r.json()["data"]["refreshToken"] for r in results}
    assert len(successors) == 1
    (successor,) = successors
    assert (
        await client.post("/api/auth/refresh", json={"refreshToken": successor})
    ).status_code == 200


async def test_logout_and_logout_all(client: httpx.AsyncClient) -> None:
    user = await register(client)
    second = (
        await client.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
    ).json()["data"]

    out = await client.post("/api/auth/logout", json={"refreshToken": user["refreshToken"]})
    assert out.status_code == 200
    gone = await client.post("/api/auth/refresh", json={"refreshToken": user["refreshToken"]})
    assert _code(gone) == "AUTH_REFRESH_TOKEN_INVALID"
    # The other session is untouched.
    assert (
        await client.get("/api/users/me", headers=bearer(second["accessToken"]))
    ).status_code == 200

    unknown = await client.post("/api/auth/logout", json={"refreshToken": "not-a-token"})
    assert _code(unknown) == "AUTH_REFRESH_TOKEN_INVALID"

    all_out = await client.post("/api/auth/logout-all", headers=bearer(second["accessToken"]))
    assert all_out.status_code == 200
    revoked = await client.get("/api/users/me", headers=bearer(second["accessToken"]))
    assert revoked.status_code == 401 and _code(revoked) == "AUTH_TOKEN_INVALID"
    refresh = await client.post("/api/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert refresh.status_code == 401 and _code(refresh) == "AUTH_REFRESH_TOKEN_INVALID"
    # A new login works again.
    again = await client.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )
    assert (
        await client.get("/api/users/me", headers=bearer(again.json()["data"]["accessToken"]))
    ).status_code == 200


async def test_every_token_failure_has_its_code(client: httpx.AsyncClient) -> None:
    user = await register(client)
    uid = user["user"]["id"]
    good = user["accessToken"]
    assert (await client.get("/api/users/me", headers=bearer(good))).status_code == 200

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    head, payload, signature = good.split(".")
    tampered_claims = jwt.decode(good, options={"verify_signature": False})
    tampered_claims["sub"] = "someone-else"
    tampered = f"{head}.{b64(tampered_claims)}.{signature}"
    alg_none = (
        f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': derived_kid(TEST_JWT_SECRET)})}.{payload}."
    )

    cases = {
        "expired": (_sign(_claims(sub=uid, iat=1_000, exp=2_000)), "AUTH_TOKEN_EXPIRED"),
        "tampered": (tampered, "AUTH_TOKEN_INVALID"),
        "wrong key, same kid": (
            _sign(_claims(sub=uid), secret="another-secret-0123456789abcdefghijklmnop"),
            "AUTH_TOKEN_INVALID",
        ),
        "unknown kid": (_sign(_claims(sub=uid), kid="old-key"), "AUTH_TOKEN_INVALID"),
        "wrong type": (_sign(_claims(sub=uid, type="refresh")), "AUTH_TOKEN_INVALID"),
        "wrong audience": (_sign(_claims(sub=uid, aud="other")), "AUTH_TOKEN_INVALID"),
        "wrong issuer": (_sign(_claims(sub=uid, iss="evil")), "AUTH_TOKEN_INVALID"),
        "alg none": (alg_none, "AUTH_TOKEN_INVALID"),
        "refresh token used as access": (user["refreshToken"], "AUTH_TOKEN_INVALID"),
        "garbage": ("abc.def", "AUTH_TOKEN_INVALID"),
        "stale token version": (_sign(_claims(sub=uid, tv=7)), "AUTH_TOKEN_INVALID"),
        "unknown subject": (_sign(_claims(sub="nobody")), "AUTH_TOKEN_INVALID"),
    }
    for name, (token, code) in cases.items():
        response = await client.get("/api/users/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert _code(response) == code, name

    missing = await client.get("/api/users/me")
    assert missing.status_code == 401 and _code(missing) == "AUTH_REQUIRED"
    basic = await client.get("/api/users/me", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401 and _code(basic) == "AUTH_TOKEN_INVALID"


async def test_login_throttle(app_factory: AppFactory) -> None:
    # No account lock any more: failures are throttled per address+email (the attacker's
    # address waits); tests/security/test_login_throttle.py covers the other limits.
    async with app_factory(login_max_failures_per_address=3) as (_app, client):
        user = await register(client)
        wrong = {"email": user["email"], "password": "wrong-password"}
        codes = [_code(await client.post("/api/auth/login", json=wrong)) for _ in range(4)]
        assert codes == ["AUTH_INVALID_CREDENTIALS"] * 3 + ["AUTH_LOGIN_LOCKED_OUT"]
        waiting = await client.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
        assert waiting.status_code == 429 and _code(waiting) == "AUTH_LOGIN_LOCKED_OUT"
        assert int(waiting.headers["retry-after"]) > 0
        ghost = {"email": "ghost@example.com", "password": "whatever-1"}
        ghost_codes = [_code(await client.post("/api/auth/login", json=ghost)) for _ in range(4)]
        assert ghost_codes == codes


async def test_secret_rotation_rejects_old_tokens(app_factory: AppFactory) -> None:
    async with app_factory() as (_app, client):
        user = await register(client)
    async with app_factory(jwt_secret="rotated-secret-abcdefghijklmnopqrstuvwxyz-0123") as (
        _app,
        client,
    ):
        old = await client.get("/api/users/me", headers=bearer(user["accessToken"]))
        assert old.status_code == 401 and _code(old) == "AUTH_TOKEN_INVALID"
        login = await client.post(
            "/api/auth/login", json={"email": user["email"], "password": user["password"]}
        )
        assert login.status_code == 200
        fresh = await client.get(
            "/api/users/me", headers=bearer(login.json()["data"]["accessToken"])
        )
        assert fresh.status_code == 200
