"""Drill ``secrets-rotation``: rotate the JWT keyring immediately while the app serves. Tokens
signed before the rotation are rejected with ``AUTH_TOKEN_INVALID``; a new login works and its
token works; health passes throughout; no app restart."""

from __future__ import annotations

import time

import jwt

from ringrift.ops.drills.base import Drill, DrillContext, Recorder, register
from ringrift.ops.secrets import rotate

REJECT_SECONDS = 10.0


@register
class SecretsRotation(Drill):
    name = "secrets-rotation"
    title = "Secrets rotation"
    objective = (
        "Rotate the JWT signing keys (immediate mode) on a running platform: old tokens are "
        "rejected with AUTH_TOKEN_INVALID, a new login works and its token works, /health "
        "passes throughout and no instance restarts."
    )

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        api = ctx.api
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=2, games=1, moves=2)
        user = data.users[0]
        old_token = user.access_token
        old_kid = jwt.get_unverified_header(old_token).get("kid")
        app_pid = ctx.stack.pid(ctx.app)
        me = api.request("GET", "/api/users/me", token=old_token)
        rec.check(
            "old token accepted before rotation", me.status_code == 200, f"HTTP {me.status_code}"
        )
        health_codes: list[int] = []

        with rec.step("Rotate the keyring with `ringrift secrets rotate --immediate`"):
            result = rotate(ctx.stack.keyring_file, "immediate", redis_url=ctx.stack.url("redis"))
        rec.note(
            f"active key {old_kid} -> {result.active_kid}; notified over Redis: {result.notified}"
        )

        started = time.monotonic()
        code, error = me.status_code, None
        while time.monotonic() - started < REJECT_SECONDS:
            health_codes.append(api.request("GET", "/health").status_code)
            response = api.request("GET", "/api/users/me", token=old_token)
            code = response.status_code
            error = (response.json().get("error") or {}).get("code")
            if code == 401:
                break
            time.sleep(0.1)
        seconds = time.monotonic() - started
        rec.timing("old_token_rejected_s", seconds)
        rec.check(
            f"old token rejected with AUTH_TOKEN_INVALID within {REJECT_SECONDS:.0f}s",
            code == 401 and error == "AUTH_TOKEN_INVALID",
            f"HTTP {code} {error} after {seconds:.2f}s",
        )

        with rec.step("Log in again and use the new token"):
            login = api.login(user)
        rec.check("new login works", login.status_code == 200, f"HTTP {login.status_code}")
        new_kid = jwt.get_unverified_header(user.access_token).get("kid")
        rec.check(
            "new token signed with the new key", new_kid == result.active_kid, f"kid {new_kid}"
        )
        me = api.request("GET", "/api/users/me", token=user.access_token)
        rec.check("new token works", me.status_code == 200, f"HTTP {me.status_code}")
        game = data.games[0]
        with rec.step("Every player logs in again and the seeded game takes a move"):
            for player in game.players.values():
                if player.id != user.id:
                    api.login(player)
            before = game.game["version"]
            ctx.play(game)
        rec.check(
            "games continue after rotation",
            game.game["version"] > before or game.game["status"] != "active",
            f"version {before} -> {game.game['version']}",
        )
        health_codes.append(api.request("GET", "/health").status_code)
        rec.check(
            "health passed throughout",
            all(c == 200 for c in health_codes),
            f"{len(health_codes)} probes, codes {sorted(set(health_codes))}",
        )
        rec.check("app was not restarted", ctx.stack.pid(ctx.app) == app_pid, f"pid {app_pid}")
        rec.finding(f"old tokens rejected {seconds:.2f}s after rotation, without a restart")
