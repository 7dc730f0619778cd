"""Game clocks on the move path (SQLite and PostgreSQL, in-process app): time is charged per
move with the commit timestamp and the increment added, the clocks ride on the game JSON and on
socket frames, time controls are validated at creation, a move after the flag is refused and
the flag adjudicated, and the sweep adjudicates a flag while no request arrives."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx
from fastapi import FastAPI
from server_support import AppFactory, bearer, register
from sqlalchemy import func, select

from ringrift.rules import GameState, legal_moves
from ringrift.server.context import AppContext
from ringrift.server.db.models import Game, MoveRecord
from ringrift.server.services import flags

SHORT = {"initialSeconds": 60, "incrementSeconds": 5}


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _create(http: httpx.AsyncClient, token: str, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {"boardType": "square8", "maxPlayers": 2, "isRated": False}
    body.update(overrides)
    return await http.post("/api/games", json=body, headers=bearer(token))


async def _human_game(
    http: httpx.AsyncClient, players: int = 2, **overrides: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A started game between ``players`` people: (users in seat order, game JSON)."""
    users = [await register(http) for _ in range(players)]
    created = await _create(http, users[0]["accessToken"], maxPlayers=players, **overrides)
    assert created.status_code == 201, created.text
    game = created.json()["data"]["game"]
    for user in users[1:]:
        joined = await http.post(
            f"/api/games/{game['id']}/join", headers=bearer(user["accessToken"])
        )
        assert joined.status_code == 200, joined.text
        game = joined.json()["data"]["game"]
    assert game["status"] == "active"
    return users, game


async def _stored(app: FastAPI, game_id: str) -> Game:
    ctx: AppContext = app.state.ctx
    async with ctx.db.session() as session:
        game = await session.get(Game, game_id)
    assert game is not None
    return game


async def _move(
    http: httpx.AsyncClient, token: str, game: dict[str, Any], rng: random.Random
) -> httpx.Response:
    move = rng.choice(legal_moves(GameState.from_json(game["state"])))
    return await http.post(
        f"/api/games/{game['id']}/moves",
        json={"move": move.to_json(), "version": game["version"]},
        headers=bearer(token),
    )


async def test_time_is_charged_per_move_with_the_increment(app_factory: AppFactory) -> None:
    async with app_factory(clock_sweep_interval_seconds=0) as (app, http):
        users, game = await _human_game(http, timeControl=SHORT)
        assert game["timeControl"]["label"] == "1+5"
        assert game["clocks"]["running"] == 1
        assert game["clocks"]["remainingMs"][1] == 60_000
        start = await _stored(app, game["id"])
        assert start.clocks is not None and start.clock_deadline_ms is not None
        since = start.clocks["sinceMs"]
        assert start.clock_deadline_ms == since + 60_000
        await asyncio.sleep(0.3)
        rng = random.Random(3)
        moved = await _move(http, users[0]["accessToken"], game, rng)
        assert moved.status_code == 200, moved.text
        after = await _stored(app, game["id"])
        assert after.clocks is not None
        spent = after.clocks["sinceMs"] - since
        assert spent >= 300
        # A turn is several moves: seat 1 paid for its thinking time and still runs.
        assert after.clocks["banksMs"] == [60_000 - spent, 60_000]
        assert after.clocks["running"] == 1 == after.current_player
        assert after.clock_deadline_ms == after.clocks["sinceMs"] + 60_000 - spent
        game = moved.json()["data"]["game"]
        view = game["clocks"]
        assert view["running"] == 1 and view["remainingMs"][1] == 60_000
        assert 0 <= view["serverTime"] - after.clocks["sinceMs"] < 5_000
        # Finishing the turn earns the 5 s increment once; seat 2's clock runs from then.
        bank = after.clocks["banksMs"][0]
        while game["currentPlayer"] == 1:
            moved = await _move(http, users[0]["accessToken"], game, rng)
            assert moved.status_code == 200, moved.text
            game = moved.json()["data"]["game"]
        turned = await _stored(app, game["id"])
        assert turned.clocks is not None
        used = turned.clocks["sinceMs"] - after.clocks["sinceMs"]
        assert turned.clocks["banksMs"] == [bank - used + 5_000, 60_000]
        assert turned.clocks["running"] == 2
        assert turned.clock_deadline_ms == turned.clocks["sinceMs"] + 60_000


