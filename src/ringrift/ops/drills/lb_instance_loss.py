"""Drill ``lb-instance-loss``: clients play through the load balancer's one URL while an app
behind it is killed; the balancer takes the app out, dropped sockets reconnect to a survivor,
resync by version and play on, and no move fails except the ones the dead app held.

A move counts as *in flight* when it was sent to the killed app and unanswered when that app's
socket closed (the client cannot know whether it was committed; the resync tells it). Every
other move that was not acknowledged (an error after the reconnect, a socket lost before the
kill, no answer) is a *failed* move, and one is enough to fail the drill.

The drill needs a stack started with ``--lb`` (or ``--ha``) and at least two apps; elsewhere it
is skipped, not failed, so ``drill run all`` on a plain stack still passes.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from ringrift.ops.drills.alertgate import Alert
from ringrift.ops.drills.base import (
    Api,
    Drill,
    DrillContext,
    DrillSkipped,
    Recorder,
    User,
    register,
)
from ringrift.ops.drills.wsplay import (
    STALL_SECONDS,
    LiveGame,
    MoveOutcome,
    MoveRecord,
    Reconnect,
)
from ringrift.ops.stack import Stack, StackError

GAMES = 4
MOVES_BEFORE_KILL = 3  # acknowledged moves per game before the kill
MOVES_AFTER_KILL = 6  # acknowledged moves per game, sent after the kill, for a PASS
PLAY_TIMEOUT_SECONDS = 90.0
# fall 2 x inter 1 s, plus one interval of phase: the balancer should need about 2-3 s.
MARK_DOWN_BOUND_SECONDS = 5.0
READD_BOUND_SECONDS = 10.0


@dataclass
class Tally:
    """The moves of every game, sorted by what happened to them around the kill."""

    acknowledged: int
    in_flight: list[MoveRecord]
    failed: list[MoveRecord]

    @classmethod
    def of(cls, games: list[LiveGame], killed_at: float) -> Tally:
        moves = [m for g in games for m in g.moves]
        acknowledged = sum(m.outcome is MoveOutcome.ACKED for m in moves)
        in_flight = [
            m
            for m in moves
            if m.outcome is MoveOutcome.INTERRUPTED
            and m.answered_at is not None
            and m.answered_at >= killed_at
        ]
        failed = [m for m in moves if m.outcome is not MoveOutcome.ACKED and m not in in_flight]
        return cls(acknowledged, in_flight, failed)


def _stack_with_balancer(ctx: DrillContext) -> Stack:
    stack = ctx.stack
    if not isinstance(stack, Stack):
        raise DrillSkipped(
            "the target is a deployment file; the drill reads the balancer's state from the "
            "admin socket of a local stack started with --lb (or --ha)"
        )
    if not stack.has_balancer:
        raise DrillSkipped(
            "the target has no load balancer; start the stack with --lb (or --ha) to run it"
        )
    if len(stack.app_names) < 2:
        raise DrillSkipped("only one app behind the balancer; start the stack with --apps 2")
    return stack


@register
class LbInstanceLoss(Drill):
    name = "lb-instance-loss"
    title = "Load balancer: app instance loss"
    objective = (
        "Clients play through the balancer's one URL; kill -9 an app behind it: the balancer "
        "marks it down, the dropped sockets reconnect to a survivor and resync by version, "
        "and no move fails beyond those in flight at the kill; the restarted app is put back."
    )
    alerts = (Alert.APP_INSTANCE_DOWN,)

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        stack = _stack_with_balancer(ctx)
        entry = stack.entry_url
        api = Api(entry)
        try:
            with rec.step(f"Sign up {2 * GAMES} players and open {GAMES} games through {entry}"):
                rng = ctx.rng
                games = [self._open_game(api, rng) for _ in range(GAMES)]
        finally:
            api.close()
        outcome = asyncio.run(self._play_through_kill(ctx, rec, stack, games))
        victim, killed_at, live, down_after = outcome
        tally = Tally.of(live, killed_at)
        drops = [r for g in live for r in g.reconnects]
        self._report(rec, stack, victim, live, tally, drops, killed_at, down_after)
        ctx.hold_until_firing(rec, self.alerts, killed_at)
        with rec.step(f"Restart {victim} and wait for the balancer to put it back"):
            stack.start(victim)
            try:
                readd = stack.wait_balanced([victim], up=True, timeout=READD_BOUND_SECONDS)
            except StackError as error:
                rec.check(f"the balancer puts {victim} back", False, str(error))
                return
        rec.timing("lb_readd_s", readd)
        rec.check(
            f"the balancer puts {victim} back within {READD_BOUND_SECONDS:.0f} s of it answering",
            readd <= READD_BOUND_SECONDS,
            f"{readd:.2f} s",
        )

    @staticmethod
    def _open_game(api: Api, rng: random.Random) -> tuple[str, dict[int, User]]:
        first, second = api.register(), api.register()
        game = api.create_game(first, seed=rng.randint(0, 10_000))
        game = api.join(second, game["id"])
        by_id = {first.id: first, second.id: second}
        return game["id"], {s["seat"]: by_id[s["userId"]] for s in game["seats"]}

    async def _play_through_kill(
        self,
        ctx: DrillContext,
        rec: Recorder,
        stack: Stack,
        games: list[tuple[str, dict[int, User]]],
    ) -> tuple[str, float, list[LiveGame], float | None]:
        """Play, kill the app serving most sockets, play on; (victim, kill time, games,
        seconds until the balancer marked the victim down)."""
        ws_url = stack.entry_url.replace("http://", "ws://", 1) + "/ws"
        live = [
            LiveGame(game_id, ws_url, random.Random(f"{ctx.seed}-{game_id}"))
            for game_id, _ in games
        ]
        killed_at = float("inf")
        down_after: float | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            with rec.step("Connect both players of every game through the balancer"):
                for game, (_, players) in zip(live, games, strict=True):
                    await game.connect({seat: user.access_token for seat, user in players.items()})
            served = [seat.served_by for g in live for seat in g.seats.values()]
            rec.note(
                "sockets per app before the kill: "
                + ", ".join(f"{n}={served.count(n)}" for n in sorted(set(served)))
            )
            victim = max(stack.app_names, key=served.count)

            def target(game: LiveGame) -> bool:
                return game.acknowledged(since=killed_at) >= MOVES_AFTER_KILL

            tasks = [asyncio.create_task(g.play(target)) for g in live]
            with rec.step(f"Play until every game has {MOVES_BEFORE_KILL} acknowledged moves"):
                await _until(lambda: all(g.acknowledged() >= MOVES_BEFORE_KILL for g in live))
            with rec.step(f"kill -9 {victim} during play"):
                killed_at = time.monotonic()
                await asyncio.to_thread(stack.kill, victim)
            with rec.step("Wait for the balancer to mark it down"):
                try:
                    await asyncio.to_thread(
                        stack.wait_balanced, [victim], up=False, timeout=MARK_DOWN_BOUND_SECONDS
                    )
                    down_after = time.monotonic() - killed_at
                except StackError as error:
                    rec.note(str(error))
            with rec.step(f"Play until every game has {MOVES_AFTER_KILL} moves after the kill"):
                await _until(
                    lambda: all(task.done() for task in tasks),
                    timeout=PLAY_TIMEOUT_SECONDS,
                )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for game in live:
                await game.close()
        return victim, killed_at, live, down_after

    def _report(
        self,
        rec: Recorder,
        stack: Stack,
        victim: str,
        live: list[LiveGame],
        tally: Tally,
        drops: list[Reconnect],
        killed_at: float,
        down_after: float | None,
    ) -> None:
        if down_after is not None:
            rec.timing("lb_mark_down_s", down_after)
        rec.check(
            f"the balancer marks {victim} down within {MARK_DOWN_BOUND_SECONDS:.0f} s",
            down_after is not None and down_after <= MARK_DOWN_BOUND_SECONDS,
            "never" if down_after is None else f"{down_after:.2f} s after the kill",
        )
        rec.check(
            f"the kill cut live sockets (on {victim})",
            bool(drops) and all(d.served_by_before == victim for d in drops),
            f"{len(drops)} socket(s) dropped, served before by "
            f"{sorted({d.served_by_before for d in drops})}; close codes "
            f"{sorted({f'{d.close_code} {d.close_reason}'.strip() for d in drops})}",
        )
        seconds = sorted(d.seconds for d in drops if d.seconds is not None)
        if seconds:
            rec.timing("reconnect_p50_s", statistics.median(seconds))
            rec.timing("reconnect_max_s", seconds[-1])
        landed = {d.served_by_after for d in drops}
        rec.check(
            "every dropped socket reconnected through the balancer to a survivor",
            len(seconds) == len(drops) and victim not in landed,
            f"{len(seconds)}/{len(drops)} reconnected, now on {sorted(landed)}",
        )
        rec.note(f"moves acknowledged: {tally.acknowledged}")
        rec.note(f"moves in flight at the kill: {len(tally.in_flight)}")
        rec.note(f"moves failed: {len(tally.failed)}")
        stalls = sum(g.stall_resyncs for g in live)
        if stalls:
            rec.note(f"joins by version after {STALL_SECONDS:.0f} s without a prompt: {stalls}")
        rec.check(
            "no failed move beyond the ones in flight at the kill",
            not tally.failed,
            f"{len(tally.in_flight)} in flight, {len(tally.failed)} failed"
            + "".join(f"; v{m.version} {m.outcome.value} {m.detail}" for m in tally.failed[:5]),
        )
        after = [g.acknowledged(since=killed_at) for g in live]
        rec.check(
            f"every game played {MOVES_AFTER_KILL} more moves after the kill",
            all(n >= MOVES_AFTER_KILL or not g.active for n, g in zip(after, live, strict=True)),
            f"moves after the kill per game: {after}",
        )
        api = Api(stack.entry_url)
        try:
            versions = [(g.version, api.game(g.game_id)["version"]) for g in live]
        finally:
            api.close()
        rec.check(
            "every client ends at the game's version in the database (resync by version)",
            all(ours == theirs for ours, theirs in versions),
            f"client/database versions: {versions}",
        )
        rec.finding(
            f"{victim} killed: {len(drops)} socket(s) moved to the survivor, "
            f"{len(tally.in_flight)} move(s) in flight, {len(tally.failed)} failed"
        )


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``predicate`` every 50 ms; raise TimeoutError when it does not hold in time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not reached in {timeout:.0f} s")
        await asyncio.sleep(0.05)
