"""The pure parts of rematches: the bus payload and the socket frame of an offer, and the seat
rotation of the new game."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ringrift.server.db.models import Game, GameSeat
from ringrift.server.events import RematchEvent, event_from_json
from ringrift.server.frames import RematchFrame, encode
from ringrift.server.services.rematch import rematch_seats
from ringrift.server.services.store import Loaded

ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36)


@given(
    game_id=ids,
    v=st.integers(min_value=0, max_value=10_000),
    status=st.sampled_from(["open", "declined", "created"]),
    offered_by=st.one_of(st.none(), ids),
    accepted=st.lists(ids, max_size=4).map(tuple),
    declined_by=st.one_of(st.none(), ids),
    new_game_id=st.one_of(st.none(), ids),
)
def test_rematch_events_survive_the_bus(
    game_id: str,
    v: int,
    status: str,
    offered_by: str | None,
    accepted: tuple[str, ...],
    declined_by: str | None,
    new_game_id: str | None,
) -> None:
    event = RematchEvent(game_id, v, status, offered_by, accepted, declined_by, new_game_id)
    payload = json.loads(json.dumps(event.to_json()))
    assert event_from_json(payload) == event


@given(st.one_of(st.integers(), st.text(max_size=5), st.dictionaries(st.text(), st.integers())))
def test_malformed_rematch_payloads_are_dropped(accepted: Any) -> None:
    payload = {"kind": "rematch", "gameId": "g", "v": 1, "status": "open", "accepted": accepted}
    event = event_from_json(payload)
    if isinstance(accepted, list) or not accepted:
        return
    assert event is None
    assert event_from_json({"kind": "rematch", "gameId": "g", "v": 1}) is None


def test_the_rematch_frame() -> None:
    frame = RematchFrame("g", "created", "a", ("a", "b"), None, "n")
    assert json.loads(encode(frame)) == {
        "t": "rematch",
        "d": {
            "gameId": "g",
            "status": "created",
            "offeredBy": "a",
            "accepted": ["a", "b"],
            "declinedBy": None,
            "newGameId": "n",
        },
    }


def test_every_seat_moves_one_on() -> None:
    game = Game(id="g", max_players=3)
    seats = [
        GameSeat(game_id="g", seat=1, user_id="alice", is_ai=False),
        GameSeat(game_id="g", seat=2, user_id=None, is_ai=True, ai_level=4),
        GameSeat(game_id="g", seat=3, user_id="bob", is_ai=False),
    ]
    rotated = rematch_seats(Loaded(game, seats, {}))
    assert [(s.seat, s.user_id, s.ai_level) for s in rotated] == [
        (1, "bob", None),
        (2, "alice", None),
        (3, None, 4),
    ]
