"""Game chat across two app processes on one PostgreSQL database and one Redis: messages cross
instances, reconnects catch up by seq, the spectator channel stays hidden from players during
the game, bad frames and rate limits get coded errors and store nothing, and moderator
removals (REST and the ``ringrift admin`` CLI) reach every socket."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from realtime_support import (
    WS,
    Frame,
    Process,
    bearer,
    create_game,
    is_type,
    join_game,
    joined,
    register,
    two_apps,
)
from server_support import TEST_JWT_SECRET
from typer.testing import CliRunner

from ringrift.ops.services import RedisServer
from ringrift.server.admin_cli import admin_app

pytestmark = pytest.mark.integration

XSS = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def instances(pg_database: str, redis_server: RedisServer) -> Iterator[tuple[Process, Process]]:
    with two_apps(pg_database, redis_server.url, timeout=120) as pair:
        yield pair


async def _join(
    sockets: list[WS], base: str, token: str, game_id: str, chat: dict[str, int] | None = None
) -> WS:
    """Joined with the chat opted in (``chat`` holds the last seen sequence per channel)."""
    return await joined(sockets, base, token, game_id, chat=chat or {})


def chat_frame(channel: str, **message: Any) -> Any:
    def match(frame: Frame) -> bool:
        d = frame.get("d", {})
        if frame.get("t") != "chat" or d.get("channel") != channel:
            return False
        return all(d["message"].get(k) == v for k, v in message.items())

    return match


def history(channel: str) -> Any:
    return lambda f: f.get("t") == "chatHistory" and f["d"]["channel"] == channel


async def _say(ws: WS, game_id: str, channel: str, body: Any, ack: str) -> Frame:
    await ws.send("chat", {"gameId": game_id, "channel": channel, "body": body, "ack": ack})
    return await ws.expect(
        lambda f: f["t"] in ("ack", "error") and f["d"].get("ack") == ack, timeout=10
    )


async def _read(base: str, game_id: str, channel: str, token: str | None, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        return await http.get(
            f"/api/games/{game_id}/chat",
            params={"channel": channel, **params},
            headers=bearer(token) if token else {},
        )


async def _game(base: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    first, second, watcher = await register(base), await register(base), await register(base)
    game = await create_game(base, first["token"])
    await join_game(base, second["token"], game["id"])
    return first, second, watcher, game["id"]


def _chat_frames(frames: list[Frame], channel: str) -> list[Frame]:
    return [f for f in frames if f["t"] in ("chat", "chatHistory") and f["d"]["channel"] == channel]


async def test_a_message_on_one_instance_reaches_a_socket_on_the_other_as_plain_text(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second, watcher, game_id = await _game(a.url)
    ws1 = await _join(sockets, a.url, first["token"], game_id)
    ws2 = await _join(sockets, b.url, second["token"], game_id)
    spectator = await _join(sockets, b.url, watcher["token"], game_id)
    # On join each socket gets the history of the channels it may read (empty so far).
    joined = await ws1.expect(history("players"))
    assert joined["d"]["latest"] == 0 and joined["d"]["readable"] == ["players"]
    watching = await spectator.expect(history("spectators"))
    assert watching["d"]["readable"] == ["spectators"]

    ack = await _say(ws1, game_id, "players", f"  {XSS}  ", "c1")
    assert ack["t"] == "ack" and ack["d"]["v"] == 1, ack
    got = await ws2.expect(chat_frame("players", seq=1), timeout=10)
    message = got["d"]["message"]
    assert message["body"] == XSS  # trimmed, otherwise exactly as typed: never interpreted
    assert message["userId"] == first["id"] and message["removed"] is None
    await ws1.expect(chat_frame("players", seq=1))

    said = await _say(spectator, game_id, "spectators", "nice opening", "s1")
    assert said["t"] == "ack"
    await spectator.expect(chat_frame("spectators", seq=1))

    # Players do not see the spectator channel while the game is on, and cannot post there;
    # spectators cannot post in (or read) the players' channel.
    refused = await _say(ws2, game_id, "spectators", "hello watchers", "c2")
    assert refused["t"] == "error" and refused["d"]["code"] == "CHAT_CHANNEL_FORBIDDEN"
    refused = await _say(spectator, game_id, "players", "psst", "s2")
    assert refused["t"] == "error" and refused["d"]["code"] == "CHAT_CHANNEL_FORBIDDEN"
    for ws in (ws1, ws2):
        assert _chat_frames(await ws.drain(), "spectators") == []
    assert _chat_frames(await spectator.drain(), "players") == []
    hidden = await _read(a.url, game_id, "spectators", first["token"])
    assert hidden.status_code == 403 and hidden.json()["error"]["code"] == "CHAT_CHANNEL_FORBIDDEN"
    hidden = await _read(a.url, game_id, "players", watcher["token"])
    assert hidden.status_code == 403
    seen = (await _read(b.url, game_id, "spectators", watcher["token"])).json()["data"]
    assert [m["body"] for m in seen["messages"]] == ["nice opening"] and seen["latest"] == 1

    # Once the game is over, the players may read the spectator channel: it arrives on its own.
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        resigned = await http.post(f"/api/games/{game_id}/leave", headers=bearer(first["token"]))
        assert resigned.status_code == 200, resigned.text
    opened = await ws2.expect(history("spectators"), timeout=10)
    assert [m["body"] for m in opened["d"]["messages"]] == ["nice opening"]
    assert opened["d"]["readable"] == ["players", "spectators"]
    late = (await _read(a.url, game_id, "spectators", second["token"])).json()["data"]
    assert late["latest"] == 1


async def test_reconnect_with_last_seq_gets_what_was_missed(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second, _watcher, game_id = await _game(a.url)
    ws1 = await _join(sockets, a.url, first["token"], game_id)
    ws2 = await _join(sockets, b.url, second["token"], game_id)
    # Chat is opt-in: a join without a chat field (a client that does not know chat) gets no
    # chat frames at all.
    legacy = await WS.open(b.url, second["token"])
    sockets.append(legacy)
    await legacy.send("join", {"gameId": game_id, "ack": "old"})
    await legacy.expect(is_type("ack", ack="old"))
    assert (await _say(ws1, game_id, "players", "one", "m1"))["t"] == "ack"
    await ws2.expect(chat_frame("players", seq=1), timeout=10)
    await ws2.close()

    for n, text in enumerate(("two", "three", "four"), start=2):
        assert (await _say(ws1, game_id, "players", text, f"m{n}"))["t"] == "ack"

    again = await _join(sockets, a.url, second["token"], game_id, chat={"players": 1})
    caught = await again.expect(history("players"), timeout=10)
    assert [m["seq"] for m in caught["d"]["messages"]] == [2, 3, 4]
    assert [m["body"] for m in caught["d"]["messages"]] == ["two", "three", "four"]
    assert caught["d"]["latest"] == 4 and caught["d"]["removed"] == []
    # And the live feed goes on from there, through the other instance.
    assert (await _say(ws1, game_id, "players", "five", "m5"))["t"] == "ack"
    await again.expect(chat_frame("players", seq=5, body="five"), timeout=10)
    assert [f["t"] for f in await legacy.drain() if f["t"].startswith("chat")] == []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"channel": "players", "body": "x" * 301}, "VALIDATION_FAILED"),
        ({"channel": "players", "body": "   "}, "VALIDATION_FAILED"),
        ({"channel": "players", "body": ""}, "VALIDATION_FAILED"),
        ({"channel": "players", "body": "line\nbreak"}, "VALIDATION_FAILED"),
        ({"channel": "players", "body": "bell\x07"}, "VALIDATION_FAILED"),
        ({"channel": "players", "body": 42}, "VALIDATION_FAILED"),
        ({"channel": "players"}, "VALIDATION_FAILED"),
        ({"channel": "lobby", "body": "hi"}, "VALIDATION_FAILED"),
        ({"body": "hi"}, "VALIDATION_FAILED"),
        ({"channel": "spectators", "body": "hi"}, "CHAT_CHANNEL_FORBIDDEN"),
    ],
)
async def test_bad_chat_frames_get_coded_errors_and_store_nothing(
    instances: tuple[Process, Process], sockets: list[WS], data: dict[str, Any], code: str
) -> None:
    a, _b = instances
    first, _second, _watcher, game_id = await _game(a.url)
    ws = await _join(sockets, a.url, first["token"], game_id)
    await ws.send("chat", {"gameId": game_id, "ack": "bad", **data})
    error = await ws.expect(is_type("error", ack="bad"))
    assert error["d"]["code"] == code, error
    stored = (await _read(a.url, game_id, "players", first["token"])).json()["data"]
    assert stored["latest"] == 0 and stored["messages"] == []


async def test_chat_needs_a_joined_game_and_join_checks_its_chat_field(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, _b = instances
    first, _second, _watcher, game_id = await _game(a.url)
    ws = await WS.open(a.url, first["token"])
    sockets.append(ws)
    await ws.send("chat", {"gameId": game_id, "channel": "players", "body": "hi", "ack": 1})
    assert (await ws.expect(is_type("error", ack=1)))["d"]["code"] == "VALIDATION_FAILED"
    for bad in ({"players": -1}, {"lobby": 0}, {"players": "3"}, [1]):
        await ws.send("join", {"gameId": game_id, "chat": bad, "ack": "j"})
        assert (await ws.expect(is_type("error", ack="j")))["d"]["code"] == "VALIDATION_FAILED"
    stored = (await _read(a.url, game_id, "players", first["token"])).json()["data"]
    assert stored["latest"] == 0


async def test_rate_limit_per_user_is_shared_by_instances(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, _second, _watcher, game_id = await _game(a.url)
    ws_a = await _join(sockets, a.url, first["token"], game_id)
    ws_b = await _join(sockets, b.url, first["token"], game_id)
    # The limit counts fixed 10 s windows (aligned to the clock): start at the beginning of
    # one, so the six messages and the REST call of a busy machine do not straddle two.
    await asyncio.sleep(10 - time.time() % 10 + 0.05)
    outcomes = []
    for n in range(6):  # the default limit: 5 messages per 10 s, counted on Redis
        ws = ws_a if n % 2 == 0 else ws_b
        outcomes.append(await _say(ws, game_id, "players", f"msg {n}", f"r{n}"))
    assert [o["t"] for o in outcomes[:5]] == ["ack"] * 5
    refused = outcomes[5]
    assert refused["t"] == "error" and refused["d"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= refused["d"]["details"]["retryAfter"] <= 10
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        rest = await http.post(
            f"/api/games/{game_id}/chat",
            json={"channel": "players", "body": "more"},
            headers=bearer(first["token"]),
        )
    assert rest.status_code == 429 and rest.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert 1 <= int(rest.headers["Retry-After"]) <= 10
    stored = (await _read(a.url, game_id, "players", first["token"])).json()["data"]
    assert stored["latest"] == 5


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(admin_app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_reports_and_moderator_removals_reach_every_socket(
    instances: tuple[Process, Process], sockets: list[WS], pg_database: str, redis_server: Any
) -> None:
    a, b = instances
    first, second, _watcher, game_id = await _game(a.url)
    moderator = await register(a.url)
    env = {
        **os.environ,
        "DATABASE_URL": pg_database,
        "REDIS_URL": redis_server.url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "JWT_KEYRING_FILE": "",
        "RINGRIFT_ENV": "test",
    }
    await asyncio.to_thread(_cli, env, "grant-role", moderator["email"], "moderator")
    ws1 = await _join(sockets, a.url, first["token"], game_id)
    ws2 = await _join(sockets, b.url, second["token"], game_id)
    # The catch-up may follow the join's ack: once it is here, new messages come as frames.
    await ws2.expect(history("players"))
    ids = []
    for n, text in enumerate(("rude words", "more rude words")):
        ack = await _say(ws1, game_id, "players", text, f"x{n}")
        assert ack["t"] == "ack"
        got = await ws2.expect(chat_frame("players", seq=n + 1), timeout=10)
        ids.append(got["d"]["message"]["id"])

    async with httpx.AsyncClient(base_url=b.url, timeout=10) as http:
        mine = await http.post(
            f"/api/chat/{ids[0]}/report", json={"reason": "me"}, headers=bearer(first["token"])
        )
        assert mine.status_code == 400  # too short a reason, and one's own message anyway
        outsider = await http.post(
            f"/api/chat/{ids[0]}/report",
            json={"reason": "insults"},
            headers=bearer(moderator["token"]),
        )
        # The moderator is not seated: the players' channel is not theirs to read.
        assert outsider.status_code == 404
        assert outsider.json()["error"]["code"] == "CHAT_MESSAGE_NOT_FOUND"
        report = await http.post(
            f"/api/chat/{ids[0]}/report",
            json={"reason": "insults in chat"},
            headers=bearer(second["token"]),
        )
        assert report.status_code == 201, report.text
        assert report.json()["data"]["chatMessage"]["body"] == "rude words"
        assert report.json()["data"]["userId"] == first["id"]
        unknown = await http.post(
            "/api/chat/nope/report", json={"reason": "insults"}, headers=bearer(second["token"])
        )
        assert unknown.status_code == 404

        listed = await http.get(
            "/api/admin/reports", params={"status": "open"}, headers=bearer(moderator["token"])
        )
        reports = [r for r in listed.json()["data"]["reports"] if r["chatMessage"]]
        assert any(r["chatMessage"]["body"] == "rude words" for r in reports)

        denied = await http.post(f"/api/chat/{ids[0]}/remove", headers=bearer(second["token"]))
        assert denied.status_code == 403
        removed = await http.post(f"/api/chat/{ids[0]}/remove", headers=bearer(moderator["token"]))
        assert removed.status_code == 200, removed.text
        assert removed.json()["data"]["removed"] == "moderator"
        assert removed.json()["data"]["body"] is None

    for ws in (ws1, ws2):  # A made the removal through B's REST API
        gone = await ws.expect(chat_frame("players", seq=1, removed="moderator"), timeout=10)
        assert gone["d"]["message"]["body"] is None

    output = await asyncio.to_thread(_cli, env, "remove-chat", ids[1], "--by", moderator["email"])
    assert "sent to open sockets" in output
    for ws in (ws1, ws2):
        await ws.expect(chat_frame("players", seq=2, removed="moderator"), timeout=10)
    listing = await asyncio.to_thread(_cli, env, "list-reports", "--database-url", pg_database)
    assert "rude words" in listing and "[removed]" in listing

    # Reading afterwards (REST, or a rejoin with the last seq) shows no text either.
    page = (await _read(a.url, game_id, "players", second["token"])).json()["data"]
    assert [m["body"] for m in page["messages"]] == [None, None]
    again = await _join(sockets, a.url, second["token"], game_id, chat={"players": 2})
    caught = await again.expect(history("players"), timeout=10)
    assert caught["d"]["messages"] == [] and caught["d"]["removed"] == [1, 2]


async def test_account_deletion_blanks_messages_on_open_sockets(
    instances: tuple[Process, Process], sockets: list[WS]
) -> None:
    a, b = instances
    first, second, _watcher, game_id = await _game(a.url)
    ws2 = await _join(sockets, b.url, second["token"], game_id)
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        posted = await http.post(
            f"/api/games/{game_id}/chat",
            json={"channel": "players", "body": "my address is 1 Main St"},
            headers=bearer(first["token"]),
        )
        assert posted.status_code == 201, posted.text
        await ws2.expect(chat_frame("players", seq=1), timeout=10)
        deleted = await http.request(
            "DELETE",
            "/api/account",
            json={"password": "anchor-violet-ridge-27"},
            headers=bearer(first["token"]),
        )
        assert deleted.status_code == 200, deleted.text
    gone = await ws2.expect(chat_frame("players", seq=1, removed="author_deleted"), timeout=10)
    assert gone["d"]["message"]["body"] is None
    assert gone["d"]["message"]["username"] == "deleted-user"