async def test_time_controls_are_validated_at_creation(app_factory: AppFactory) -> None:
    async with app_factory() as (app, http):
        user = await register(http)
        token = user["accessToken"]
        before = (await http.get("/api/games", headers=bearer(token))).json()["data"]
        for bad in (
            {"initialSeconds": 0},
            {"initialSeconds": 60, "incrementSeconds": 999},
            {"kind": "correspondence", "daysPerMove": 30},
            {"kind": "correspondence", "daysPerMove": 1, "initialSeconds": 60},
            {"kind": "untimed", "initialSeconds": 60},
            "2+1",
        ):
            response = await _create(http, token, timeControl=bad)
            assert response.status_code == 422, (bad, response.text)
            assert _code(response) == "GAME_TIME_CONTROL_INVALID"
            assert response.json()["error"]["details"][0]["field"] == "timeControl"
        for untimed in ("untimed", {"kind": "untimed"}):
            response = await _create(http, token, timeControl=untimed)
            assert response.status_code == 422, response.text
            assert _code(response) == "GAME_UNTIMED_NOT_ALLOWED"
        wrong_type = await _create(http, token, timeControl={"initialSeconds": "60"})
        assert wrong_type.status_code == 400 and _code(wrong_type) == "VALIDATION_FAILED"
        details = wrong_type.json()["error"]["details"]
        assert any("timeControl" in detail["field"] for detail in details)
        assert (await http.get("/api/games", headers=bearer(token))).json()["data"] == before

        # Against AI only, untimed is fine (and the default); against people a preset is.
        ai = {"count": 1, "difficulty": [1]}
        vs_ai = await _create(http, token, aiOpponents=ai, timeControl="untimed")
        assert vs_ai.status_code == 201, vs_ai.text
        assert vs_ai.json()["data"]["game"]["clocks"] is None
        default_ai = (await _create(http, token, aiOpponents=ai)).json()["data"]["game"]
        assert default_ai["timeControl"]["kind"] == "untimed"
        default_people = (await _create(http, token)).json()["data"]["game"]
        assert default_people["timeControl"]["label"] == app.state.ctx.settings.default_time_control
        assert default_people["clocks"] is None  # not started: nobody's clock runs yet
        preset = (await _create(http, token, timeControl="3+2")).json()["data"]["game"]
        assert preset["timeControl"] == {
            "kind": "fischer",
            "label": "3+2",
            "initialSeconds": 180,
            "incrementSeconds": 2,
        }
        daily = await _create(http, token, timeControl={"kind": "correspondence", "daysPerMove": 2})
        assert (
            daily.status_code == 201
            and daily.json()["data"]["game"]["timeControl"]["label"] == "2 days"
        )


async def test_ai_games_play_within_the_clock(app_factory: AppFactory) -> None:
    async with app_factory(clock_sweep_interval_seconds=0) as (app, http):
        user = await register(http)
        response = await _create(
            http,
            user["accessToken"],
            aiOpponents={"count": 1, "difficulty": [2]},
            timeControl={"initialSeconds": 120, "incrementSeconds": 1},
            seed=5,
        )
        game = response.json()["data"]["game"]
        rng = random.Random(9)
        for _ in range(4):
            moved = await _move(http, user["accessToken"], game, rng)
            assert moved.status_code == 200, moved.text
            game = moved.json()["data"]["game"]
        stored = await _stored(app, game["id"])
        assert stored.clocks is not None
        banks = stored.clocks["banksMs"]
        # Both seats moved: each bank is its start plus increments minus what it thought.
        assert all(0 < bank <= 120_000 + 30_000 for bank in banks)
        assert stored.clocks["running"] == GameState.from_json(game["state"]).current_player


async def test_a_move_after_the_flag_is_refused_and_adjudicated(app_factory: AppFactory) -> None:
    async with app_factory(clock_sweep_interval_seconds=0) as (_app, http):
        users, game = await _human_game(http, timeControl={"initialSeconds": 1})
        await asyncio.sleep(1.1)
        late = await _move(http, users[0]["accessToken"], game, random.Random(1))
        assert late.status_code == 409, late.text
        assert _code(late) == "GAME_TIME_OUT"
        after = (
            await http.get(f"/api/games/{game['id']}", headers=bearer(users[0]["accessToken"]))
        ).json()["data"]["game"]
        assert after["status"] == "completed"
        assert after["endReason"] == "timeout" and after["winner"] == 2
        assert after["version"] == game["version"] + 1
        assert after["clocks"]["running"] is None and after["clocks"]["remainingMs"][0] == 0
        moves = (
            await http.get(
                f"/api/games/{game['id']}/moves", headers=bearer(users[0]["accessToken"])
            )
        ).json()["data"]["moves"]
        assert moves[-1]["move"]["type"] == "withdraw" and moves[-1]["player"] == 1


