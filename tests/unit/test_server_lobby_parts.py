"""Pure parts of the live lobby: the bus message, per-socket merging of changes, the frames."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ringrift.server.frames import LobbyDeltaFrame, LobbyFrame, encode
from ringrift.server.lobby import Watcher
from ringrift.server.services.lobbyfeed import (
    LobbyChange,
    LobbyEvent,
    lobby_event_from_json,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def test_lobby_events_round_trip() -> None:
    for change in LobbyChange:
        event = LobbyEvent("g1", change)
        assert lobby_event_from_json(event.to_json()) == event


@given(
    st.dictionaries(
        st.sampled_from(["kind", "gameId", "change", "v"]) | st.text(max_size=6), JSON, max_size=5
    )
)
def test_any_bus_payload_is_read_or_refused_never_raises(payload: dict[str, Any]) -> None:
    event = lobby_event_from_json(payload)
    if event is not None:
        assert payload["kind"] == "lobby" and payload["gameId"] == event.game_id
        assert payload["change"] == event.change.value


def _change(game_id: str, change: str, section: str | None, moves: int = 0) -> dict[str, Any]:
    game = {"id": game_id, "moveCount": moves} if section else None
    return {"gameId": game_id, "change": change, "section": section, "game": game}


def test_a_watcher_merges_changes_per_game() -> None:
    watcher = Watcher(conn=None)  # type: ignore[arg-type]
    watcher.snapshot_due = False
    watcher.add(_change("a", "created", "open"), 10)
    watcher.add(_change("a", "started", "live"), 10)
    assert list(watcher.pending) == ["a"] and watcher.pending["a"]["change"] == "started"
    # A move count is folded into the pending entry instead of replacing it.
    watcher.add({"gameId": "a", "change": "moved", "moveCount": 7}, 10)
    assert watcher.pending["a"]["change"] == "started"
    assert watcher.pending["a"]["game"]["moveCount"] == 7
    # A game that left the lists stays gone.
    watcher.add(_change("b", "cancelled", None), 10)
    watcher.add({"gameId": "b", "change": "moved", "moveCount": 3}, 10)
    assert watcher.pending["b"]["change"] == "cancelled"
    # Only moves: the newest count wins.
    watcher.add({"gameId": "c", "change": "moved", "moveCount": 3}, 10)
    watcher.add({"gameId": "c", "change": "moved", "moveCount": 4}, 10)
    assert watcher.pending["c"]["moveCount"] == 4


def test_a_watcher_too_far_behind_gets_a_snapshot_instead() -> None:
    watcher = Watcher(conn=None)  # type: ignore[arg-type]
    watcher.snapshot_due = False
    for n in range(5):
        watcher.add(_change(f"g{n}", "created", "open"), 4)
    assert watcher.snapshot_due and watcher.pending == {}


def test_lobby_frames_encode_as_documented() -> None:
    snapshot = json.loads(encode(LobbyFrame(0, [{"id": "a"}], 3, [], 0, 123)))
    assert snapshot == {
        "t": "lobby",
        "d": {
            "seq": 0,
            "open": [{"id": "a"}],
            "openTotal": 3,
            "live": [],
            "liveTotal": 0,
            "serverTime": 123,
        },
    }
    delta = json.loads(encode(LobbyDeltaFrame(1, [_change("a", "created", "open")], 5)))
    assert delta["t"] == "lobbyDelta" and delta["d"]["seq"] == 1
    assert delta["d"]["changes"][0]["section"] == "open"
