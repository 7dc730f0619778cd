"""Drill ``db-outage``: stop PostgreSQL under a running app. /ready must turn 503 ``unhealthy``,
API calls that need the database must answer 503 ``SERVER_DATABASE_UNAVAILABLE`` quickly (no
hangs, no 500s) and the app must stay alive; when PostgreSQL returns the app must recover by
itself, without a restart, within the recovery bound."""

from __future__ import annotations

import statistics
import time
from typing import Any

from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import Drill, DrillContext, Recorder, register
from ringrift.rules import GameState, legal_moves

FAST_SECONDS = 3.0
DETECT_SECONDS = 5.0


@register
class DbOutage(Drill):
    name = "db-outage"
    title = "Database outage"
    objective = (
        "Stop PostgreSQL while the app serves: /ready returns 503 unhealthy, API calls that need "
        "the database return 503 SERVER_DATABASE_UNAVAILABLE quickly with no 500s, the app "
        "process stays up; start PostgreSQL: the app recovers by itself, without a restart."
    )
    alerts = (Alert.DATABASE_UNAVAILABLE,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        api = ctx.api
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=2, games=1, moves=4)
        entry = data.games[0]
        user = data.users[0]
        app_pid = ctx.stack.pid(ctx.app)
        baseline = api.ready()
        rec.check(
            "baseline /ready is 200 healthy",
            baseline.status_code == 200 and baseline.json()["status"] == "healthy",
            f"HTTP {baseline.status_code} {baseline.json().get('status')}",
        )

        with rec.step("Stop PostgreSQL (pg_ctl stop -m fast)"):
            ctx.stack.stop("postgres")
            stopped_at = time.monotonic()
        try:
            response, seconds = ctx.wait_ready(
                lambda r: r.status_code == 503 and r.json()["status"] == "unhealthy",
                DETECT_SECONDS,
            )
            rec.timing("outage_detected_s", seconds)
            detail = (
                f"after {seconds:.2f}s: {response.json()['checks']['database']}"
                if response is not None
                else f"not seen in {DETECT_SECONDS}s"
            )
            rec.check("/ready returns 503 unhealthy", response is not None, detail)

            calls: dict[str, tuple[str, str, dict[str, Any]]] = {
                "GET game": ("GET", f"/api/games/{entry.game['id']}", {}),
                "GET moves": ("GET", f"/api/games/{entry.game['id']}/moves", {}),
                "POST login": (
                    "POST",
                    "/api/auth/login",
                    {"json": {"email": user.email, "password": user.password}},
                ),
                "POST move": (
                    "POST",
                    f"/api/games/{entry.game['id']}/moves",
                    {
                        "json": {
                            "move": legal_moves(GameState.from_json(entry.game["state"]))[
                                0
                            ].to_json(),
                            "version": entry.game["version"],
                        },
                        "token": entry.players[
                            GameState.from_json(entry.game["state"]).current_player
                        ].access_token,
                    },
                ),
            }
            latencies: list[float] = []
            with rec.step("Call API endpoints that need the database (3 rounds)"):
                for _round in range(3):
                    for label, (method, path, kwargs) in calls.items():
                        response, seconds, error = api.timed(method, path, **kwargs)
                        latencies.append(seconds)
                        code = ""
                        if response is not None:
                            try:
                                code = response.json()["error"]["code"]
                            except (ValueError, KeyError, TypeError):
                                code = "(no error envelope)"
                        ok = (
                            response is not None
                            and response.status_code == 503
                            and code == "SERVER_DATABASE_UNAVAILABLE"
                            and seconds <= FAST_SECONDS
                        )
                        if _round == 0 or not ok:
                            rec.check(
                                f"{label} -> 503 SERVER_DATABASE_UNAVAILABLE "
                                f"in <= {FAST_SECONDS:.0f}s",
                                ok,
                                f"HTTP {response.status_code if response is not None else error} "
                                f"{code} in {seconds * 1000:.0f} ms",
                            )
            rec.timing("db_down_api_latency_max_s", max(latencies))
            rec.timing("db_down_api_latency_median_s", statistics.median(latencies))
            five_hundreds = [s for s in api.statuses if s[1] == 500]
            rec.check(
                "no HTTP 500 during the outage", not five_hundreds, f"{len(five_hundreds)} x 500"
            )
            health, _s, error = api.timed("GET", "/health")
            rec.check(
                "app process alive and /health 200",
                ctx.stack.pid(ctx.app) == app_pid
                and health is not None
                and health.status_code == 200,
                f"pid {ctx.stack.pid(ctx.app)} (was {app_pid}), /health "
                f"{health.status_code if health is not None else error}",
            )
            ctx.hold_until_firing(rec, self.alerts, stopped_at)
        finally:
            with rec.step("Start PostgreSQL again"):
                started = time.monotonic()
                ctx.stack.start("postgres")
                rec.timing("postgres_start_s", time.monotonic() - started)

        response, seconds = ctx.wait_ready(
            lambda r: r.status_code == 200 and r.json()["status"] in ("healthy", "degraded"),
            ctx.recovery_timeout,
        )
        rec.timing("recovery_s", seconds)
        rec.check(
            f"app recovers by itself within {ctx.recovery_timeout:.0f}s",
            response is not None,
            f"/ready 200 after {seconds:.2f}s"
            if response is not None
            else f"/ready still not 200 after {seconds:.1f}s",
        )
        rec.check(
            "app was not restarted",
            ctx.stack.pid(ctx.app) == app_pid,
            f"pid {ctx.stack.pid(ctx.app)} (was {app_pid})",
        )
        if response is None:
            return
        login = api.login(user)
        rec.check(
            "login works after recovery", login.status_code == 200, f"HTTP {login.status_code}"
        )
        with rec.step("Submit a new move after recovery"):
            before = entry.game["version"]
            game = ctx.play(entry)
        rec.check(
            "gameplay continues after recovery",
            game["version"] > before,
            f"version {before} -> {game['version']}",
        )
        rec.finding(
            f"DB-down API latency max {max(latencies) * 1000:.0f} ms; PostgreSQL start "
            f"{rec.result.timings['postgres_start_s']:.2f}s, app ready {seconds:.2f}s later"
        )
