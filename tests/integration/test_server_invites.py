"""Invitations to private games over HTTP on SQLite and PostgreSQL: the token is shown to
seated players only, joining and watching without a seat need it, a wrong token changes
nothing, and bad input is refused with a clear code."""

from __future__ import annotations

from typing import Any

import httpx
from server_support import AppFactory, bearer, register


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _private(client: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/games",
        json={"boardType": "square8", "maxPlayers": 2, "isRated": False, "isPrivate": True, **body},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    game: dict[str, Any] = response.json()["data"]["game"]
    return game


async def test_the_invite_token_is_for_seated_players_and_unlocks_watching(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as (_app, client):
        owner_t = (await register(client))["accessToken"]
        stranger_t = (await register(client))["accessToken"]
        game = await _private(client, owner_t)
        token = game["inviteToken"]
        assert isinstance(token, str) and len(token) >= 22  # >= 128 bits, url-safe base64
        other = await _private(client, owner_t)
        assert other["inviteToken"] != token
        public = await client.post(
            "/api/games", json={"boardType": "square8"}, headers=bearer(owner_t)
        )
        assert "inviteToken" not in public.json()["data"]["game"]
        # The creator reads it again; the lobby does not list the game.
        mine = await client.get(f"/api/games/{game['id']}", headers=bearer(owner_t))
        assert mine.json()["data"]["game"]["inviteToken"] == token
        lobby = (await client.get("/api/lobby")).json()["data"]["games"]
        assert game["id"] not in {g["id"] for g in lobby}

        url = f"/api/games/{game['id']}"
        # One character off (a different one whatever the token ends with: "x" once in 64).
        altered = token[:-1] + ("y" if token.endswith("x") else "x")
        for path in (url, f"{url}/moves", f"{url}/states/0"):
            missing = await client.get(path, headers=bearer(stranger_t))
            assert missing.status_code == 403 and _code(missing) == "RESOURCE_ACCESS_DENIED"
            wrong = await client.get(path, params={"invite": altered}, headers=bearer(stranger_t))
            assert wrong.status_code == 403 and _code(wrong) == "GAME_INVITE_INVALID", path
            other_games = await client.get(
                path, params={"invite": other["inviteToken"]}, headers=bearer(stranger_t)
            )
            assert _code(other_games) == "GAME_INVITE_INVALID"
            right = await client.get(path, params={"invite": token}, headers=bearer(stranger_t))
            assert right.status_code == 200, (path, right.text)
        watched = (
            await client.get(url, params={"invite": token}, headers=bearer(stranger_t))
        ).json()["data"]["game"]
        assert "inviteToken" not in watched  # watching does not hand the token on
        # An invite link needs a signed-in user.
        anonymous = await client.get(url, params={"invite": token})
        assert anonymous.status_code == 401 and _code(anonymous) == "AUTH_REQUIRED"
        assert (await client.get(url)).status_code == 403
        for bad in ("", "x" * 129):
            refused = await client.get(url, params={"invite": bad}, headers=bearer(stranger_t))
            assert refused.status_code == 400 and _code(refused) == "VALIDATION_FAILED"


async def test_joining_a_private_game_needs_its_token_and_a_wrong_one_changes_nothing(
    app_factory: AppFactory,
) -> None:
    async with app_factory() as (_app, client):
        owner, guest = await register(client), await register(client)
        owner_t, guest_t = owner["accessToken"], guest["accessToken"]
        game = await _private(client, owner_t)
        join = f"/api/games/{game['id']}/join"
        before = (await client.get(f"/api/games/{game['id']}", headers=bearer(owner_t))).json()

        missing = await client.post(join, headers=bearer(guest_t))
        assert missing.status_code == 403 and _code(missing) == "RESOURCE_ACCESS_DENIED"
        wrong = await client.post(join, params={"invite": "A" * 32}, headers=bearer(guest_t))
        assert wrong.status_code == 403 and _code(wrong) == "GAME_INVITE_INVALID"
        too_long = await client.post(join, params={"invite": "A" * 200}, headers=bearer(guest_t))
        assert too_long.status_code == 400 and _code(too_long) == "VALIDATION_FAILED"
        unknown = await client.post(
            "/api/games/nope/join", params={"invite": game["inviteToken"]}, headers=bearer(guest_t)
        )
        assert unknown.status_code == 404 and _code(unknown) == "GAME_NOT_FOUND"
        after = (await client.get(f"/api/games/{game['id']}", headers=bearer(owner_t))).json()
        assert after["data"]["game"]["seats"] == before["data"]["game"]["seats"]
        assert after["data"]["game"]["status"] == "waiting"

        joined = await client.post(
            join, params={"invite": game["inviteToken"]}, headers=bearer(guest_t)
        )
        assert joined.status_code == 200, joined.text
        data = joined.json()["data"]["game"]
        assert data["status"] == "active"
        assert data["inviteToken"] == game["inviteToken"]  # now seated: may share it too
        seated = await client.get(f"/api/games/{game['id']}", headers=bearer(guest_t))
        assert seated.status_code == 200
        listed = (await client.get("/api/games", headers=bearer(guest_t))).json()["data"]
        assert listed["games"][0]["inviteToken"] == game["inviteToken"]
