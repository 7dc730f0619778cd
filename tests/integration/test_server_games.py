"""Games over HTTP on SQLite and PostgreSQL: full games, AI seats, concurrency, errors."""

from __future__ import annotations

import asyncio
import importlib.util
import random
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from server_support import AppFactory, LiveServer, bearer, register

from ringrift.rules import GameState, Move, apply_move, legal_moves, new_game
from ringrift.rules.moves import BOOKKEEPING_TYPES

MAX_PLIES = 3000


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _create(client: httpx.AsyncClient, token: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "boardType": "square8",
        "maxPlayers": 2,
        "isRated": True,
        "isPrivate": False,
    }
    body.update(overrides)
    response = await client.post("/api/games", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


def _pick(game: dict[str, Any], rng: random.Random) -> Move:
    return rng.choice(legal_moves(GameState.from_json(game["state"])))


async def _move(
    client: httpx.AsyncClient, token: str, game: dict[str, Any], move: Move
) -> httpx.Response:
    return await client.post(
        f"/api/games/{game['id']}/moves",
        json={"move": move.to_json(), "version": game["version"]},
        headers=bearer(token),
    )


def _replay(moves: dict[str, Any]) -> GameState:
    """Replay a move list from the initial state, checking every recorded state hash."""
    state = GameState.from_json(moves["initialState"])
    for index, record in enumerate(moves["moves"], start=1):
        assert record["moveNumber"] == index
        state = apply_move(state, Move.from_json(record["move"]))
        assert state.state_hash() == record["stateHash"], f"diverged at move {index}"
    return state


async def test_two_humans_play_a_rated_game_to_the_end(client: httpx.AsyncClient) -> None:
    alice = await register(client)
    bob = await register(client)
    game = await _create(client, alice["accessToken"], seed=7)
    assert game["status"] == "waiting" and game["version"] == 0
    assert GameState.from_json(game["state"]).state_hash() == new_game("square8", 2).state_hash()

    lobby = (await client.get("/api/lobby")).json()["data"]
    assert game["id"] in [g["id"] for g in lobby["games"]]

    joined = await client.post(f"/api/games/{game['id']}/join", headers=bearer(bob["accessToken"]))
    assert joined.status_code == 200
    game = joined.json()["data"]["game"]
    assert game["status"] == "active"
    tokens = {
        s["seat"]: (alice if s["userId"] == alice["user"]["id"] else bob)["accessToken"]
        for s in game["seats"]
    }

    rng = random.Random(2024)
    plies = 0
    while game["status"] == "active" and plies < MAX_PLIES:
        state = GameState.from_json(game["state"])
        response = await _move(client, tokens[state.current_player], game, _pick(game, rng))
        assert response.status_code == 200, response.text
        updated = response.json()["data"]["game"]
        # The human move, then any bookkeeping the server played for a seat without a choice.
        assert updated["version"] >= game["version"] + 1
        after = GameState.from_json(updated["state"])
        if after.game_status == "active":
            options = legal_moves(after)
            assert not (len(options) == 1 and options[0].type in BOOKKEEPING_TYPES), options
        game = updated
        plies += 1
    assert game["status"] == "completed", f"game did not finish in {MAX_PLIES} plies"
    final = GameState.from_json(game["state"])
    assert final.game_status == "completed"

    # Every move is persisted, and replaying them reproduces the stored state.
    moves = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]
    assert len(moves["moves"]) == game["version"]
    humans = [m for m in moves["moves"] if not m["auto"]]
    assert len(humans) == plies and {m["source"] for m in humans} == {"human"}
    auto = [m for m in moves["moves"] if m["auto"]]
    assert auto and {m["source"] for m in auto} == {"auto"}
    assert all(Move.from_json(m["move"]).type in BOOKKEEPING_TYPES for m in auto)
    assert all("moveHistory" not in s for s in (game["state"], moves["initialState"]))
    replayed = _replay(moves)
    assert replayed.state_hash() == final.state_hash()

    # A finished game refuses further moves.
    late = await client.post(
        f"/api/games/{game['id']}/moves",
        json={"move": {"type": "place_ring", "player": 1}, "version": game["version"]},
        headers=bearer(tokens[1]),
    )
    assert late.status_code == 400 and _code(late) == "GAME_ALREADY_ENDED"

    # Ratings moved in opposite directions and were recorded.
    ranks = final.final_ranks()
    seats = {s["seat"]: s for s in game["seats"]}
    assert [seats[1]["finalRank"], seats[2]["finalRank"]] == ranks
    winner_seat = 1 if ranks[0] < ranks[1] else 2
    loser_seat = 3 - winner_seat
    assert seats[winner_seat]["ratingAfter"] > seats[winner_seat]["ratingBefore"] == 1500
    assert seats[loser_seat]["ratingAfter"] < seats[loser_seat]["ratingBefore"] == 1500
    winner_id = seats[winner_seat]["userId"]
    profile = (await client.get(f"/api/users/{winner_id}")).json()["data"]
    assert profile["stats"]["wins"] == 1 and profile["stats"]["gamesPlayed"] == 1
    assert profile["ratingHistory"][0]["gameId"] == game["id"]
    assert profile["ratingHistory"][0]["delta"] == 20.0  # K=40, equal ratings
    board = (await client.get("/api/leaderboard")).json()["data"]
    assert [e["id"] for e in board["entries"]] == [winner_id, seats[loser_seat]["userId"]]
    mine = (await client.get("/api/games", headers=bearer(tokens[1]))).json()["data"]
    assert [g["id"] for g in mine["games"]] == [game["id"]]
    assert "state" not in mine["games"][0]


