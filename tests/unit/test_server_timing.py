"""The server side of the clocks without a database: which time control a new game gets (and
what is refused, with which code), and how a committed chain charges the clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringrift.rules import apply_move, legal_moves, new_game, withdraw
from ringrift.server.clocks import PRESETS, UNTIMED, Clocks, TimeControl, TimeControlKind
from ringrift.server.db.models import Game
from ringrift.server.domain import GameStatus, MoveSource
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.positions import Position
from ringrift.server.services import timing

T0 = 1_800_000_000_000


@dataclass(frozen=True)
class Step:
    seat: int
    source: MoveSource
    after: Position


def _game(tc: TimeControl, players: int = 2) -> tuple[Game, Position]:
    state = new_game("square8", players)
    position = Position.of(state, "g")
    game = Game(
        id="g",
        max_players=players,
        status=GameStatus.ACTIVE.value,
        version=0,
        time_control=tc.to_json(),
        current_player=state.current_player,
    )
    values = timing.start_values(game, timing_datetime(T0))
    game.clocks, game.clock_deadline_ms = values["clocks"], values["clock_deadline_ms"]
    return game, position


def timing_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _first(position: Position) -> Position:
    return Position.of(apply_move(position.state, legal_moves(position.state)[0]), "g")


def test_defaults_and_refusals() -> None:
    assert timing.resolve(None, human_opponents=True, default="10+5") == PRESETS["10+5"]
    assert timing.resolve(None, human_opponents=False, default="10+5") is UNTIMED
    assert timing.resolve("untimed", human_opponents=False, default="10+5") is UNTIMED
    assert timing.resolve({"initialSeconds": 90}, human_opponents=True, default="10+5") == (
        TimeControl(TimeControlKind.FISCHER, 90, 0)
    )
    for untimed in ("untimed", {"kind": "untimed"}):
        with pytest.raises(ApiError) as refused:
            timing.resolve(untimed, human_opponents=True, default="10+5")
        assert refused.value.code is ErrorCode.GAME_UNTIMED_NOT_ALLOWED
        assert refused.value.status == 422


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=6,
)
time_control_like = st.dictionaries(
    st.sampled_from(["kind", "initialSeconds", "incrementSeconds", "daysPerMove", "x"]),
    st.sampled_from(["fischer", "correspondence", "untimed", "blitz"])
    | st.integers(-5, 20_000)
    | json_values,
    max_size=4,
)


@given(requested=time_control_like | json_values | st.sampled_from(list(PRESETS)))
def test_any_request_is_a_time_control_or_a_422_with_a_code(requested: Any) -> None:
    try:
        tc = timing.resolve(requested, human_opponents=False, default="10+5")
    except ApiError as error:
        assert error.status == 422
        assert error.code is ErrorCode.GAME_TIME_CONTROL_INVALID
        assert error.details[0]["field"] == "timeControl"
    else:
        assert TimeControl.from_json(tc.to_json()) == tc  # what is stored reads back the same


def test_a_chain_charges_the_mover_and_not_the_bookkeeping() -> None:
    tc = PRESETS["3+2"]
    game, start = _game(tc)
    moved = _first(start)
    seat = start.state.current_player
    chain = [Step(seat, MoveSource.HUMAN, moved), Step(seat, MoveSource.AUTO, moved)]
    assert moved.state.current_player == seat  # placing a ring does not end the turn
    after = timing.advance(game, chain, T0 + 4_000)
    assert after is not None and len(after) == 2
    assert after[0].banks_ms == (176_000, 180_000) and after[0].running == seat
    assert after[1] == after[0]  # the bookkeeping move carries the same timestamp: free
    values = timing.store_values(after[-1])
    assert values["clock_deadline_ms"] == T0 + 4_000 + 176_000
    assert Clocks.from_store(values["clocks"]) == after[-1]


def test_a_late_move_is_time_up_and_a_withdrawal_hands_the_clock_on() -> None:
    tc = PRESETS["1+0"]
    game, start = _game(tc, players=3)
    seat = start.state.current_player
    with pytest.raises(timing.TimeUp) as late:
        timing.advance(game, [Step(seat, MoveSource.HUMAN, _first(start))], T0 + 60_000)
    assert late.value.seat == seat and late.value.code is ErrorCode.GAME_TIME_OUT
    gone = Position.of(withdraw(start.state, seat, "timeout"), "g")
    after = timing.advance(game, [Step(seat, MoveSource.WITHDRAWAL, gone)], T0 + 61_000)
    assert after is not None
    clocks = after[0]
    assert clocks.banks_ms[seat - 1] == 0
    assert clocks.running == gone.state.current_player != seat
    assert clocks.remaining(clocks.running, T0 + 61_000) == 60_000


def test_untimed_games_have_no_clocks_and_stopped_clocks_show_frozen() -> None:
    game, start = _game(UNTIMED)
    assert game.clocks is None
    assert timing.advance(game, [Step(1, MoveSource.HUMAN, _first(start))], T0) is None
    assert timing.clocks_json(game, T0) is None
    timed, _ = _game(PRESETS["1+0"])
    timed.status = GameStatus.COMPLETED.value
    timed.ended_at = timing_datetime(T0 + 5_000)
    shown = timing.clocks_json(timed, T0 + 50_000)
    assert shown == {"remainingMs": [55_000, 60_000], "running": None, "serverTime": T0 + 50_000}
    assert Clocks.from_store(timed.clocks or {}).running == 1


def test_clocks_ride_on_bus_payloads_and_frames() -> None:
    from ringrift.server.events import MoveEvent, event_from_json
    from ringrift.server.frames import EventFrame, StateFrame

    shown = {"remainingMs": [1_000, 2_000], "running": 2, "serverTime": T0}
    event = MoveEvent(
        game_id="g",
        v=3,
        move={"type": "withdraw", "player": 1, "reason": "timeout"},
        by=1,
        auto=False,
        hash="h",
        status="active",
        winner=None,
        end_reason=None,
        patch={},
        to_move=2,
        legal_moves=None,
        server_time=T0,
        clocks=shown,
    )
    assert event_from_json(event.to_json()) == event
    assert event_from_json({**event.to_json(), "clocks": "nonsense"}) == MoveEvent(
        **{**event.__dict__, "clocks": None}
    )
    base = {
        "game_id": "g",
        "v": 3,
        "status": "active",
        "winner": None,
        "end_reason": None,
        "server_time": T0,
    }
    frame = EventFrame(
        **base, move={}, by=1, auto=False, hash="h", patch={}, legal_moves=None, clocks=shown
    )
    assert frame.data()["clocks"] == shown
    untimed = StateFrame(**base, state={}, your_seat=1, legal_moves=None)
    assert "clocks" not in untimed.data()