async def test_the_sweep_adjudicates_a_flag_without_any_request(app_factory: AppFactory) -> None:
    async with app_factory(clock_sweep_interval_seconds=0.2) as (app, http):
        _users, game = await _human_game(http, timeControl={"initialSeconds": 1})
        started = time.monotonic()
        while True:
            stored = await _stored(app, game["id"])
            if stored.status == "completed":
                break
            assert time.monotonic() - started < 4, "the flag was not adjudicated"
            await asyncio.sleep(0.1)
        assert stored.end_reason == "timeout" and stored.winner_seat == 2
        assert stored.version == game["version"] + 1
        assert time.monotonic() - started < 3
        ctx: AppContext = app.state.ctx
        async with ctx.db.session() as session:
            count = await session.scalar(
                select(func.count()).select_from(MoveRecord).where(MoveRecord.game_id == game["id"])
            )
        assert count == 1


async def test_an_ai_seat_thinks_within_its_clock(app_factory: AppFactory) -> None:
    """Level 10 thinks 5 s a move on its own; with 10 s on its clock it may spend 1/20 of what
    is left (0.5 s at first) and so never flags."""
    async with app_factory(clock_sweep_interval_seconds=0, ai_fallback_max_level=10) as (
        app,
        http,
    ):
        user = await register(http)
        response = await _create(
            http,
            user["accessToken"],
            aiOpponents={"count": 1, "difficulty": [10]},
            timeControl={"initialSeconds": 10},
            seed=3,
        )
        assert response.status_code == 201, response.text
        game = response.json()["data"]["game"]
        rng = random.Random(4)
        ai_moves: list[dict[str, Any]] = []
        while not ai_moves:  # the human's first turn; the AI's reply comes with the last move
            moved = await _move(http, user["accessToken"], game, rng)
            assert moved.status_code == 200, moved.text
            game = moved.json()["data"]["game"]
            listed = await http.get(
                f"/api/games/{game['id']}/moves", headers=bearer(user["accessToken"])
            )
            ai_moves = [m for m in listed.json()["data"]["moves"] if m["player"] == 2]
        assert ai_moves and all(m["source"] == "local" for m in ai_moves if not m["auto"])
        stored = await _stored(app, game["id"])
        assert stored.status == "active", (stored.end_reason, stored.clocks, ai_moves)
        assert stored.clocks is not None
        ai_spent = 10_000 - stored.clocks["banksMs"][1]
        real = sum(1 for m in ai_moves if not m["auto"])
        assert ai_spent < real * 1_500, (ai_spent, real)


async def test_two_sweeps_at_once_adjudicate_one_flag_once(app_factory: AppFactory) -> None:
    """Two app contexts (as two instances) on one database sweep the same fallen flag at the
    same moment: one withdrawal lands, the other sees the version moved on."""
    async with (
        app_factory(clock_sweep_interval_seconds=0) as (app, http),
        app_factory(clock_sweep_interval_seconds=0) as (other, _http),
    ):
        _users, game = await _human_game(http, timeControl={"initialSeconds": 1})
        await asyncio.sleep(1.05)
        landed = await asyncio.gather(
            flags.sweep_once(app.state.ctx), flags.sweep_once(other.state.ctx)
        )
        assert sorted(landed) == [0, 1]
        stored = await _stored(app, game["id"])
        assert stored.status == "completed" and stored.end_reason == "timeout"
        assert stored.version == game["version"] + 1
        assert await flags.sweep_once(other.state.ctx) == 0


async def test_three_players_a_flagged_seat_is_withdrawn_and_play_goes_on(
    app_factory: AppFactory,
) -> None:
    async with app_factory(clock_sweep_interval_seconds=0.2) as (app, http):
        users, game = await _human_game(http, players=3, timeControl={"initialSeconds": 1})
        started = time.monotonic()
        while (await _stored(app, game["id"])).version == game["version"]:
            assert time.monotonic() - started < 4, "the flag was not adjudicated"
            await asyncio.sleep(0.1)
        token = users[1]["accessToken"]
        view = (await http.get(f"/api/games/{game['id']}", headers=bearer(token))).json()
        after = view["data"]["game"]
        assert after["status"] == "active" and after["version"] == game["version"] + 1
        state = GameState.from_json(after["state"])
        assert state.withdrawn == (1,) and state.current_player == 2
        clocks = after["clocks"]
        assert clocks["running"] == 2 and clocks["remainingMs"][0] == 0
        assert clocks["remainingMs"][1] > 0 and clocks["remainingMs"][2] == 1_000
        # Seat 2 plays on within its own second.
        moved = await _move(http, token, after, random.Random(2))
        assert moved.status_code == 200, moved.text
        assert moved.json()["data"]["game"]["version"] == after["version"] + 1
