"""Clock arithmetic: Fischer banks and increments, correspondence deadlines, flags, bookkeeping
moves that cost nothing, AI budgets within the clock, and validation of time controls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringrift.server.clocks import (
    DAY_MS,
    PRESETS,
    UNTIMED,
    Clocks,
    TimeControl,
    TimeControlError,
    TimeControlKind,
    ai_budget_s,
)

BLITZ = PRESETS["3+2"]
T0 = 1_700_000_000_000


def test_presets_cover_the_lobby() -> None:
    assert list(PRESETS) == ["1+0", "3+2", "5+3", "10+5", "15+10", "1 day", "3 days"]
    assert PRESETS["5+3"] == TimeControl(TimeControlKind.FISCHER, 300, 3)
    assert PRESETS["3 days"].bank_ms == 3 * DAY_MS


def test_fischer_charges_the_mover_and_adds_the_increment() -> None:
    clocks = Clocks.start(BLITZ, 2, first=1, now_ms=T0)
    assert clocks.remaining(1, T0 + 10_000) == 170_000
    assert clocks.remaining(2, T0 + 10_000) == 180_000  # only the seat to move runs
    after = clocks.pass_turn(BLITZ, mover=1, to_move=2, now_ms=T0 + 10_000)
    assert after.banks_ms == (172_000, 180_000) and after.running == 2
    assert after.remaining(2, T0 + 15_000) == 175_000
    assert after.deadline_ms() == T0 + 10_000 + 180_000


def test_flag_falls_at_zero_and_a_late_move_is_refused() -> None:
    clocks = Clocks.start(PRESETS["1+0"], 3, first=2, now_ms=T0)
    assert clocks.flagged(T0 + 59_999) is None
    assert clocks.flagged(T0 + 60_000) == 2
    assert clocks.remaining(2, T0 + 90_000) == 0
    with pytest.raises(TimeControlError, match="time is up"):
        clocks.pass_turn(PRESETS["1+0"], mover=2, to_move=3, now_ms=T0 + 60_001)


def test_bookkeeping_moves_cost_nothing() -> None:
    clocks = Clocks.start(BLITZ, 2, first=1, now_ms=T0)
    # The human moved at +4 s, then the server played a bookkeeping move for the same seat.
    moved = clocks.pass_turn(BLITZ, mover=1, to_move=1, now_ms=T0 + 4_000)
    auto = moved.pass_turn(BLITZ, mover=1, to_move=2, now_ms=T0 + 4_000, charge=False)
    assert auto.banks_ms == (178_000, 180_000) and auto.running == 2


def test_correspondence_refills_each_move() -> None:
    tc = PRESETS["1 day"]
    clocks = Clocks.start(tc, 2, first=1, now_ms=T0)
    after = clocks.pass_turn(tc, mover=1, to_move=2, now_ms=T0 + DAY_MS - 1)
    assert after.banks_ms == (DAY_MS, DAY_MS)
    assert after.flagged(T0 + 2 * DAY_MS - 1) == 2


def test_untimed_clocks_never_run() -> None:
    clocks = Clocks.start(UNTIMED, 2, first=1, now_ms=T0)
    assert clocks.running is None and clocks.flagged(T0 + 10**12) is None
    assert clocks.pass_turn(UNTIMED, 1, 2, T0 + 5) is clocks


def test_stop_and_hand_over_without_charging() -> None:
    clocks = Clocks.start(BLITZ, 3, first=1, now_ms=T0)
    stopped = clocks.stop(T0 + 30_000)
    assert stopped.running is None and stopped.banks_ms == (150_000, 180_000, 180_000)
    handed = clocks.with_running(3, T0 + 30_000)
    assert handed.running == 3 and handed.remaining(3, T0 + 31_000) == 179_000
    assert handed.remaining(1, T0 + 99_000) == 150_000


def test_wire_and_store_round_trip() -> None:
    clocks = Clocks.start(BLITZ, 2, first=1, now_ms=T0).pass_turn(BLITZ, 1, 2, T0 + 1_000)
    assert Clocks.from_store(clocks.to_store()) == clocks
    assert clocks.to_json(T0 + 2_000) == {
        "remainingMs": [181_000, 179_000],
        "running": 2,
        "serverTime": T0 + 2_000,
    }
    for tc in [*PRESETS.values(), UNTIMED]:
        assert TimeControl.from_json(tc.to_json()) == tc


def test_ai_budget_is_a_share_of_its_clock() -> None:
    clocks = Clocks.start(PRESETS["1+0"], 2, first=2, now_ms=T0)
    assert ai_budget_s(8.0, clocks, 2, T0) == pytest.approx(3.0)  # 60 s / 20
    assert ai_budget_s(1.0, clocks, 2, T0) == 1.0  # the level's budget when smaller
    assert ai_budget_s(8.0, clocks, 2, T0 + 59_990) == 0.05  # it always answers
    assert ai_budget_s(8.0, None, 2, T0) == 8.0


def test_round_one_shape_and_presets_are_read() -> None:
    assert TimeControl.from_json({"initialSeconds": 300, "incrementSeconds": 3}) == PRESETS["5+3"]
    assert TimeControl.from_json("10+5") == PRESETS["10+5"]
    assert TimeControl.from_json(None) == UNTIMED


@pytest.mark.parametrize(
    "bad",
    [
        "2+1",
        7,
        [],
        {"kind": "blitz"},
        {"kind": "fischer", "initialSeconds": 0},
        {"kind": "fischer", "initialSeconds": 60, "incrementSeconds": -1},
        {"kind": "fischer", "initialSeconds": 60, "incrementSeconds": 181},
        {"kind": "fischer", "initialSeconds": 10**6},
        {"kind": "fischer", "initialSeconds": "60"},
        {"kind": "fischer", "initialSeconds": True},
        {"kind": "fischer", "initialSeconds": 60, "daysPerMove": 1},
        {"kind": "correspondence", "daysPerMove": 0},
        {"kind": "correspondence", "daysPerMove": 15},
        {"kind": "correspondence", "daysPerMove": 1, "initialSeconds": 60},
        {"kind": "untimed", "initialSeconds": 60},
    ],
)
def test_bad_time_controls_say_why(bad: object) -> None:
    with pytest.raises(TimeControlError):
        TimeControl.from_json(bad)


@given(steps=st.lists(st.tuples(st.integers(0, 20_000), st.booleans()), min_size=1, max_size=40))
def test_banks_never_grow_beyond_increments(steps: list[tuple[int, bool]]) -> None:
    """Whatever the timing, a seat's bank is its start plus one increment per finished turn
    minus the time it spent, and nobody's clock runs while another seat is to move."""
    tc = PRESETS["5+3"]
    clocks = Clocks.start(tc, 2, first=1, now_ms=T0)
    now = T0
    spent = [0, 0]
    earned = [0, 0]
    for wait, charged in steps:
        seat = clocks.running
        assert seat is not None
        if clocks.remaining(seat, now + wait) <= 0:
            break
        now += wait
        # The wait before an uncharged move still counts, and every turn that ends earns the
        # increment (once per turn, whoever played the move that ended it).
        spent[seat - 1] += wait
        earned[seat - 1] += 3_000
        clocks = clocks.pass_turn(tc, seat, 3 - seat, now, charge=charged)
        for s in (1, 2):
            assert clocks.banks_ms[s - 1] == 300_000 + earned[s - 1] - spent[s - 1]


def test_the_increment_comes_once_per_turn() -> None:
    """A turn is several moves (placement, movement, decisions): the increment is added when
    the turn passes to another seat, not for every move inside it."""
    clocks = Clocks.start(BLITZ, 2, first=1, now_ms=T0)
    placed = clocks.pass_turn(BLITZ, mover=1, to_move=1, now_ms=T0 + 1_000)
    assert placed.banks_ms == (179_000, 180_000) and placed.running == 1
    moved = placed.pass_turn(BLITZ, mover=1, to_move=2, now_ms=T0 + 3_000)
    assert moved.banks_ms == (179_000, 180_000) and moved.running == 2
    ended = moved.pass_turn(BLITZ, mover=2, to_move=None, now_ms=T0 + 4_000)
    assert ended.banks_ms == (179_000, 179_000) and ended.running is None
