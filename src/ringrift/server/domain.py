"""The server's vocabulary: game statuses, where a recorded move came from, and what ended a
game. String enums, so they compare equal to (and are stored as) their values."""

from __future__ import annotations

from enum import StrEnum


class GameStatus(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class MoveSource(StrEnum):
    """``moves.source``: a person, the AI service, the in-process AI, its last-resort fallback,
    or a bookkeeping move the server played for a human seat that had no other choice."""

    HUMAN = "human"
    SERVICE = "service"
    LOCAL = "local"
    FALLBACK = "fallback"
    AUTO = "auto"
    WITHDRAWAL = "withdrawal"


class EndReason(StrEnum):
    NORMAL = "normal"
    RESIGNATION = "resignation"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"
    # A seated player ended the game before every seat had moved: no result, no rating change.
    ABORTED = "aborted"


# Why a seat can leave a game before it ends (F-30); a game that a withdrawal ends carries the
# same reason as its end reason.
WITHDRAWAL_REASONS = frozenset({EndReason.RESIGNATION, EndReason.TIMEOUT, EndReason.ABANDONED})
