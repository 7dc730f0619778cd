"""Drill ``redis-outage``: stop Redis under a serving app. /ready turns ``degraded`` with a
``redis`` error within 2 s, login and moves keep working (rate limits fall back to the
instance), and when Redis returns the app's client reconnects by itself: /ready healthy within
5 s with no restart (the original platform's finding was a client that stayed closed)."""

from __future__ import annotations

import time

from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import Drill, DrillContext, Recorder, register
from ringrift.ops.stack import Stack

DETECT_SECONDS = 2.0
RECOVER_SECONDS = 5.0


@register
class RedisOutage(Drill):
    name = "redis-outage"
    title = "Redis outage"
    objective = (
        "Stop Redis: /ready turns degraded with redis {status: degraded, error} within 2 s; "
        "login and moves keep working; start Redis: /ready healthy again within 5 s without "
        "restarting the app (the client reconnects by itself)."
    )
    alerts = (Alert.REDIS_DOWN,)

    def required_alerts(self, ctx: DrillContext) -> tuple[Alert, ...]:
        """None with Sentinel: stopping the redis service there is a failover that Sentinel
        completes in about 3 s, and the drill's requests fall back to local rate limits
        within 0.1 s of the stop. The counter (ringrift_ratelimit_local_total{bucket})
        exists at 0 from the app's start, so that burst does raise the alert when requests
        fall into the 3 s before the promotion, but that (and a /ready probe, every 5 s,
        that sees the gap) is a matter of timing, not a guarantee. redis-failover requires the alert
        for that fault instead (its probes keep falling back across several scrapes)."""
        if isinstance(ctx.stack, Stack) and ctx.stack.redis_ha:
            return ()
        return self.alerts

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        api = ctx.api
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=2, games=1, moves=2)
        user = data.users[0]
        entry = data.games[0]
        app_pids = {name: ctx.stack.pid(name) for name in ctx.stack.app_names}
        baseline = api.ready().json()
        rec.check(
            "baseline redis healthy",
            baseline["checks"]["redis"]["status"] == "healthy",
            str(baseline["checks"]["redis"]),
        )
        with rec.step("Stop Redis"):
            ctx.stack.stop("redis")
            stopped_at = time.monotonic()
        try:
            response, seconds = ctx.wait_ready(
                lambda r: r.json()["checks"]["redis"]["status"] == "degraded", DETECT_SECONDS + 3
            )
            rec.timing("redis_outage_detected_s", seconds)
            body = response.json() if response is not None else {}
            redis = body.get("checks", {}).get("redis", {})
            rec.check(
                f"/ready shows redis degraded within {DETECT_SECONDS:.0f} s",
                response is not None and seconds <= DETECT_SECONDS,
                f"after {seconds:.2f}s: {redis}",
            )
            rec.check(
                "/ready is 200 degraded with an error",
                response is not None
                and response.status_code == 200
                and body.get("status") == "degraded"
                and bool(redis.get("error")),
                f"HTTP {None if response is None else response.status_code} {body.get('status')}",
            )
            _, login_s, _ = api.timed(
                "POST", "/api/auth/login", json={"email": user.email, "password": user.password}
            )
            login = api.login(user)
            rec.check("login works", login.status_code == 200, f"HTTP {login.status_code}")
            rec.timing("login_during_outage_s", login_s)
            rec.check("login is not slowed by Redis", login_s < 2.0, f"{login_s:.3f}s")
            with rec.step("Submit moves while Redis is down"):
                versions = [entry.game["version"]]
                for player in entry.players.values():
                    api.login(player)
                for _ in range(2):
                    if entry.game["status"] != "active":
                        break
                    versions.append(ctx.play(entry)["version"])
            # Each acknowledged move advances the version (by more than one when the server
            # played bookkeeping moves with it).
            rec.check(
                "moves are acknowledged during the outage",
                (len(versions) == 3 and versions[0] < versions[1] < versions[2])
                or entry.game["status"] != "active",
                "versions " + " -> ".join(str(v) for v in versions),
            )
            ctx.hold_until_firing(rec, self.required_alerts(ctx), stopped_at)
            if ctx.prometheus and not self.required_alerts(ctx):
                rec.note(
                    "No alert required: Sentinel heals this fault in seconds, so whether "
                    "RingRiftRedisDown fires depends on requests falling into the gap "
                    "(RedisOutage.required_alerts); redis-failover requires it"
                )
        finally:
            with rec.step("Start Redis again"):
                ctx.stack.start("redis")
        response, seconds = ctx.wait_ready(
            lambda r: r.json()["checks"]["redis"]["status"] == "healthy", RECOVER_SECONDS + 10
        )
        rec.timing("redis_recovery_s", seconds)
        rec.check(
            f"/ready healthy again within {RECOVER_SECONDS:.0f} s, no restart",
            response is not None and seconds <= RECOVER_SECONDS,
            f"after {seconds:.2f}s" if response is not None else "never recovered",
        )
        rec.check(
            "no app instance was restarted",
            all(ctx.stack.pid(name) == pid for name, pid in app_pids.items()),
            f"pids {app_pids}",
        )
        rec.finding(
            f"outage visible after {rec.result.timings.get('redis_outage_detected_s', 0):.2f}s; "
            f"client reconnected {seconds:.2f}s after Redis returned"
        )
