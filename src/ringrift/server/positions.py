"""Parsed positions kept in memory per game and version, so a move needs no parse of stored JSON.

A ``Position`` pairs the engine state with its wire document (``to_json(include_history=False)``
plus ``gameId``); both are treated as immutable once cached. Entries are keyed by version, and
versions never change meaning (the database commits each one once), so a stale entry is never
wrong, only unused; the LRU bound keeps memory flat.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from ringrift.rules import GameState, IllegalMove, Move, WireFormatError, apply_move, legal_moves
from ringrift.server import codec

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: collections.OrderedDict[K, V] = collections.OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class Position:
    state: GameState
    doc: dict[str, Any]

    @classmethod
    def of(cls, state: GameState, game_id: str) -> Position:
        """The position of a state the caller owns; its history is dropped (the moves table
        holds it), so keeping or copying the state costs O(board), never O(moves)."""
        state.history = ()
        doc = state.to_json(include_history=False)
        doc["gameId"] = game_id
        return cls(state, doc)

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Position:
        state = GameState.from_json(doc)
        state.history = ()
        return cls(state, doc)

    @cached_property
    def legal(self) -> tuple[Move, ...]:
        """The legal moves here, generated once per position: a move asks for them to find
        forced bookkeeping and again to offer them to the seat to move."""
        return tuple(legal_moves(self.state))

    @cached_property
    def legal_json(self) -> list[dict[str, Any]]:
        """:attr:`legal` in the wire format, built once (shared: do not modify)."""
        return [move.to_json() for move in self.legal]


class PositionCache:
    """The newest parsed position of each recently played game, tagged with its version: a
    lookup for (game, version) hits only when that version is the one cached. One entry per
    game keeps memory (and the garbage collector's work) proportional to the games in play;
    an entry per version filled the cache with positions nobody asks for again, and full
    collections over them paused the event loop for up to a second under load."""

    def __init__(self, size: int) -> None:
        self._lru: LRU[str, tuple[int, Position]] = LRU(size)

    def get(self, game_id: str, version: int) -> Position | None:
        found = self._lru.get(game_id)
        return found[1] if found is not None and found[0] == version else None

    def put(self, game_id: str, version: int, position: Position) -> None:
        current = self._lru.get(game_id)
        if current is None or current[0] <= version:
            self._lru.put(game_id, (version, position))

    def position(self, game_id: str, version: int, doc: dict[str, Any]) -> Position:
        """The cached position of (game, version), parsing ``doc`` (the stored JSON) on a miss."""
        found = self.get(game_id, version)
        if found is None:
            found = Position.parse(doc)
            self.put(game_id, version, found)
        return found

    def follow(
        self, game_id: str, version: int, move: dict[str, Any], expected_hash: str
    ) -> Position | None:
        """The position at ``version``, reached from the cached one before it by playing
        ``move`` (a move another instance committed), when its hash is ``expected_hash``;
        cached. None when neither is cached, the move is not a rules move (a withdrawal) or
        the result differs from what was committed (then the database has the truth). This
        keeps an instance whose player waits for another instance's move in step without
        reading and parsing the stored position."""
        found = self.get(game_id, version)
        if found is not None:
            return found
        before = self.get(game_id, version - 1)
        if before is None:
            return None
        try:
            state = apply_move(before.state, Move.from_json(move))
        except (WireFormatError, IllegalMove):
            return None
        after = Position.of(state, game_id)
        if codec.position_hash(after.doc, after.state) != expected_hash:
            return None
        self.put(game_id, version, after)
        return after

    def __len__(self) -> int:
        return len(self._lru)