async def _play_against_ai(
    client: httpx.AsyncClient, token: str, max_human_moves: int, level: int = 2
) -> dict[str, Any]:
    game = await _create(
        client, token, isRated=True, aiOpponents={"count": 1, "difficulty": [level]}, seed=11
    )
    assert game["status"] == "active" and game["isRated"] is False
    assert [s["isAi"] for s in game["seats"]] == [False, True]
    rng = random.Random(5)
    for _ in range(max_human_moves):
        if game["status"] != "active":
            break
        state = GameState.from_json(game["state"])
        assert state.current_player == 1, "after a human move the AI turns are played at once"
        response = await _move(client, token, game, _pick(game, rng))
        assert response.status_code == 200, response.text
        game = response.json()["data"]["game"]
    return game


async def test_ai_seat_falls_back_when_the_service_is_down(app_factory: AppFactory) -> None:
    async with app_factory() as (_app, client):  # AI_SERVICE_URL points at a dead port
        user = await register(client)
        game = await _play_against_ai(client, user["accessToken"], MAX_PLIES, level=1)
        assert game["status"] == "completed"
        moves = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]["moves"]
        ai_moves = [m for m in moves if m["player"] == 2]
        assert ai_moves and all(m["isAi"] for m in ai_moves)
        sources = {m["source"] for m in ai_moves}
        assert sources <= {"local", "fallback"}
        if importlib.util.find_spec("ringrift.ai") is not None:
            assert "local" in sources  # the in-process AI plays the seat
        assert {m["source"] for m in moves if m["player"] == 1} == {"human", "auto"}
        metrics = (await client.get("/metrics")).text
        assert 'ringrift_ai_fallback_total{reason="unreachable"}' in metrics
        profile = (await client.get(f"/api/users/{user['user']['id']}")).json()["data"]
        assert profile["stats"]["gamesPlayed"] == 1 and profile["ratingHistory"] == []


async def test_ai_seat_uses_the_service_and_rejects_bad_answers(
    app_factory: AppFactory, ai_service_factory: Callable[[str], tuple[LiveServer, FastAPI]]
) -> None:
    good, good_app = ai_service_factory("first_legal")
    async with app_factory(ai_service_url=good.url) as (_app, client):
        user = await register(client)
        game = await _play_against_ai(client, user["accessToken"], 6)
        moves = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]["moves"]
        sources = {m["source"] for m in moves if m["player"] == 2}
        assert sources == {"service"} and good_app.state.calls >= 1
        ready = (await client.get("/ready")).json()
        assert ready["checks"]["aiService"]["status"] == "healthy"

    for mode, reason in (("illegal", "illegal_move"), ("garbage", "bad_response")):
        bad, _bad_app = ai_service_factory(mode)
        async with app_factory(ai_service_url=bad.url) as (_app, client):
            user = await register(client)
            game = await _play_against_ai(client, user["accessToken"], 4)
            moves = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]["moves"]
            ai_sources = {m["source"] for m in moves if m["player"] == 2}
            assert ai_sources and ai_sources <= {"local", "fallback"}
            metrics = (await client.get("/metrics")).text
            assert f'ringrift_ai_fallback_total{{reason="{reason}"}}' in metrics


