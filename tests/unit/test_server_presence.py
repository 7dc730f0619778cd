"""Pure parts of presence and aborts: which games are tracked, when an absence starts and
becomes claimable, the presence event on the bus and the frame on the socket, and which seats
have yet to move."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ringrift.server.db.models import Game, GameSeat
from ringrift.server.events import PresenceEvent, event_from_json
from ringrift.server.frames import PresenceFrame, encode
from ringrift.server.presence import absent_from, ms, presence_json, seat_presence, tracked
from ringrift.server.services.aborts import abort_allowed, seats_yet_to_move

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _game(tc: Any, status: str = "active", moved: list[int] | None = None) -> Game:
    return Game(
        id="g",
        board_type="square8",
        max_players=2,
        status=status,
        time_control=tc,
        state={"playersMoved": moved or []},
        version=0,
        started_at=START,
    )


def test_only_fischer_games_are_tracked() -> None:
    assert tracked({"initialSeconds": 300, "incrementSeconds": 2})
    assert tracked({"kind": "fischer", "initialSeconds": 60, "incrementSeconds": 0})
    assert tracked("3+2")
    assert not tracked({"kind": "correspondence", "daysPerMove": 1})
    assert not tracked("1 day")
    assert not tracked(None)
    assert not tracked({"kind": "untimed"})
    assert not tracked({"kind": "fischer", "initialSeconds": "x"})  # malformed: not tracked
    assert not tracked(42)


def test_absence_counts_from_the_start_at_the_earliest() -> None:
    before = START - timedelta(minutes=5)
    after = START + timedelta(seconds=30)
    assert absent_from(before, START) == ms(START)
    assert absent_from(after, START) == ms(after)
    assert absent_from(None, START) is None
    assert absent_from(after, None) == ms(after)


def test_seat_presence_and_game_json() -> None:
    game = _game({"initialSeconds": 300, "incrementSeconds": 0})
    away = GameSeat(seat=2, is_ai=False, away_since=START + timedelta(seconds=10))
    here = GameSeat(seat=1, is_ai=False, away_since=None)
    ai = GameSeat(seat=3, is_ai=True, away_since=None)
    gone = seat_presence(game, away, 60)
    assert gone is not None and not gone.online
    assert gone.claimable_at == ms(START + timedelta(seconds=70))
    online = seat_presence(game, here, 60)
    assert online is not None and online.online and online.claimable_at is None
    assert seat_presence(game, ai, 60) is None
    assert presence_json(game, [away, ai, here]) == [
        {"seat": 1, "online": True, "since": None},
        {"seat": 2, "online": False, "since": ms(away.away_since)},
    ]
    assert presence_json(_game(None), [here]) is None
    ended = _game({"initialSeconds": 300}, status="completed")
    over = seat_presence(ended, away, 60)
    assert over is not None and over.claimable_at is None


@given(
    seat=st.integers(1, 4),
    online=st.booleans(),
    since=st.integers(0, 2**42),
    claimable=st.none() | st.integers(0, 2**42),
)
def test_presence_event_round_trips(
    seat: int, online: bool, since: int, claimable: int | None
) -> None:
    event = PresenceEvent("g", seat, online, since, claimable)
    assert event_from_json(json.loads(json.dumps(event.to_json()))) == event


@given(
    junk=st.dictionaries(
        st.sampled_from(["gameId", "seat", "online", "since", "claimableAt"]),
        st.one_of(st.none(), st.text(max_size=3), st.floats(), st.booleans(), st.lists(st.none())),
    )
)
def test_malformed_presence_payloads_are_dropped(junk: dict[str, Any]) -> None:
    payload = {"kind": "presence", **junk}
    result = event_from_json(payload)
    if result is not None:  # only a payload with every field of the right type is read
        assert isinstance(result, PresenceEvent)
        assert isinstance(result.seat, int) and isinstance(result.online, bool)


def test_presence_frame_encoding() -> None:
    frame = json.loads(encode(PresenceFrame("g", 2, False, 1000, 61000, 1500)))
    assert frame == {
        "t": "presence",
        "d": {
            "gameId": "g",
            "seat": 2,
            "online": False,
            "since": 1000,
            "claimableAt": 61000,
            "serverTime": 1500,
        },
    }


def test_abort_is_allowed_until_every_seat_moved() -> None:
    tc = {"initialSeconds": 300}
    assert seats_yet_to_move(_game(tc)) == [1, 2]
    assert seats_yet_to_move(_game(tc, moved=[1])) == [2]
    assert abort_allowed(_game(tc, moved=[1]))
    assert not abort_allowed(_game(tc, moved=[1, 2]))
    assert not abort_allowed(_game(tc, status="waiting"))
    assert not abort_allowed(_game(tc, status="cancelled"))
