"""The pure parts of the move path: merge patches of real positions, bus events, frames, and
the bookkeeping the server plays for human seats."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ringrift.rules import apply_move, legal_moves, new_game
from ringrift.rules.moves import BOOKKEEPING_TYPES
from ringrift.server import codec, mergepatch
from ringrift.server.events import MoveEvent, StatusEvent, event_from_json
from ringrift.server.frames import AckFrame, EventFrame, StateFrame, encode
from ringrift.server.positions import LRU, Position, PositionCache
from ringrift.server.services.moves import forced_bookkeeping


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def test_rfc7386_examples() -> None:
    assert mergepatch.apply({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert mergepatch.apply({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert mergepatch.apply({"a": "b"}, {"a": None}) == {}
    assert mergepatch.apply({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert mergepatch.apply({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert mergepatch.diff({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 2}}) == {}
    assert mergepatch.diff({"a": 1}, {"a": True}) == {"a": True}


@pytest.mark.parametrize(
    ("board", "players"), [("square19", 2), ("square8", 3), ("hexagonal", 4), ("hex8", 2)]
)
def test_patches_rebuild_every_position_of_a_game_and_are_small(board: str, players: int) -> None:
    """Compared as sorted JSON text, not with ``==``: ``diff`` skips subtrees that Python
    finds equal, and Python finds 1 equal to true; the text tells them apart."""
    rng = random.Random(3)
    state = new_game(board, players)
    doc = Position.of(state, "g").doc
    client = doc
    patch_bytes, full_bytes = [], []
    for _ in range(300):
        if state.game_status != "active":
            break
        state = apply_move(state, rng.choice(legal_moves(state)))
        after = Position.of(state, "g").doc
        patch = mergepatch.diff(doc, after)
        client = mergepatch.apply(client, patch)
        assert json.dumps(_no_nulls(client), sort_keys=True) == json.dumps(
            _no_nulls(after), sort_keys=True
        )
        patch_bytes.append(len(json.dumps(patch, separators=(",", ":"))))
        full_bytes.append(len(json.dumps(after, separators=(",", ":"))))
        doc = after
    # A move touches a few cells: its patch is a small fraction of the compact position.
    assert sum(patch_bytes) * 5 < sum(full_bytes)
    assert max(patch_bytes) < max(full_bytes)


def test_bus_events_round_trip_and_bad_payloads_are_dropped() -> None:
    event = MoveEvent(
        "g", 3, {"type": "place_ring", "player": 1}, 1, False, "h", "active", None, None,
        {"currentPlayer": 2}, 2, [{"type": "skip_placement", "player": 2}], 123, True,
    )  # fmt: skip
    assert event_from_json(json.loads(json.dumps(event.to_json()))) == event
    status = StatusEvent("g", 3, "completed", 2, "resignation")
    assert event_from_json(status.to_json()) == status
    for bad in ({}, {"kind": "move", "gameId": "g"}, {"kind": "x", "gameId": "g", "v": 1}):
        assert event_from_json(bad) is None


def test_frames_leave_out_what_the_receiver_must_not_get() -> None:
    common = dict(game_id="g", v=1, move={}, by=1, auto=False, hash="h", patch={})
    active = EventFrame(
        **common, status="active", winner=None, end_reason=None, legal_moves=None, server_time=5
    )
    data = json.loads(encode(active))
    assert data["t"] == "event" and "legalMoves" not in data["d"] and "winner" not in data["d"]
    over = EventFrame(
        **common, status="completed", winner=2, end_reason="normal", legal_moves=None,
        server_time=5,
    )  # fmt: skip
    assert json.loads(encode(over))["d"]["winner"] == 2
    state = StateFrame("g", 0, "active", {}, None, None, None, None, 1)
    assert set(json.loads(encode(state))["d"]) == {
        "gameId", "v", "status", "state", "yourSeat", "serverTime",
    }  # fmt: skip
    assert json.loads(encode(AckFrame("a"))) == {"t": "ack", "d": {"ack": "a"}}


def test_forced_bookkeeping_plays_only_single_bookkeeping_moves_of_humans() -> None:
    rng = random.Random(9)
    state = new_game("square8", 2)
    played = 0
    for _ in range(400):
        if state.game_status != "active":
            break
        position = Position.of(state, "g")
        chain = forced_bookkeeping(position, frozenset({1, 2}), "g")
        walk = state
        for planned in chain:
            options = legal_moves(walk)
            assert options == [planned.move] and planned.move.type in BOOKKEEPING_TYPES
            assert planned.auto and planned.seat == walk.current_player
            walk = planned.after.state
        played += len(chain)
        # Seats held by an AI are never played for.
        assert forced_bookkeeping(position, frozenset(), "g") == []
        state = walk if chain else apply_move(state, rng.choice(legal_moves(state)))
    assert played > 0


def test_caches_are_bounded() -> None:
    lru: LRU[int, int] = LRU(2)
    for i in range(5):
        lru.put(i, i)
    assert len(lru) == 2 and lru.get(0) is None and lru.get(4) == 4
    cache = PositionCache(1)
    doc = Position.of(new_game("square8", 2), "g").doc
    first = cache.position("g", 0, doc)
    assert cache.position("g", 0, doc) is first
    assert cache.get("g", 1) is None  # tagged by version: another version is a miss
    cache.put("g", 2, first)
    cache.put("g", 1, first)  # an older version never replaces a newer one
    assert cache.get("g", 2) is first and cache.get("g", 1) is None
    cache.position("h", 0, doc)
    assert cache.get("g", 2) is None and len(cache) == 1


def test_the_fast_position_hash_is_the_engines_hash() -> None:
    for board, players, options in (
        ("square8", 2, {"swapRuleEnabled": True}),
        ("square19", 3, None),
        ("hexagonal", 4, {"ringsPerPlayer": 20}),
    ):
        rng = random.Random(players)
        state = new_game(board, players, options)
        for _ in range(120):
            if state.game_status != "active":
                break
            state = apply_move(state, rng.choice(legal_moves(state)))
            position = Position.of(state, "g")
            assert codec.position_hash(position.doc, state) == state.state_hash()
    # Options the engine passes through unchanged (floats, non-ASCII) take the engine's path.
    odd = Position.of(new_game("square8", 2), "g")
    doc = {**odd.doc, "rulesOptions": {"note": "é", "ratio": 1e16}}
    odd.state.rules_options = doc["rulesOptions"]
    assert codec.position_hash(doc, odd.state) == odd.state.state_hash()


def test_codec_round_trips_and_refuses_bad_json() -> None:
    value = {"a": [1, None, True, "é"], "b": {"c": -(2**53)}}
    assert codec.loads(codec.dumps(value)) == value
    assert codec.dumps({"a": 1}) == '{"a":1}'
    for bad in ("{", "NaN", "[1,]"):
        try:
            codec.loads(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_an_instance_follows_moves_committed_elsewhere() -> None:
    """``PositionCache.follow`` plays another instance's move on the cached position before
    it, and keeps the result only when its hash is the committed one."""
    rng = random.Random(5)
    state = new_game("square8", 3)
    committed: list[tuple[dict[str, Any], Position]] = []  # (move, position after it)
    for _ in range(60):
        move = rng.choice(legal_moves(state))
        state = apply_move(state, move)
        committed.append((move.to_json(), Position.of(state, "g")))
    cache = PositionCache(4)
    first_move, first = committed[0]
    assert cache.follow("g", 1, first_move, "x") is None  # nothing cached to play it on
    cache.put("g", 1, Position.parse(json.loads(json.dumps(first.doc))))  # as read from storage
    for version, (move, after) in enumerate(committed[1:], start=2):
        expected = codec.position_hash(after.doc, after.state)
        followed = cache.follow("g", version, move, expected)
        assert followed is not None and followed.doc == after.doc
        assert cache.get("g", version) is followed
        assert cache.follow("g", version, move, "ignored: cached") is followed
    version = len(committed)
    move = legal_moves(committed[-1][1].state)[0]
    after = Position.of(apply_move(committed[-1][1].state, move), "g")
    # A result other than the committed one is not kept: the database has the truth.
    assert cache.follow("g", version + 1, move.to_json(), "0" * 64) is None
    assert cache.get("g", version + 1) is None and cache.get("g", version) is not None
    # A withdrawal is not a rules move: no position, and no error for the hub to handle.
    assert cache.follow("g", version + 1, {"type": "withdraw", "player": 1}, "x") is None
    hashed = codec.position_hash(after.doc, after.state)
    assert cache.follow("g", version + 1, move.to_json(), hashed) is not None
