"""``lb-instance-loss`` is skipped, not failed, on a target without a balancer and two apps,
and sorts moves into acknowledged, in flight at the kill and failed. The stacks here are
descriptions only (nothing runs): the drill must decide before it touches anything."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ringrift.ops.drills import load_builtin
from ringrift.ops.drills.base import DrillContext, Status
from ringrift.ops.services import free_port
from ringrift.ops.stack import ProcessSpec, Stack


def _described_stack(run_dir: Path, *, apps: int, balancer: bool) -> Stack:
    processes = [ProcessSpec("redis", "redis", free_port()), ProcessSpec("ai", "ai", free_port())]
    processes += [ProcessSpec(f"app{i + 1}", "app", free_port()) for i in range(apps)]
    if balancer:
        processes.append(ProcessSpec("lb", "lb", free_port()))
    return Stack(run_dir, pg_port=free_port(), processes=processes)


@pytest.mark.parametrize(
    ("apps", "balancer", "reason"),
    [(2, False, "--lb"), (1, True, "--apps 2")],
)
def test_lb_instance_loss_skips_without_a_balancer_and_two_apps(
    tmp_path: Path, apps: int, balancer: bool, reason: str
) -> None:
    stack = _described_stack(tmp_path, apps=apps, balancer=balancer)
    drill = load_builtin()["lb-instance-loss"]()
    result = drill.execute(DrillContext(stack, tmp_path), lambda _m: None)
    assert result.status is Status.SKIP
    assert result.skipped is not None and reason in result.skipped
    assert not result.passed and not result.checks and result.error is None
    # Nothing was started on the skipped stack's behalf.
    assert not any(stack.is_running(name) for name in stack.processes)


def test_moves_are_sorted_into_acknowledged_in_flight_and_failed() -> None:
    from ringrift.ops.drills.lb_instance_loss import Tally
    from ringrift.ops.drills.wsplay import LiveGame, MoveOutcome, MoveRecord

    killed_at = 100.0

    def move(version: int, outcome: MoveOutcome, answered_at: float | None) -> MoveRecord:
        return MoveRecord(
            "g", 1, version, sent_at=version, outcome=outcome, answered_at=answered_at
        )

    game = LiveGame("g", "ws://unused", random.Random(1))
    game.moves = [
        move(1, MoveOutcome.ACKED, 1.5),
        move(2, MoveOutcome.INTERRUPTED, 50.0),  # socket lost before the kill: failed
        move(3, MoveOutcome.INTERRUPTED, 100.2),  # cut by the kill: in flight
        move(4, MoveOutcome.REJECTED, 101.0),  # refused after the reconnect: failed
        move(5, MoveOutcome.PENDING, None),  # never answered: failed
        move(6, MoveOutcome.ACKED, 102.0),
    ]
    tally = Tally.of([game], killed_at)
    assert tally.acknowledged == 2
    assert [m.version for m in tally.in_flight] == [3]
    assert [m.version for m in tally.failed] == [2, 4, 5]