async def test_concurrent_moves_on_one_version_exactly_one_wins(client: httpx.AsyncClient) -> None:
    alice = await register(client)
    bob = await register(client)
    game = await _create(client, alice["accessToken"])
    game = (
        await client.post(f"/api/games/{game['id']}/join", headers=bearer(bob["accessToken"]))
    ).json()["data"]["game"]
    token = next(
        (alice if s["userId"] == alice["user"]["id"] else bob)["accessToken"]
        for s in game["seats"]
        if s["seat"] == 1
    )
    moves = legal_moves(GameState.from_json(game["state"]))
    for _round in range(3):
        before = game["version"]
        picks = [moves[i % len(moves)] for i in range(6)]
        responses = await asyncio.gather(*[_move(client, token, game, m) for m in picks])
        winners = [r for r in responses if r.status_code == 200]
        losers = [r for r in responses if r.status_code != 200]
        assert len(winners) == 1, [r.text for r in responses]
        assert all(r.status_code == 409 and _code(r) == "GAME_VERSION_CONFLICT" for r in losers)
        game = winners[0].json()["data"]["game"]
        # One move committed (plus the bookkeeping it forced, if any).
        assert game["version"] > before
        recorded = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]["moves"]
        assert len(recorded) == game["version"]
        assert [m["auto"] for m in recorded[before:]] == [False] + [True] * (
            game["version"] - before - 1
        )
        state = GameState.from_json(game["state"])
        token = next(
            (alice if s["userId"] == alice["user"]["id"] else bob)["accessToken"]
            for s in game["seats"]
            if s["seat"] == state.current_player
        )
        moves = legal_moves(state)
    history = (await client.get(f"/api/games/{game['id']}/moves")).json()["data"]["moves"]
    assert [m["moveNumber"] for m in history] == list(range(1, game["version"] + 1))
    assert sum(not m["auto"] for m in history) == 3


async def test_move_errors_change_nothing(client: httpx.AsyncClient) -> None:
    alice = await register(client)
    bob = await register(client)
    carol = await register(client)
    game = await _create(client, alice["accessToken"])
    gid = game["id"]
    legal = legal_moves(GameState.from_json(game["state"]))[0]

    early = await _move(client, alice["accessToken"], game, legal)
    assert early.status_code == 400 and _code(early) == "GAME_INVALID_MOVE"

    game = (await client.post(f"/api/games/{gid}/join", headers=bearer(bob["accessToken"]))).json()[
        "data"
    ]["game"]
    seat_of = {s["userId"]: s["seat"] for s in game["seats"]}
    first = alice if seat_of[alice["user"]["id"]] == 1 else bob
    second = bob if first is alice else alice

    not_turn = await _move(client, second["accessToken"], game, legal)
    assert not_turn.status_code == 400 and _code(not_turn) == "GAME_NOT_YOUR_TURN"
    outsider = await _move(client, carol["accessToken"], game, legal)
    assert outsider.status_code == 403 and _code(outsider) == "RESOURCE_ACCESS_DENIED"
    illegal = await client.post(
        f"/api/games/{gid}/moves",
        json={"move": {"type": "place_ring", "player": 1, "to": {"x": 42, "y": 42}}, "version": 0},
        headers=bearer(first["accessToken"]),
    )
    assert illegal.status_code == 400 and _code(illegal) == "GAME_INVALID_MOVE"
    assert illegal.json()["error"]["message"]
    malformed = await client.post(
        f"/api/games/{gid}/moves",
        json={"move": {"type": 12}, "version": 0},
        headers=bearer(first["accessToken"]),
    )
    assert malformed.status_code == 400 and _code(malformed) in {
        "VALIDATION_FAILED",
        "GAME_INVALID_MOVE",
    }
    stale = await client.post(
        f"/api/games/{gid}/moves",
        json={"move": legal.to_json(), "version": 5},
        headers=bearer(first["accessToken"]),
    )
    assert stale.status_code == 409 and _code(stale) == "GAME_VERSION_CONFLICT"
    bad_body = await client.post(
        f"/api/games/{gid}/moves", json={"version": -1}, headers=bearer(first["accessToken"])
    )
    assert bad_body.status_code == 400 and _code(bad_body) == "VALIDATION_FAILED"
    unknown = await client.post(
        "/api/games/no-such-game/moves",
        json={"move": legal.to_json(), "version": 0},
        headers=bearer(first["accessToken"]),
    )
    assert unknown.status_code == 404 and _code(unknown) == "GAME_NOT_FOUND"

    unchanged = (await client.get(f"/api/games/{gid}")).json()["data"]["game"]
    assert unchanged["version"] == 0 and unchanged["state"] == game["state"]
    assert (await client.get(f"/api/games/{gid}/moves")).json()["data"]["moves"] == []


