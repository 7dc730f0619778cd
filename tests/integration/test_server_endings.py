"""Ending games early over HTTP on SQLite and PostgreSQL (one app, no Redis, so its own sockets
are the whole truth about presence): aborting before every seat has moved, claiming the win
over an opponent who never showed up, and bad input for both routes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import AppFactory, bearer, register

from ringrift.rules import GameState, legal_moves

pytestmark = pytest.mark.integration

FISCHER = {"initialSeconds": 300, "incrementSeconds": 0}
GRACE = 2.0


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _game(
    client: httpx.AsyncClient, players: int = 2, **body: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    users = [await register(client) for _ in range(players)]
    payload = {"boardType": "square8", "maxPlayers": players, "isRated": True, **body}
    response = await client.post(
        "/api/games", json=payload, headers=bearer(users[0]["accessToken"])
    )
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    for user in users[1:]:
        joined = await client.post(
            f"/api/games/{game['id']}/join", headers=bearer(user["accessToken"])
        )
        assert joined.status_code == 200, joined.text
        game = joined.json()["data"]["game"]
    return users, game


async def _get(client: httpx.AsyncClient, game_id: str, token: str) -> dict[str, Any]:
    response = await client.get(f"/api/games/{game_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def _play_first(
    client: httpx.AsyncClient, token: str, game: dict[str, Any]
) -> httpx.Response:
    move = legal_moves(GameState.from_json(game["state"]))[0]
    return await client.post(
        f"/api/games/{game['id']}/moves",
        json={"move": move.to_json(), "version": game["version"]},
        headers=bearer(token),
    )


async def _me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get("/api/users/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["data"]["user"]
    return user


async def test_abort_before_a_seat_moved_and_not_after(app_factory: AppFactory) -> None:
    async with app_factory() as (_app, client):
        users, game = await _game(client)
        first, second = users
        assert game["abortAllowed"] is True
        before = [await _me(client, u["accessToken"]) for u in users]

        # Seat 1 moves: seat 2 has not, so either player may still abort.
        moved = await _play_first(client, first["accessToken"], game)
        assert moved.status_code == 200, moved.text
        game = moved.json()["data"]["game"]
        assert game["abortAllowed"] is True
        aborted = await client.post(
            f"/api/games/{game['id']}/abort", headers=bearer(second["accessToken"])
        )
        assert aborted.status_code == 200, aborted.text
        ended = aborted.json()["data"]["game"]
        assert ended["status"] == "cancelled" and ended["endReason"] == "aborted"
        assert ended["winner"] is None and ended["abortAllowed"] is False
        assert all(s["finalRank"] is None and s["ratingAfter"] is None for s in ended["seats"])
        after = [await _me(client, u["accessToken"]) for u in users]
        for old, new in zip(before, after, strict=True):
            assert (old["rating"], old["gamesPlayed"]) == (new["rating"], new["gamesPlayed"])
        again = await client.post(
            f"/api/games/{game['id']}/abort", headers=bearer(first["accessToken"])
        )
        assert again.status_code == 400 and _code(again) == "GAME_ALREADY_ENDED"

        # A game in which both seats have moved cannot be aborted.
        users, game = await _game(client)
        tokens = {1: users[0]["accessToken"], 2: users[1]["accessToken"]}
        while game["abortAllowed"]:
            seat = GameState.from_json(game["state"]).current_player
            moved = await _play_first(client, tokens[seat], game)
            assert moved.status_code == 200, moved.text
            game = moved.json()["data"]["game"]
        refused = await client.post(f"/api/games/{game['id']}/abort", headers=bearer(tokens[1]))
        assert refused.status_code == 409 and _code(refused) == "GAME_ABORT_NOT_ALLOWED"
        assert (await _get(client, game["id"], tokens[1]))["status"] == "active"


async def test_abort_racing_the_move_that_ends_abortability(app_factory: AppFactory) -> None:
    """Seat 2's first move and seat 1's abort at the same version: exactly one wins."""
    async with app_factory() as (_app, client):
        for _ in range(3):
            users, game = await _game(client)
            first, second = users
            while GameState.from_json(game["state"]).current_player == 1:
                moved = await _play_first(client, first["accessToken"], game)
                game = moved.json()["data"]["game"]
            assert game["abortAllowed"] is True
            move_response, abort_response = await asyncio.gather(
                _play_first(client, second["accessToken"], game),
                client.post(
                    f"/api/games/{game['id']}/abort",
                    json={"version": game["version"]},
                    headers=bearer(first["accessToken"]),
                ),
            )
            final = await _get(client, game["id"], first["accessToken"])
            if abort_response.status_code == 200:
                assert move_response.status_code in (400, 409), move_response.text
                assert final["status"] == "cancelled" and final["endReason"] == "aborted"
                assert final["version"] == game["version"]
            else:
                assert move_response.status_code == 200, move_response.text
                assert abort_response.status_code == 409
                assert _code(abort_response) in ("GAME_VERSION_CONFLICT", "GAME_ABORT_NOT_ALLOWED")
                assert final["status"] == "active"


async def test_claim_over_an_opponent_who_never_connected(app_factory: AppFactory) -> None:
    async with app_factory(presence_grace_seconds=GRACE, presence_sweep_seconds=0.2) as (
        _app,
        client,
    ):
        users, game = await _game(client, timeControl=FISCHER)
        first, second = users
        claim = f"/api/games/{game['id']}/claim-victory"
        early = await client.post(claim, headers=bearer(first["accessToken"]))
        assert early.status_code == 409 and _code(early) == "GAME_CLAIM_TOO_EARLY", early.text
        claimable_at = early.json()["error"]["details"]["claimableAt"]
        assert claimable_at > time.time() * 1000
        shown = await _get(client, game["id"], first["accessToken"])
        # The claim marked the opponent away (nobody had looked before).
        assert {p["seat"]: p["online"] for p in shown["presence"]}[2] is False
        assert shown["status"] == "active"
        await asyncio.sleep(max(0.0, claimable_at / 1000 - time.time()) + 0.1)
        won = await client.post(claim, headers=bearer(first["accessToken"]))
        assert won.status_code == 200, won.text
        ended = won.json()["data"]["game"]
        assert ended["status"] == "completed" and ended["endReason"] == "abandoned"
        assert ended["winner"] == 1
        seats = {s["seat"]: s for s in ended["seats"]}
        assert seats[1]["ratingAfter"] > seats[1]["ratingBefore"]
        assert seats[2]["ratingAfter"] < seats[2]["ratingBefore"]
        late = await client.post(claim, headers=bearer(second["accessToken"]))
        assert late.status_code == 400 and _code(late) == "GAME_ALREADY_ENDED"


async def test_claims_that_do_not_apply_change_nothing(app_factory: AppFactory) -> None:
    async with app_factory(presence_grace_seconds=GRACE) as (_app, client):
        # Correspondence: the clock (days per move) is the grace, nothing to claim.
        users, untimed = await _game(client, timeControl="1 day")
        token = users[0]["accessToken"]
        outsider = (await register(client))["accessToken"]
        response = await client.post(
            f"/api/games/{untimed['id']}/claim-victory", headers=bearer(token)
        )
        assert response.status_code == 409 and _code(response) == "GAME_CLAIM_NOT_ALLOWED"
        assert untimed["presence"] is None

        users3, three = await _game(client, players=3, timeControl=FISCHER)
        response = await client.post(
            f"/api/games/{three['id']}/claim-victory", headers=bearer(users3[0]["accessToken"])
        )
        assert response.status_code == 409 and _code(response) == "GAME_CLAIM_NOT_ALLOWED"

        users2, timed = await _game(client, timeControl=FISCHER)
        for path, status, code in (
            (f"/api/games/{timed['id']}/claim-victory", 403, "RESOURCE_ACCESS_DENIED"),
            (f"/api/games/{timed['id']}/abort", 403, "RESOURCE_ACCESS_DENIED"),
            ("/api/games/nope/claim-victory", 404, "GAME_NOT_FOUND"),
            ("/api/games/nope/abort", 404, "GAME_NOT_FOUND"),
            (f"/api/games/{'x' * 65}/abort", 400, "VALIDATION_FAILED"),
        ):
            response = await client.post(path, headers=bearer(outsider))
            assert (response.status_code, _code(response)) == (status, code), path
        no_token = await client.post(f"/api/games/{timed['id']}/claim-victory")
        assert no_token.status_code == 401
        for body in ({"version": "3"}, {"version": -1}, {"version": 1.5}, {"extra": 1}, [1]):
            response = await client.post(
                f"/api/games/{timed['id']}/abort",
                json=body,
                headers=bearer(users2[0]["accessToken"]),
            )
            assert response.status_code == 400 and _code(response) == "VALIDATION_FAILED", body
        stale = await client.post(
            f"/api/games/{timed['id']}/abort",
            json={"version": timed["version"] + 5},
            headers=bearer(users2[0]["accessToken"]),
        )
        assert stale.status_code == 409 and _code(stale) == "GAME_VERSION_CONFLICT"
        for game, owner in (
            (untimed, token),
            (three, users3[0]["accessToken"]),
            (timed, users2[0]["accessToken"]),
        ):
            after = await _get(client, game["id"], owner)
            assert after["status"] == "active" and after["version"] == game["version"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.dictionaries(
            st.sampled_from(["version", "v", "gameId", "x"]),
            st.one_of(
                st.text(max_size=5),
                st.floats(allow_nan=False, allow_infinity=False),
                st.booleans(),
                st.none(),
                st.lists(st.integers()),
            ),
            min_size=1,
        ),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=10),
    )
)
def test_abort_bodies_are_validated(app_factory: AppFactory, body: Any) -> None:
    """Any malformed abort body is a 400 and the game stays as it was."""

    async def check() -> None:
        async with app_factory() as (_app, client):
            users, game = await _game(client)
            response = await client.post(
                f"/api/games/{game['id']}/abort",
                json=body,
                headers=bearer(users[0]["accessToken"]),
            )
            if isinstance(body, dict) and set(body) == {"version"} and body["version"] is None:
                assert response.status_code == 200
                return
            assert response.status_code == 400, (body, response.text)
            assert (await _get(client, game["id"], users[0]["accessToken"]))["status"] == "active"

    asyncio.run(check())
