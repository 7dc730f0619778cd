"""The account lifecycle end to end, with a real local SMTP server, on SQLite and PostgreSQL:
email verification, password reset and change, deletion, export."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from server_support import AppFactory, bearer, register
from smtp_support import MailSink
from sqlalchemy import select, update

from ringrift.ops.services import RedisServer
from ringrift.rules import GameState, legal_moves
from ringrift.server.db.models import AccountToken, User, utcnow


def _code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False, body
    assert body["error"]["requestId"]
    return str(body["error"]["code"])


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


def _app(app_factory: AppFactory, smtp: MailSink, **overrides: Any) -> Any:
    values: dict[str, Any] = {"smtp_url": smtp.url(), "rated_requires_verified_email": True}
    values.update(overrides)
    return app_factory(**values)


async def _drain(app: FastAPI) -> None:
    await app.state.ctx.mailer.drain()


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def _db_user(app: FastAPI, user_id: str) -> User:
    async with app.state.ctx.db.session() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


# --- email verification ---------------------------------------------------------------------


async def test_register_mails_a_verification_link_that_verifies_once(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (app, client):
        alice = await register(client, "alice")
        assert alice["user"]["emailVerified"] is False
        mail = await smtp.wait_for("alice@example.com")
        assert mail.message["Subject"] == "Confirm your RingRift email address"
        assert "ringrift" in mail.message["From"].lower()
        token = mail.token
        assert len(token) >= 43  # 32 random bytes

        # Stored only as a hash.
        async with app.state.ctx.db.session() as session:
            hashes = (await session.scalars(select(AccountToken.token_hash))).all()
        assert hashes == [hashlib.sha256(token.encode()).hexdigest()]

        verified = await client.post("/api/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert verified.json()["data"]["user"]["emailVerified"] is True
        me = await client.get("/api/users/me", headers=bearer(alice["accessToken"]))
        assert me.json()["data"]["user"]["emailVerified"] is True

        again = await client.post("/api/auth/verify-email", json={"token": token})
        assert again.status_code == 400 and _code(again) == "AUTH_ACCOUNT_TOKEN_INVALID"
        resend = await client.post(
            "/api/account/verify-email/resend", headers=bearer(alice["accessToken"])
        )
        assert resend.status_code == 409 and _code(resend) == "AUTH_EMAIL_ALREADY_VERIFIED"


async def test_registering_a_known_address_mails_its_owner_and_answers_as_for_a_new_one(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (_, client):
        await register(client, "olga")
        await smtp.wait_for("olga@example.com")
        body = {"username": "olga2", "password": "an0ther-quiet-meadow"}
        known = await client.post("/api/auth/register", json={**body, "email": "OLGA@example.com"})
        new = await client.post(
            "/api/auth/register", json={**body, "username": "nina", "email": "nina@example.com"}
        )
        assert known.status_code == new.status_code == 202
        assert known.json() == new.json()
        notice = await smtp.wait_for("olga@example.com", count=2)
        assert notice.message["Subject"] == "You already have a RingRift account"
        assert "reset" in notice.body
        # No account was made, the owner's password still works, the attempt's does not.
        attempt = await _login(client, "olga@example.com", body["password"])
        assert _code(attempt) == "AUTH_INVALID_CREDENTIALS"
        assert (await _login(client, "olga@example.com", "correct-horse-1")).status_code == 200


async def test_resend_retires_the_older_link(app_factory: AppFactory, smtp: MailSink) -> None:
    async with _app(app_factory, smtp) as (app, client):
        bob = await register(client, "bob")
        first = (await smtp.wait_for("bob@example.com")).token
        resend = await client.post(
            "/api/account/verify-email/resend", headers=bearer(bob["accessToken"])
        )
        assert resend.status_code == 202, resend.text
        await _drain(app)
        second = (await smtp.wait_for("bob@example.com", count=2)).token
        assert second != first
        old = await client.post("/api/auth/verify-email", json={"token": first})
        assert _code(old) == "AUTH_ACCOUNT_TOKEN_INVALID"
        assert (await _db_user(app, bob["user"]["id"])).email_verified_at is None
        new = await client.post("/api/auth/verify-email", json={"token": second})
        assert new.status_code == 200


async def test_unverified_accounts_play_unrated_games_only(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (_, client):
        carol = await register(client, "carol")
        dave = await register(client, "dave")
        headers = bearer(carol["accessToken"])

        rated = await client.post(
            "/api/games", json={"boardType": "square8", "isRated": True}, headers=headers
        )
        assert rated.status_code == 403 and _code(rated) == "AUTH_EMAIL_NOT_VERIFIED"
        mine = await client.get("/api/games", headers=headers)
        assert mine.json()["data"]["total"] == 0  # nothing was created

        # Games with AI seats are never rated, so asking is not refused.
        with_ai = await client.post(
            "/api/games",
            json={
                "boardType": "square8",
                "isRated": True,
                "aiOpponents": {"count": 1, "difficulty": [1]},
            },
            headers=headers,
        )
        assert with_ai.status_code == 201 and with_ai.json()["data"]["game"]["isRated"] is False
        await client.post(
            f"/api/games/{with_ai.json()['data']['game']['id']}/leave", headers=headers
        )

        # Without an explicit choice the game is simply unrated.
        casual = await client.post("/api/games", json={"boardType": "square8"}, headers=headers)
        assert casual.status_code == 201 and casual.json()["data"]["game"]["isRated"] is False

        # Verified, carol creates a rated game; unverified dave cannot join it until he
        # verifies too.
        token = (await smtp.wait_for("carol@example.com")).token
        assert (await client.post("/api/auth/verify-email", json={"token": token})).is_success
        game = await client.post("/api/games", json={"boardType": "square8"}, headers=headers)
        assert game.json()["data"]["game"]["isRated"] is True
        game_id = game.json()["data"]["game"]["id"]
        join = await client.post(f"/api/games/{game_id}/join", headers=bearer(dave["accessToken"]))
        assert join.status_code == 403 and _code(join) == "AUTH_EMAIL_NOT_VERIFIED"
        seats = (await client.get(f"/api/games/{game_id}")).json()["data"]["game"]["seats"]
        assert len(seats) == 1
        token = (await smtp.wait_for("dave@example.com")).token
        assert (await client.post("/api/auth/verify-email", json={"token": token})).is_success
        join = await client.post(f"/api/games/{game_id}/join", headers=bearer(dave["accessToken"]))
        assert join.status_code == 200, join.text


# --- password reset -------------------------------------------------------------------------


async def test_password_reset_end_to_end(app_factory: AppFactory, smtp: MailSink) -> None:
    async with _app(app_factory, smtp) as (app, client):
        erin = await register(client, "erin", password="old-password-1")
        await smtp.wait_for("erin@example.com")  # the verification mail
        other = (await _login(client, "erin@example.com", "old-password-1")).json()["data"]

        unknown = await client.post(
            "/api/auth/password-reset", json={"email": "nobody@example.com"}
        )
        known = await client.post("/api/auth/password-reset", json={"email": "Erin@Example.com"})
        assert unknown.status_code == known.status_code == 202
        assert unknown.json() == known.json()
        await _drain(app)
        mail = await smtp.wait_for("erin@example.com", count=2)
        assert mail.message["Subject"] == "Reset your RingRift password"
        assert smtp.to("nobody@example.com") == []
        assert len(smtp.messages) == 2
        token = mail.token

        # A rejected new password leaves the token usable and nothing changed.
        weak = await client.post(
            "/api/auth/password-reset/confirm", json={"token": token, "newPassword": "short"}
        )
        assert weak.status_code == 400 and _code(weak) == "AUTH_PASSWORD_WEAK"
        assert "10 characters" in weak.json()["error"]["message"]
        assert (await _login(client, "erin@example.com", "old-password-1")).status_code == 200

        done = await client.post(
            "/api/auth/password-reset/confirm",
            json={"token": token, "newPassword": "new-password-2"},
        )
        assert done.status_code == 200, done.text

        old_login = await _login(client, "erin@example.com", "old-password-1")
        assert old_login.status_code == 401 and _code(old_login) == "AUTH_INVALID_CREDENTIALS"
        assert (await _login(client, "erin@example.com", "new-password-2")).status_code == 200
        for access in (erin["accessToken"], other["accessToken"]):
            me = await client.get("/api/users/me", headers=bearer(access))
            assert me.status_code == 401 and _code(me) == "AUTH_TOKEN_INVALID"
        refreshed = await client.post(
            "/api/auth/refresh", json={"refreshToken": other["refreshToken"]}
        )
        assert refreshed.status_code == 401

        reused = await client.post(
            "/api/auth/password-reset/confirm",
            json={"token": token, "newPassword": "third-password-3"},
        )
        assert reused.status_code == 400 and _code(reused) == "AUTH_ACCOUNT_TOKEN_INVALID"
        # The mailed token proved the address.
        assert (await _db_user(app, erin["user"]["id"])).email_verified_at is not None


async def test_expired_and_unknown_reset_tokens_get_one_error(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (app, client):
        await register(client, "frank", password="old-password-1")
        await client.post("/api/auth/password-reset", json={"email": "frank@example.com"})
        await _drain(app)
        token = (await smtp.wait_for("frank@example.com", count=2)).token
        async with app.state.ctx.db.session() as session:
            await session.execute(
                update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        for candidate in (token, "A" * 43):
            response = await client.post(
                "/api/auth/password-reset/confirm",
                json={"token": candidate, "newPassword": "new-password-2"},
            )
            assert response.status_code == 400
            assert _code(response) == "AUTH_ACCOUNT_TOKEN_INVALID"
        assert (await _login(client, "frank@example.com", "old-password-1")).status_code == 200


async def test_password_reset_is_rate_limited_per_address_and_per_email(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp, rate_limit_password_reset=2) as (app, client):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as far:
            for _ in range(2):
                ok = await client.post("/api/auth/password-reset", json={"email": "a@example.com"})
                assert ok.status_code == 202
            # Per email, whatever the address it comes from.
            limited = await far.post("/api/auth/password-reset", json={"email": "a@example.com"})
            assert limited.status_code == 429 and _code(limited) == "RATE_LIMIT_EXCEEDED"
            assert int(limited.headers["Retry-After"]) >= 1
            # Per address, whatever the email.
            other = await client.post("/api/auth/password-reset", json={"email": "b@example.com"})
            assert other.status_code == 429 and _code(other) == "RATE_LIMIT_EXCEEDED"


async def test_reset_limits_keep_addresses_out_of_redis(
    app_factory: AppFactory, smtp: MailSink, redis_server: RedisServer
) -> None:
    async with _app(app_factory, smtp, redis_url=redis_server.url) as (app, client):
        answer = await client.post("/api/auth/password-reset", json={"email": "z@example.com"})
        assert answer.status_code == 202
        await _drain(app)
        client_redis = Redis.from_url(redis_server.url)
        try:
            keys = [k.decode() async for k in client_redis.scan_iter("ringrift:rl:reset-*")]
        finally:
            await client_redis.aclose()
    # One counter per address and one per email (Redis is shared by the session's tests, so
    # earlier windows may still be there).
    assert {k.split(":")[2] for k in keys} == {"reset-ip", "reset-email"}
    assert not any("example.com" in k for k in keys)


# --- password change ------------------------------------------------------------------------


async def test_password_change_ends_every_other_session(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (_, client):
        gina = await register(client, "gina", password="old-password-1")
        other = (await _login(client, "gina@example.com", "old-password-1")).json()["data"]
        headers = bearer(gina["accessToken"])

        wrong = await client.post(
            "/api/account/password",
            json={"currentPassword": "not-it-at-all", "newPassword": "new-password-2"},
            headers=headers,
        )
        assert wrong.status_code == 403 and _code(wrong) == "AUTH_INVALID_CREDENTIALS"
        weak = await client.post(
            "/api/account/password",
            json={"currentPassword": "old-password-1", "newPassword": "1234"},
            headers=headers,
        )
        assert weak.status_code == 400 and _code(weak) == "AUTH_PASSWORD_WEAK"
        assert (await client.get("/api/users/me", headers=headers)).status_code == 200

        changed = await client.post(
            "/api/account/password",
            json={"currentPassword": "old-password-1", "newPassword": "new-password-2"},
            headers=headers,
        )
        assert changed.status_code == 200, changed.text
        fresh = changed.json()["data"]
        assert fresh["user"]["username"] == "gina" and fresh["tokenType"] == "Bearer"
        me = await client.get("/api/users/me", headers=bearer(fresh["accessToken"]))
        assert me.status_code == 200
        rotated = await client.post(
            "/api/auth/refresh", json={"refreshToken": fresh["refreshToken"]}
        )
        assert rotated.status_code == 200

        for access in (gina["accessToken"], other["accessToken"]):
            assert (await client.get("/api/users/me", headers=bearer(access))).status_code == 401
        for refresh in (gina["refreshToken"], other["refreshToken"]):
            response = await client.post("/api/auth/refresh", json={"refreshToken": refresh})
            assert response.status_code == 401
        assert (await _login(client, "gina@example.com", "old-password-1")).status_code == 401
        assert (await _login(client, "gina@example.com", "new-password-2")).status_code == 200


# --- deletion and export --------------------------------------------------------------------


async def _game_with_a_move(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any]
) -> dict[str, Any]:
    created = await client.post(
        "/api/games",
        json={"boardType": "square8", "isRated": False},
        headers=bearer(first["accessToken"]),
    )
    game_id = created.json()["data"]["game"]["id"]
    joined = await client.post(f"/api/games/{game_id}/join", headers=bearer(second["accessToken"]))
    game = joined.json()["data"]["game"]
    assert game["status"] == "active"
    mover = first if game["currentPlayer"] == 1 else second
    move = legal_moves(GameState.from_json(game["state"]))[0]
    played = await client.post(
        f"/api/games/{game_id}/moves",
        json={"move": move.to_json(), "version": game["version"]},
        headers=bearer(mover["accessToken"]),
    )
    assert played.status_code == 200, played.text
    result: dict[str, Any] = played.json()["data"]["game"]
    return result


async def test_export_lists_profile_games_and_moves(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp, rate_limit_account_export=1) as (_, client):
        hana = await register(client, "hana")
        ivan = await register(client, "ivan")
        game = await _game_with_a_move(client, hana, ivan)
        report = await client.post(
            "/api/reports",
            json={"userId": ivan["user"]["id"], "reason": "rude in the lobby"},
            headers=bearer(hana["accessToken"]),
        )
        assert report.status_code == 201

        export = await client.get("/api/account/export", headers=bearer(hana["accessToken"]))
        assert export.status_code == 200, export.text
        data = export.json()["data"]
        assert data["profile"]["email"] == "hana@example.com"
        assert data["profile"]["username"] == "hana"
        assert data["profile"]["emailVerified"] is False and data["profile"]["role"] == "player"
        assert [g["id"] for g in data["games"]] == [game["id"]]
        exported = data["games"][0]
        assert exported["mySeat"] == 1
        assert {s["username"] for s in exported["seats"]} == {"hana", "ivan"}
        assert len(exported["moves"]) == 1 and exported["moves"][0]["moveNumber"] == 1
        assert data["reportsFiled"][0]["reason"] == "rude in the lobby"
        assert data["chatMessages"] == []  # no chat posted (test_chat_rest.py has some)
        assert "passwordHash" not in str(data) and "password_hash" not in str(data)

        # A heavy read: limited per user.
        theirs = await client.get("/api/account/export", headers=bearer(ivan["accessToken"]))
        assert theirs.status_code == 200
        assert [g["mySeat"] for g in theirs.json()["data"]["games"]] == [2]
        limited = await client.get("/api/account/export", headers=bearer(ivan["accessToken"]))
        assert limited.status_code == 429 and _code(limited) == "RATE_LIMIT_EXCEEDED"

        anonymous = await client.get("/api/account/export")
        assert anonymous.status_code == 401 and _code(anonymous) == "AUTH_REQUIRED"


async def test_deletion_erases_personal_data_and_keeps_game_history(
    app_factory: AppFactory, smtp: MailSink
) -> None:
    async with _app(app_factory, smtp) as (app, client):
        jane = await register(client, "jane")
        karl = await register(client, "karl", password="karls-password")
        game = await _game_with_a_move(client, jane, karl)
        headers = bearer(karl["accessToken"])

        wrong = await client.request(
            "DELETE", "/api/account", json={"password": "not-karls-password"}, headers=headers
        )
        assert wrong.status_code == 403 and _code(wrong) == "AUTH_INVALID_CREDENTIALS"
        assert (await client.get("/api/users/me", headers=headers)).status_code == 200

        deleted = await client.request(
            "DELETE", "/api/account", json={"password": "karls-password"}, headers=headers
        )
        assert deleted.status_code == 200, deleted.text

        # Sessions ended, login gone, the email and the username are free again.
        assert (await client.get("/api/users/me", headers=headers)).status_code == 401
        refresh = await client.post(
            "/api/auth/refresh", json={"refreshToken": karl["refreshToken"]}
        )
        assert refresh.status_code == 401
        assert (await _login(client, "karl@example.com", "karls-password")).status_code == 401
        row = await _db_user(app, karl["user"]["id"])
        assert row.deleted_at is not None
        assert "karl" not in row.email and "karl" not in row.username_lower
        assert row.username == "deleted-user" and "argon2" not in row.password_hash

        # The game was resigned and stays readable, with a "deleted-user" seat.
        view = (await client.get(f"/api/games/{game['id']}")).json()["data"]["game"]
        assert view["status"] == "completed" and view["endReason"] == "resignation"
        seats = {s["userId"]: s for s in view["seats"]}
        assert seats[karl["user"]["id"]]["username"] == "deleted-user"
        assert seats[jane["user"]["id"]]["username"] == "jane"
        moves = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]
        # The move, then the resignation as a versioned withdrawal entry (F-30).
        assert [m["move"]["type"] for m in moves["moves"]] == ["place_ring", "withdraw"]
        profile = (await client.get(f"/api/users/{karl['user']['id']}")).json()["data"]
        assert profile["user"]["username"] == "deleted-user"

        again = await register(client, "karl")
        assert again["user"]["id"] != karl["user"]["id"]


# --- mail transport ---------------------------------------------------------------------------


async def test_without_smtp_mails_go_to_the_outbox(app_factory: AppFactory, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    async with app_factory(mail_outbox_dir=str(outbox)) as (app, client):
        await register(client, "lena")
        await client.post("/api/auth/password-reset", json={"email": "lena@example.com"})
        await client.post("/api/auth/password-reset", json={"email": "ghost@example.com"})
        await _drain(app)
        files = sorted(outbox.glob("*.eml"))
        assert len(files) == 2
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            text = path.read_text()
            assert "To: lena@example.com" in text and "token=" in text
        metrics = (await client.get("/metrics")).text
        assert 'ringrift_mail_total{result="outbox"} 2.0' in metrics


async def test_smtp_failure_is_counted_and_invisible_to_the_caller(
    app_factory: AppFactory,
) -> None:
    dead = MailSink()  # never started: nothing listens on its port
    async with app_factory(smtp_url=dead.url(), smtp_timeout_seconds=2) as (app, client):
        await register(client, "mona")
        answer = await client.post("/api/auth/password-reset", json={"email": "mona@example.com"})
        assert answer.status_code == 202
        await _drain(app)
        metrics = (await client.get("/metrics")).text
        assert 'ringrift_mail_total{result="failed"} 2.0' in metrics


async def test_mailed_tokens_never_reach_the_log(
    app_factory: AppFactory, smtp: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with _app(app_factory, smtp) as (app, client):
        await register(client, "olga")
        await client.post("/api/auth/password-reset", json={"email": "olga@example.com"})
        await _drain(app)
        tokens = [m.token for m in smtp.to("olga@example.com")]
        assert len(tokens) == 2
        for token in tokens:
            await client.post("/api/auth/verify-email", json={"token": token})
    # The app's own records (the test SMTP server logs what it receives, which is its job).
    logged = "\n".join(
        f"{r.getMessage()} {sorted(map(str, r.__dict__.values()))}"
        for r in caplog.records
        if r.name.startswith("ringrift")
    )
    assert "mail sent" in logged
    for token in tokens:
        assert token not in logged
