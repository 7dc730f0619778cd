"""Roles, bans and reports: the admin API, the `ringrift admin` CLI and player reports, on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from server_support import AppFactory, bearer, register
from typer.testing import CliRunner, Result

from ringrift.server.admin_cli import admin_app


def _code(response: httpx.Response) -> str:
    body = response.json()
    assert body["success"] is False, body
    return str(body["error"]["code"])


async def _invoke(database_url: str, *args: str) -> Result:
    """``ringrift admin ...`` (in a thread: the CLI runs its own event loop)."""
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, admin_app, [*args, "--database-url", database_url]
    )


async def _cli(database_url: str, *args: str) -> str:
    result = await _invoke(database_url, *args)
    assert result.exit_code == 0, result.output
    return result.output


async def _login(client: httpx.AsyncClient, user: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )


async def test_cli_grants_roles_and_bans_end_sessions_at_once(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory() as (_, client):
        root = await register(client, "root")
        mallory = await register(client, "mallory")
        mod = await register(client, "mod")
        denied = await client.get("/api/admin/reports", headers=bearer(root["accessToken"]))
        assert denied.status_code == 403 and _code(denied) == "AUTH_FORBIDDEN"

        assert "is now admin" in await _cli(database_url, "grant-role", "root@example.com", "admin")
        admin = bearer(root["accessToken"])
        promoted = await client.put(
            f"/api/admin/users/{mod['user']['id']}/role", json={"role": "moderator"}, headers=admin
        )
        assert promoted.status_code == 200 and promoted.json()["data"]["role"] == "moderator"
        me = await client.get("/api/users/me", headers=bearer(mod["accessToken"]))
        assert me.json()["data"]["user"]["role"] == "moderator"

        # A moderator bans a player: the player's tokens die at once.
        banned = await client.post(
            f"/api/admin/users/{mallory['user']['id']}/ban",
            json={"reason": "cheating"},
            headers=bearer(mod["accessToken"]),
        )
        assert banned.status_code == 200, banned.text
        assert banned.json()["data"]["banned"] is True
        seen = await client.get(
            f"/api/admin/users/{mallory['user']['id']}", headers=bearer(mod["accessToken"])
        )
        assert seen.status_code == 200
        assert seen.json()["data"]["banReason"] == "cheating"
        assert seen.json()["data"]["email"] == "mallory@example.com"
        me = await client.get("/api/users/me", headers=bearer(mallory["accessToken"]))
        assert me.status_code == 401 and _code(me) == "AUTH_TOKEN_INVALID"
        refresh = await client.post(
            "/api/auth/refresh", json={"refreshToken": mallory["refreshToken"]}
        )
        assert refresh.status_code == 401
        login = await _login(client, mallory)
        assert login.status_code == 403 and _code(login) == "AUTH_ACCOUNT_BANNED"
        # A wrong password says nothing about the ban.
        guess = await client.post(
            "/api/auth/login", json={"email": mallory["email"], "password": "wrong-guess"}
        )
        assert guess.status_code == 401 and _code(guess) == "AUTH_INVALID_CREDENTIALS"

        # Moderators cannot touch staff or roles; nobody moderates themselves.
        on_admin = await client.post(
            f"/api/admin/users/{root['user']['id']}/ban",
            json={"reason": "coup"},
            headers=bearer(mod["accessToken"]),
        )
        assert on_admin.status_code == 403 and _code(on_admin) == "AUTH_FORBIDDEN"
        role = await client.put(
            f"/api/admin/users/{mallory['user']['id']}/role",
            json={"role": "admin"},
            headers=bearer(mod["accessToken"]),
        )
        assert role.status_code == 403
        self_ban = await client.post(
            f"/api/admin/users/{root['user']['id']}/ban", json={"reason": "oops"}, headers=admin
        )
        assert self_ban.status_code == 403

        unbanned = await client.post(
            f"/api/admin/users/{mallory['user']['id']}/unban", headers=admin
        )
        assert unbanned.status_code == 200 and unbanned.json()["data"]["banned"] is False
        assert (await _login(client, mallory)).status_code == 200

        # The CLI bans as well (by username) and the ban holds over the API.
        fresh = (await _login(client, mallory)).json()["data"]
        assert "is banned" in await _cli(database_url, "ban", "mallory", "--reason", "again")
        me = await client.get("/api/users/me", headers=bearer(fresh["accessToken"]))
        assert me.status_code == 401
        assert _code(await _login(client, mallory)) == "AUTH_ACCOUNT_BANNED"
        assert "no longer banned" in await _cli(database_url, "unban", mallory["user"]["id"])
        assert (await _login(client, mallory)).status_code == 200

        missing = await _invoke(database_url, "ban", "nobody-here")
        assert missing.exit_code == 1 and "RESOURCE_USER_NOT_FOUND" in missing.output


async def test_players_report_users_and_staff_list_reports(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory(rate_limit_reports=2) as (_, client):
        nina = await register(client, "nina")
        oscar = await register(client, "oscar")
        staff = await register(client, "staff")
        await _cli(database_url, "grant-role", "staff", "moderator")
        headers = bearer(nina["accessToken"])

        created = await client.post(
            "/api/reports",
            json={"userId": oscar["user"]["id"], "reason": "  abusive username  "},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        report = created.json()["data"]
        assert report["username"] == "oscar" and report["reporterUsername"] == "nina"
        assert report["reason"] == "abusive username" and report["status"] == "open"

        listed = await client.get("/api/admin/reports", headers=bearer(staff["accessToken"]))
        assert listed.status_code == 200
        page = listed.json()["data"]
        assert page["total"] == 1 and page["reports"][0]["id"] == report["id"]
        closed = await client.get(
            "/api/admin/reports?status=closed", headers=bearer(staff["accessToken"])
        )
        assert closed.json()["data"]["total"] == 0
        assert "abusive username" in await _cli(database_url, "list-reports")

        second = await client.post(
            "/api/reports",
            json={"userId": oscar["user"]["id"], "reason": "again and again"},
            headers=headers,
        )
        assert second.status_code == 201
        limited = await client.post(
            "/api/reports",
            json={"userId": oscar["user"]["id"], "reason": "third time"},
            headers=headers,
        )
        assert limited.status_code == 429 and _code(limited) == "RATE_LIMIT_EXCEEDED"

        staff_headers = bearer(staff["accessToken"])
        player_close = await client.post(
            f"/api/admin/reports/{report['id']}/close", headers=headers
        )
        assert player_close.status_code == 403 and _code(player_close) == "AUTH_FORBIDDEN"
        done = await client.post(f"/api/admin/reports/{report['id']}/close", headers=staff_headers)
        assert done.status_code == 200 and done.json()["data"]["status"] == "closed"
        open_page = await client.get("/api/admin/reports?status=open", headers=staff_headers)
        assert [r["id"] for r in open_page.json()["data"]["reports"]] == [
            second.json()["data"]["id"]
        ]
        assert "is closed" in await _cli(database_url, "close-report", second.json()["data"]["id"])
        assert "no reports" in await _cli(database_url, "list-reports", "--status", "open")


async def test_bad_input_on_every_new_route(app_factory: AppFactory, database_url: str) -> None:
    async with app_factory() as (app, client):
        pia = await register(client, "pia")
        quinn = await register(client, "quinn")
        await _cli(database_url, "grant-role", "pia", "admin")
        headers = bearer(pia["accessToken"])
        uid = quinn["user"]["id"]
        cases: list[tuple[str, str, Any, dict[str, str], int, str]] = [
            ("POST", "/api/auth/password-reset", {}, {}, 400, "VALIDATION_FAILED"),
            ("POST", "/api/auth/password-reset", {"email": "nope"}, {}, 400, "VALIDATION_FAILED"),
            ("POST", "/api/auth/password-reset", {"email": 5}, {}, 400, "VALIDATION_FAILED"),
            ("POST", "/api/auth/password-reset/confirm", {"token": "x"}, {}, 400,
             "VALIDATION_FAILED"),
            ("POST", "/api/auth/password-reset/confirm",
             {"token": "A" * 43, "newPassword": "x" * 129}, {}, 400, "VALIDATION_FAILED"),
            ("POST", "/api/auth/password-reset/confirm",
             {"token": "A" * 43, "newPassword": "long-enough-1"}, {}, 400,
             "AUTH_ACCOUNT_TOKEN_INVALID"),
            ("POST", "/api/auth/verify-email", {"token": "../../etc/passwd"}, {}, 400,
             "VALIDATION_FAILED"),
            ("POST", "/api/auth/verify-email", {"token": "B" * 43}, {}, 400,
             "AUTH_ACCOUNT_TOKEN_INVALID"),
            ("POST", "/api/account/verify-email/resend", None, {}, 401, "AUTH_REQUIRED"),
            ("POST", "/api/account/password", {"currentPassword": "x"}, headers, 400,
             "VALIDATION_FAILED"),
            ("POST", "/api/account/password",
             {"currentPassword": "correct-horse-1", "newPassword": "1234567"}, headers, 400,
             "AUTH_PASSWORD_WEAK"),
            ("POST", "/api/account/password",
             {"currentPassword": "a", "newPassword": "b" * 10}, {}, 401, "AUTH_REQUIRED"),
            ("DELETE", "/api/account", {}, headers, 400, "VALIDATION_FAILED"),
            ("DELETE", "/api/account", {"password": "wrong"}, headers, 403,
             "AUTH_INVALID_CREDENTIALS"),
            ("GET", "/api/account/export", None, {"Authorization": "Basic x"}, 401,
             "AUTH_TOKEN_INVALID"),
            ("POST", "/api/reports", {"userId": uid}, headers, 400, "VALIDATION_FAILED"),
            ("POST", "/api/reports", {"userId": uid, "reason": "x"}, headers, 400,
             "VALIDATION_FAILED"),
            ("POST", "/api/reports", {"userId": "no-such-user", "reason": "spam spam"}, headers,
             404, "RESOURCE_USER_NOT_FOUND"),
            ("POST", "/api/reports", {"userId": pia["user"]["id"], "reason": "myself"}, headers,
             400, "VALIDATION_FAILED"),
            ("POST", f"/api/admin/users/{uid}/ban", {}, headers, 400, "VALIDATION_FAILED"),
            ("POST", "/api/admin/users/nobody/ban", {"reason": "spam"}, headers, 404,
             "RESOURCE_USER_NOT_FOUND"),
            ("POST", "/api/admin/users/nobody/unban", None, headers, 404,
             "RESOURCE_USER_NOT_FOUND"),
            ("PUT", f"/api/admin/users/{uid}/role", {"role": "god"}, headers, 400,
             "VALIDATION_FAILED"),
            ("GET", "/api/admin/reports?status=maybe", None, headers, 400, "VALIDATION_FAILED"),
            ("GET", "/api/admin/reports?limit=0", None, headers, 400, "VALIDATION_FAILED"),
            ("POST", "/api/admin/reports/nope/close", None, headers, 404, "RESOURCE_NOT_FOUND"),
            ("GET", "/api/admin/users/nobody", None, headers, 404, "RESOURCE_USER_NOT_FOUND"),
            ("GET", f"/api/admin/users/{uid}", None, bearer(quinn["accessToken"]), 403,
             "AUTH_FORBIDDEN"),
            ("GET", "/api/admin/reports", None, bearer(quinn["accessToken"]), 403,
             "AUTH_FORBIDDEN"),
        ]  # fmt: skip
        for method, path, body, hdrs, status, code in cases:
            kwargs: dict[str, Any] = {"headers": hdrs}
            if body is not None:
                kwargs["json"] = body
            response = await client.request(method, path, **kwargs)
            assert (response.status_code, _code(response)) == (status, code), (
                method,
                path,
                body,
                response.text,
            )
        # Nothing changed: both can still log in, nobody is banned, no report exists.
        for user in (pia, quinn):
            assert (await _login(client, user)).status_code == 200
        page = (await client.get("/api/admin/reports", headers=headers)).json()["data"]
        assert page["total"] == 0
        me = (await client.get("/api/users/me", headers=bearer(quinn["accessToken"]))).json()
        assert me["data"]["user"]["role"] == "player"
        assert app.state.ctx.metrics is not None


async def _rated_game(client: httpx.AsyncClient, a: dict[str, Any], b: dict[str, Any]) -> None:
    created = await client.post(
        "/api/games",
        json={"boardType": "square8", "isRated": True},
        headers=bearer(a["accessToken"]),
    )
    game_id = created.json()["data"]["game"]["id"]
    await client.post(f"/api/games/{game_id}/join", headers=bearer(b["accessToken"]))
    resigned = await client.post(f"/api/games/{game_id}/leave", headers=bearer(b["accessToken"]))
    game = resigned.json()["data"]["game"]
    assert game["status"] == "completed" and game["isRated"] is True


async def test_banned_and_deleted_accounts_leave_the_leaderboard(
    app_factory: AppFactory, database_url: str
) -> None:
    async with app_factory() as (_, client):
        ulla, vera, walt, xena = [
            await register(client, n) for n in ("ulla", "vera", "walt", "xena")
        ]
        await _rated_game(client, ulla, vera)
        await _rated_game(client, walt, xena)

        async def board() -> set[str]:
            page = (await client.get("/api/leaderboard")).json()["data"]
            assert page["total"] == len(page["entries"])
            return {e["username"] for e in page["entries"]}

        assert await board() == {"ulla", "vera", "walt", "xena"}
        await _cli(database_url, "ban", "vera")
        deleted = await client.request(
            "DELETE",
            "/api/account",
            json={"password": walt["password"]},
            headers=bearer(walt["accessToken"]),
        )
        assert deleted.status_code == 200
        assert await board() == {"ulla", "xena"}
        await _cli(database_url, "unban", "vera")
        assert await board() == {"ulla", "vera", "xena"}
