"""The public player page's data: results per board and the latest finished games, on SQLite
and PostgreSQL, from games really played out (ended by resignation) through the API."""

from __future__ import annotations

from typing import Any

import httpx
from server_support import bearer, register


async def _played(
    client: httpx.AsyncClient,
    owner: dict[str, Any],
    guest: dict[str, Any] | None,
    loser: dict[str, Any],
    **options: Any,
) -> str:
    """A game of ``owner`` (and ``guest``, else one AI seat) that ``loser`` resigns."""
    body: dict[str, Any] = {"boardType": "square8", "maxPlayers": 2, "isRated": False, **options}
    if guest is None:
        body["aiOpponents"] = {"count": 1, "difficulty": [1]}
    created = await client.post("/api/games", headers=bearer(owner["accessToken"]), json=body)
    assert created.status_code == 201, created.text
    game = created.json()["data"]["game"]
    game_id: str = game["id"]
    if guest is not None:
        invite = {"invite": game["inviteToken"]} if game.get("inviteToken") else {}
        joined = await client.post(
            f"/api/games/{game_id}/join", headers=bearer(guest["accessToken"]), params=invite
        )
        assert joined.status_code == 200, joined.text
    resigned = await client.post(
        f"/api/games/{game_id}/leave", headers=bearer(loser["accessToken"])
    )
    assert resigned.status_code == 200, resigned.text
    return game_id


async def test_profile_lists_results_per_board_and_recent_public_games(
    client: httpx.AsyncClient,
) -> None:
    a, b = await register(client), await register(client)
    first = await _played(client, a, b, loser=b)  # a wins on square8
    second = await _played(client, a, b, loser=a, boardType="hex8")  # a loses on hex8
    hidden = await _played(client, a, b, loser=b, isPrivate=True)  # a wins, privately
    against_ai = await _played(client, a, None, loser=a)  # a loses to the AI on square8

    profile = (await client.get(f"/api/users/{a['user']['id']}")).json()["data"]
    by_board = {(r["boardType"], r["maxPlayers"]): r for r in profile["byBoard"]}
    assert set(by_board) == {("square8", 2), ("hex8", 2)}
    square = by_board[("square8", 2)]
    assert (square["games"], square["wins"], square["draws"], square["losses"]) == (3, 2, 0, 1)
    assert square["winRate"] == round(2 / 3, 4)
    hexes = by_board[("hex8", 2)]
    assert (hexes["games"], hexes["wins"], hexes["losses"]) == (1, 0, 1)
    # Most played first; the per-board figures add up to the profile's counters.
    assert profile["byBoard"][0]["boardType"] == "square8"
    assert sum(r["games"] for r in profile["byBoard"]) == profile["stats"]["gamesPlayed"] == 4
    assert sum(r["wins"] for r in profile["byBoard"]) == profile["stats"]["wins"] == 2

    recent = profile["recentGames"]
    assert [g["gameId"] for g in recent] == [against_ai, second, first]  # no private game
    assert hidden not in {g["gameId"] for g in recent}
    assert [g["result"] for g in recent] == ["loss", "loss", "win"]
    assert [g["rank"] for g in recent] == [2, 2, 1]
    assert all(g["endReason"] == "resignation" and g["ratingDelta"] is None for g in recent)
    assert recent[0]["opponents"] == [{"seat": 2, "userId": None, "username": None, "aiLevel": 1}]
    assert recent[2]["opponents"] == [
        {"seat": 2, "userId": b["user"]["id"], "username": b["user"]["username"], "aiLevel": None}
    ]

    # Someone without a finished game: empty lists, not missing keys.
    c = await register(client)
    empty = (await client.get(f"/api/users/{c['user']['id']}")).json()["data"]
    assert empty["byBoard"] == [] and empty["recentGames"] == []
