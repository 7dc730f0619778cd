"""AI turns left due (a restart between a human move and the AI reply) are resumed: at
start-up, and by the periodic sweep; two instances sweeping the same game play the turn once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from server_support import AppFactory, bearer, register
from sqlalchemy import select

from ringrift.rules import GameState, legal_moves
from ringrift.server.context import AppContext
from ringrift.server.db.models import User
from ringrift.server.services import ai_turns, moves


async def _due_ai_turn(app: Any, client: httpx.AsyncClient) -> tuple[str, str, int]:
    """A game vs an AI where the human just moved and the AI reply was never played (the move
    is committed by the service alone, as if the instance died right after it)."""
    user = await register(client)
    token = user["accessToken"]
    created = await client.post(
        "/api/games",
        headers=bearer(token),
        json={
            "boardType": "square8",
            "maxPlayers": 2,
            "aiOpponents": {"count": 1, "difficulty": [1]},
            "seed": 3,
        },
    )
    game = created.json()["data"]["game"]
    ctx: AppContext = app.state.ctx
    async with ctx.db.session() as session:
        person = (await session.scalars(select(User).where(User.id == user["user"]["id"]))).one()
    version, state = game["version"], GameState.from_json(game["state"])
    while True:
        committed = await moves.play_human_move(
            ctx, person, game["id"], legal_moves(state)[0].to_json(), version
        )
        version, state = committed.version, committed.position.state
        if ai_turns.ai_to_move(committed.loaded):
            break
    assert game["id"] in await ai_turns.due_ai_games(ctx)
    return game["id"], token, committed.version


async def _wait_for_reply(client: httpx.AsyncClient, game_id: str, token: str, v: int) -> Any:
    for _ in range(100):
        game = (await client.get(f"/api/games/{game_id}", headers=bearer(token))).json()
        game = game["data"]["game"]
        if game["version"] > v and game["currentPlayer"] == 1:
            return game
        await asyncio.sleep(0.05)
    raise AssertionError("the due AI turn was never played")


async def test_a_due_ai_turn_is_played_at_start_up(app_factory: AppFactory) -> None:
    async with app_factory(ai_sweep_interval_seconds=0) as (app, client):
        game_id, token, version = await _due_ai_turn(app, client)
    # "Restart": a new instance on the same database plays the turn by itself.
    async with app_factory(ai_sweep_interval_seconds=0) as (_app, client):
        await _wait_for_reply(client, game_id, token, version)
        recorded = (await client.get(f"/api/games/{game_id}/moves")).json()["data"]["moves"]
    ai = [m for m in recorded if m["moveNumber"] > version and not m["auto"]]
    assert ai and ai[0]["player"] == 2 and ai[0]["isAi"]


async def test_two_sweeping_instances_play_a_due_turn_exactly_once(
    app_factory: AppFactory,
) -> None:
    async with (
        app_factory(ai_sweep_interval_seconds=0) as (app, client),
        app_factory(ai_sweep_interval_seconds=0.1) as (other, _other_client),
    ):
        game_id, token, version = await _due_ai_turn(app, client)
        # Both instances schedule the turn at once; the sweep of the second one too.
        ai_turns.schedule_ai_turns(app.state.ctx, game_id)
        ai_turns.schedule_ai_turns(other.state.ctx, game_id)
        game = await _wait_for_reply(client, game_id, token, version)
        await asyncio.sleep(0.3)
        recorded = (await client.get(f"/api/games/{game_id}/moves")).json()["data"]["moves"]
    assert [m["moveNumber"] for m in recorded] == list(range(1, len(recorded) + 1))
    ai_moves = [m for m in recorded if m["moveNumber"] > version and m["player"] == 2]
    assert len([m for m in ai_moves if m["isAi"]]) >= 1
    # Nothing was played twice: the game is where its move list says it is.
    assert game["version"] <= len(recorded)
