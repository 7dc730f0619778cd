"""Game chat over REST on SQLite and PostgreSQL: who reads and posts where, validation that
stores nothing, mutes, the per-game rate limit, account deletion (messages lose their text)
and the data export."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from server_support import AppFactory, bearer, register
from sqlalchemy import select
from typer.testing import CliRunner

from ringrift.server.admin_cli import admin_app
from ringrift.server.db.models import ChatMessage


async def _cli(database_url: str, *args: str) -> str:
    result = await asyncio.to_thread(
        CliRunner().invoke, admin_app, [*args, "--database-url", database_url]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False, body
    return str(body["error"]["code"])


async def _game(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any], **extra: Any
) -> str:
    created = await client.post(
        "/api/games",
        json={"boardType": "square8", "isRated": False, **extra},
        headers=bearer(first["accessToken"]),
    )
    assert created.status_code == 201, created.text
    game = created.json()["data"]["game"]
    game_id: str = game["id"]
    # A private game is joined with its invite token.
    params = {"invite": game["inviteToken"]} if game.get("inviteToken") else None
    joined = await client.post(
        f"/api/games/{game_id}/join", params=params, headers=bearer(second["accessToken"])
    )
    assert joined.status_code == 200, joined.text
    return game_id


async def _post(
    client: httpx.AsyncClient, game_id: str, user: dict[str, Any] | None, body: Any, **extra: Any
) -> httpx.Response:
    payload = {"channel": "players", "body": body, **extra}
    headers = bearer(user["accessToken"]) if user else {}
    return await client.post(f"/api/games/{game_id}/chat", json=payload, headers=headers)


async def _page(
    client: httpx.AsyncClient, game_id: str, user: dict[str, Any] | None, channel: str, **q: Any
) -> httpx.Response:
    headers = bearer(user["accessToken"]) if user else {}
    return await client.get(
        f"/api/games/{game_id}/chat", params={"channel": channel, **q}, headers=headers
    )


async def test_rest_chat_visibility_and_validation(app_factory: AppFactory) -> None:
    async with app_factory() as (_, client):
        ann, ben, cat = await register(client), await register(client), await register(client)
        game_id = await _game(client, ann, ben)

        posted = await _post(client, game_id, ann, "  hello <b>ben</b>  ")
        assert posted.status_code == 201, posted.text
        assert posted.json()["data"]["body"] == "hello <b>ben</b>"
        assert posted.json()["data"]["seq"] == 1
        assert (await _post(client, game_id, ben, "hi ann")).json()["data"]["seq"] == 2
        page = (await _page(client, game_id, ben, "players", after=1)).json()["data"]
        assert [m["body"] for m in page["messages"]] == ["hi ann"] and page["latest"] == 2

        # Spectators: anyone who may watch, signed in or not, reads; only signed-in users post.
        anonymous = await _post(client, game_id, None, "hi", channel="spectators")
        assert anonymous.status_code == 401 and _code(anonymous) == "AUTH_REQUIRED"
        said = await _post(client, game_id, cat, "go ann", channel="spectators")
        assert said.status_code == 201
        watched = await _page(client, game_id, None, "spectators")
        assert [m["body"] for m in watched.json()["data"]["messages"]] == ["go ann"]
        hidden = await _page(client, game_id, None, "players")
        assert hidden.status_code == 403 and _code(hidden) == "CHAT_CHANNEL_FORBIDDEN"
        assert (await _page(client, game_id, ann, "spectators")).status_code == 403
        forbidden = await _post(client, game_id, cat, "psst")
        assert forbidden.status_code == 403 and _code(forbidden) == "CHAT_CHANNEL_FORBIDDEN"

        bad_posts = [
            {"body": "x" * 301},
            {"body": " \t "},
            {"body": "new\nline"},
            {"body": "nul\x00"},
            {"body": "ok", "channel": "everyone"},
            {"body": "ok", "extra": 1},
            {"body": ["list"]},
        ]
        for extra in bad_posts:
            body = extra.pop("body")
            refused = await _post(client, game_id, ann, body, **extra)
            assert refused.status_code == 400, (extra, refused.text)
            assert _code(refused) == "VALIDATION_FAILED"
        assert (await _post(client, game_id, ann, "x" * 300)).status_code == 201  # the maximum
        for query in ({"after": -1}, {"after": "x"}, {"channel": "nope"}):
            bad = await client.get(
                f"/api/games/{game_id}/chat",
                params={"channel": "players", **query},
                headers=bearer(ann["accessToken"]),
            )
            assert bad.status_code == 400 and _code(bad) == "VALIDATION_FAILED"
        missing = await _post(client, "no-such-game", ann, "hello")
        assert missing.status_code == 404 and _code(missing) == "GAME_NOT_FOUND"
        final = (await _page(client, game_id, ann, "players")).json()["data"]
        assert final["latest"] == 3  # nothing stored by the refused posts

        # A private game's spectator channel is closed to outsiders.
        private = await _game(client, ann, ben, isPrivate=True)
        closed = await _page(client, private, cat, "spectators")
        assert closed.status_code == 403 and _code(closed) == "RESOURCE_ACCESS_DENIED"


async def test_mutes_and_the_per_game_limit(app_factory: AppFactory, database_url: str) -> None:
    async with app_factory(rate_limit_chat_per_game=3) as (_, client):
        ann, ben, mod = await register(client), await register(client), await register(client)
        game_id = await _game(client, ann, ben)
        await _cli(database_url, "grant-role", mod["email"], "moderator")
        muted = await client.post(
            f"/api/admin/users/{ann['user']['id']}/mute",
            json={"minutes": 30},
            headers=bearer(mod["accessToken"]),
        )
        assert muted.status_code == 200, muted.text
        assert muted.json()["data"]["chatMutedUntil"] is not None
        refused = await _post(client, game_id, ann, "let me talk")
        assert refused.status_code == 403 and _code(refused) == "CHAT_MUTED"
        bad = await client.post(
            f"/api/admin/users/{ann['user']['id']}/mute",
            json={"minutes": -1},
            headers=bearer(mod["accessToken"]),
        )
        assert bad.status_code == 400
        denied = await client.post(
            f"/api/admin/users/{ben['user']['id']}/mute",
            json={"minutes": 5},
            headers=bearer(ann["accessToken"]),
        )
        assert denied.status_code == 403
        assert "no longer muted" in await _cli(database_url, "mute", ann["email"], "--minutes", "0")
        assert (await _post(client, game_id, ann, "thanks")).status_code == 201

        assert (await _post(client, game_id, ben, "one")).status_code == 201
        assert (await _post(client, game_id, ann, "two")).status_code == 201
        limited = await _post(client, game_id, ben, "three")
        assert limited.status_code == 429 and _code(limited) == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 10
        page = (await _page(client, game_id, ann, "players")).json()["data"]
        assert page["latest"] == 3


async def test_deleting_an_account_blanks_its_messages_and_export_lists_them(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory() as (application, client):
        ann = await register(client, password="anns-password-1")
        ben, mod = await register(client), await register(client)
        game_id = await _game(client, ann, ben)
        await _cli(database_url, "grant-role", mod["email"], "moderator")
        first = (await _post(client, game_id, ann, "my secret plan")).json()["data"]
        await _post(client, game_id, ann, "removed soon")
        await _post(client, game_id, ben, "reply")
        second = (await _page(client, game_id, ann, "players")).json()["data"]["messages"][1]
        removed = await client.post(
            f"/api/chat/{second['id']}/remove", headers=bearer(mod["accessToken"])
        )
        assert removed.status_code == 200

        export = await client.get("/api/account/export", headers=bearer(ann["accessToken"]))
        assert export.status_code == 200, export.text
        mine = export.json()["data"]["chatMessages"]
        assert [(m["seq"], m["body"]) for m in mine] == [(1, "my secret plan"), (2, "removed soon")]
        assert mine[0]["gameId"] == game_id and mine[0]["channel"] == "players"
        assert mine[0]["removedAt"] is None and mine[1]["removedAt"] is not None

        reported = await client.post(
            f"/api/chat/{first['id']}/report",
            json={"reason": "spoilers"},
            headers=bearer(ben["accessToken"]),
        )
        assert reported.status_code == 201

        deleted = await client.request(
            "DELETE",
            "/api/account",
            json={"password": "anns-password-1"},
            headers=bearer(ann["accessToken"]),
        )
        assert deleted.status_code == 200, deleted.text
        page = (await _page(client, game_id, ben, "players")).json()["data"]
        assert [(m["body"], m["removed"]) for m in page["messages"]] == [
            (None, "author_deleted"),
            (None, "author_deleted"),
            ("reply", None),
        ]
        async with application.state.ctx.db.session() as session:
            rows = (
                await session.scalars(select(ChatMessage).where(ChatMessage.game_id == game_id))
            ).all()
        texts = {row.seq: row.body for row in rows}
        assert texts == {1: "", 2: "", 3: "reply"}  # the text is gone from the database
        listed = await client.get("/api/admin/reports", headers=bearer(mod["accessToken"]))
        about = [r for r in listed.json()["data"]["reports"] if r["chatMessage"]]
        # The report itself is gone with the reported account (reports cascade), or it stays
        # without the text: never with it.
        assert all(r["chatMessage"]["body"] is None for r in about)
