"""Drill ``instance-failover``: two app instances share the database; kill one mid-game and the
client carries on through the other, with every acknowledged move intact and the same tokens
(no sticky sessions)."""

from __future__ import annotations

import time

from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import Api, Drill, DrillContext, Recorder, register
from ringrift.rules import GameState


@register
class InstanceFailover(Drill):
    name = "instance-failover"
    title = "App instance failover"
    objective = (
        "With two app instances, kill -9 the one a client uses mid-game; the client continues "
        "on the other instance with the same tokens, sees every acknowledged move and plays on."
    )
    alerts = (Alert.APP_INSTANCE_DOWN,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        apps = ctx.stack.app_names
        if not rec.check("the stack runs two app instances", len(apps) >= 2, f"apps {apps}"):
            rec.finding("start the stack with --apps 2 to run this drill")
            return
        primary = ctx.app
        secondary = next(name for name in apps if name != primary)
        with rec.step(f"Seed users and a game through {primary}"):
            data = ctx.seed_data(users=2, games=1, moves=4)
        entry = data.games[0]
        acknowledged = [m["moveNumber"] for m in entry.acknowledged]
        with rec.step(f"kill -9 {primary}"):
            ctx.stack.kill(primary)
            killed_at = time.monotonic()
        ctx.close()
        other = Api(ctx.stack.url(secondary))
        try:
            with rec.step(f"Continue the game through {secondary} with the same tokens"):
                moves = other.moves(entry.game["id"])["moves"]
                seen = [m["moveNumber"] for m in moves]
                game = other.game(entry.game["id"])
                entry.game = game
                before = game["version"]
                state = GameState.from_json(game["state"])
                player = entry.players[state.current_player]
                entry.game = other.play(player, game, ctx.rng_for(entry))
            rec.check(
                "every acknowledged move is visible on the other instance",
                seen[: len(acknowledged)] == acknowledged,
                f"acknowledged {acknowledged}, seen {seen}",
            )
            rec.check(
                "the game continues on the other instance without logging in again",
                entry.game["version"] > before or entry.game["status"] != "active",
                f"version {before} -> {entry.game['version']}",
            )
            ctx.hold_until_firing(rec, self.alerts, killed_at)
        finally:
            other.close()
            with rec.step(f"Restart {primary}"):
                ctx.stack.start(primary)
        rec.check(f"{primary} healthy again", ctx.stack.healthy(primary, timeout=5.0), primary)
        rec.finding(f"{secondary} served the game while {primary} was down")
