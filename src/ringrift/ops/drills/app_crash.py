"""Drill ``app-crash``: SIGKILL an app instance mid-game right after acknowledged moves, restart
it through the stack, and prove that every acknowledged move survived and the game goes on."""

from __future__ import annotations

import time

import httpx

from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import Drill, DrillContext, Recorder, register
from ringrift.rules import GameState, Move, apply_move


@register
class AppCrash(Drill):
    name = "app-crash"
    title = "App instance crash"
    objective = (
        "Kill -9 an app instance in the middle of a game, right after moves were acknowledged; "
        "restart it; every acknowledged move is present, replaying them reproduces the stored "
        "state, and the game continues with a new move."
    )
    alerts = (Alert.APP_INSTANCE_DOWN,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        with rec.step("Seed users and games with moves through the public API"):
            data = ctx.seed_data(users=2, games=1, moves=8)
        entry = data.games[0]
        acknowledged = list(entry.acknowledged)
        version = entry.game["version"]
        rec.check(
            "moves acknowledged before the crash",
            len(acknowledged) == version >= 8,
            f"{len(acknowledged)} acknowledged, game version {version}",
        )
        old_pid = ctx.stack.pid(ctx.app)
        with rec.step(f"kill -9 {ctx.app} (pid {old_pid})"):
            ctx.stack.kill(ctx.app)
            killed_at = time.monotonic()
        ctx.close()
        try:
            httpx.get(f"{ctx.stack.url(ctx.app)}/health", timeout=1.0)
            down = False
        except httpx.HTTPError:
            down = True
        rec.check(
            f"{ctx.app} is down", down and not ctx.stack.is_running(ctx.app), f"pid {old_pid}"
        )
        ctx.hold_until_firing(rec, self.alerts, killed_at)

        with rec.step(f"Restart {ctx.app} through the stack"):
            started = time.monotonic()
            ctx.stack.start(ctx.app)
            restart = time.monotonic() - started
        rec.timing("restart_s", restart)
        new_pid = ctx.stack.pid(ctx.app)
        rec.check(
            "a new process serves", new_pid is not None and new_pid != old_pid, f"pid {new_pid}"
        )

        with rec.step("Fetch the move list and compare it with the acknowledged moves"):
            stored = ctx.api.moves(entry.game["id"])
        records = stored["moves"]
        rec.check(
            "every acknowledged move is present",
            len(records) == len(acknowledged)
            and all(
                r["moveNumber"] == a["moveNumber"] and r["move"] == a["move"]
                for r, a in zip(records, acknowledged, strict=False)
            ),
            f"{len(records)} stored, {len(acknowledged)} acknowledged",
        )
        state = GameState.from_json(stored["initialState"])
        for record in records:
            state = apply_move(state, Move.from_json(record["move"]))
        game = ctx.api.game(entry.game["id"])
        current = GameState.from_json(game["state"])
        rec.check(
            "replaying the stored moves reproduces the stored state",
            state.state_hash() == current.state_hash() and game["version"] == version,
            f"version {game['version']}, replayed hash {state.state_hash()[:12]}, "
            f"stored hash {current.state_hash()[:12]}",
        )
        with rec.step("Log in again and submit a new move"):
            for user in entry.players.values():
                ctx.api.login(user)
            entry.game = game
            after = ctx.play(entry)
        rec.check(
            "the game continues",
            after["version"] > version,
            f"version {version} -> {after['version']}",
        )
        rec.finding(f"{ctx.app} restart to healthy took {restart:.2f}s; no acknowledged move lost")