async def test_join_leave_resign_and_privacy(client: httpx.AsyncClient) -> None:
    users = [await register(client) for _ in range(4)]
    alice, bob = users[0], users[1]
    a, b, c, d = (u["accessToken"] for u in users)

    four = await _create(client, a, maxPlayers=4, isRated=False)
    again = await client.post(f"/api/games/{four['id']}/join", headers=bearer(a))
    assert again.status_code == 409 and _code(again) == "GAME_ALREADY_JOINED"
    assert (
        await client.post(f"/api/games/{four['id']}/join", headers=bearer(b))
    ).status_code == 200
    left = await client.post(f"/api/games/{four['id']}/leave", headers=bearer(b))
    assert left.status_code == 200
    assert [s["seat"] for s in left.json()["data"]["game"]["seats"]] == [1]
    cancelled = await client.post(f"/api/games/{four['id']}/leave", headers=bearer(a))
    assert cancelled.json()["data"]["game"]["status"] == "cancelled"
    closed = await client.post(f"/api/games/{four['id']}/join", headers=bearer(c))
    assert closed.status_code == 400 and _code(closed) == "GAME_NOT_JOINABLE"

    private = await _create(client, a, isPrivate=True)
    lobby = (await client.get("/api/lobby")).json()["data"]["games"]
    assert private["id"] not in [g["id"] for g in lobby]
    hidden = await client.get(f"/api/games/{private['id']}", headers=bearer(c))
    assert hidden.status_code == 403 and _code(hidden) == "RESOURCE_ACCESS_DENIED"
    assert (await client.get(f"/api/games/{private['id']}", headers=bearer(a))).status_code == 200
    # Joining a private game takes its invite token (test_server_invites.py has the rest).
    started = await client.post(
        f"/api/games/{private['id']}/join",
        params={"invite": private["inviteToken"]},
        headers=bearer(b),
    )
    assert started.json()["data"]["game"]["status"] == "active"
    full = await client.post(
        f"/api/games/{private['id']}/join",
        params={"invite": private["inviteToken"]},
        headers=bearer(d),
    )
    assert full.status_code == 400 and _code(full) == "GAME_NOT_JOINABLE"

    resigned = await client.post(f"/api/games/{private['id']}/leave", headers=bearer(b))
    game = resigned.json()["data"]["game"]
    assert game["status"] == "completed" and game["endReason"] == "resignation"
    seats = {s["userId"]: s for s in game["seats"]}
    assert seats[bob["user"]["id"]]["finalRank"] == 2 and seats[bob["user"]["id"]]["resigned"]
    assert seats[alice["user"]["id"]]["finalRank"] == 1
    assert game["winner"] == seats[alice["user"]["id"]]["seat"]
    assert seats[alice["user"]["id"]]["ratingAfter"] > 1500
    ended = await client.post(f"/api/games/{private['id']}/leave", headers=bearer(a))
    assert ended.status_code == 400 and _code(ended) == "GAME_ALREADY_ENDED"

    bad = await client.post(
        "/api/games",
        json={
            "boardType": "square8",
            "maxPlayers": 2,
            "aiOpponents": {"count": 2, "difficulty": [1]},
        },
        headers=bearer(a),
    )
    assert bad.status_code == 400 and _code(bad) == "VALIDATION_FAILED"
    unknown_board = await client.post(
        "/api/games", json={"boardType": "triangle", "maxPlayers": 2}, headers=bearer(a)
    )
    assert unknown_board.status_code == 400 and _code(unknown_board) == "VALIDATION_FAILED"
    no_auth = await client.post("/api/games", json={"boardType": "square8"})
    assert no_auth.status_code == 401 and _code(no_auth) == "AUTH_REQUIRED"
    missing = await client.get("/api/games/unknown")
    assert missing.status_code == 404 and _code(missing) == "GAME_NOT_FOUND"


async def test_multiplayer_game_with_ai_seats_and_all_boards(client: httpx.AsyncClient) -> None:
    user = await register(client)
    for board in ("square8", "square19", "hex8", "hexagonal"):
        game = await _create(
            client,
            user["accessToken"],
            boardType=board,
            maxPlayers=4,
            aiOpponents={"count": 3, "difficulty": [1, 2, 1]},
        )
        assert game["status"] == "active" and len(game["seats"]) == 4
        state = GameState.from_json(game["state"])
        assert state.board_type == board and state.num_players == 4
        response = await _move(client, user["accessToken"], game, legal_moves(state)[0])
        assert response.status_code == 200, response.text
        after = GameState.from_json(response.json()["data"]["game"]["state"])
        assert after.current_player == 1 or after.game_status == "completed"
