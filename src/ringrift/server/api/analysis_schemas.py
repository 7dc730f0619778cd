"""Request and response models of the analysis and sandbox routes (camelCase on the wire)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from ringrift.server.api.account_schemas import Envelope, Out
from ringrift.server.api.schemas import BoardType, Body


class AnalysisSource(StrEnum):
    SERVICE = "service"  # the AI service answered
    LOCAL = "local"  # the app analysed in-process at a capped level (service unavailable)


class SandboxStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


# --- requests -----------------------------------------------------------------------------


class AnalysisRequest(Body):
    """Any position in the wire format (docs/rules.md section 20); ``moveHistory`` is ignored."""

    state: dict[str, Any]
    level: int = Field(default=5, ge=1, le=10)
    top: int = Field(default=3, ge=1, le=10)


class SandboxNewRequest(Body):
    board_type: BoardType = Field(alias="boardType")
    players: int = Field(default=2, ge=2, le=4)
    seat: int = Field(default=1, ge=1, le=4)  # the visitor's seat; every other seat is the AI's
    level: int = Field(default=1, ge=1, le=10)


class SandboxMoveRequest(Body):
    """The visitor's move in the position the client holds."""

    state: dict[str, Any]
    move: dict[str, Any]
    seat: int = Field(ge=1, le=4)


class SandboxAiRequest(Body):
    """Let the AI seat to move play one decision (and the lone moves that follow it)."""

    state: dict[str, Any]
    seat: int = Field(ge=1, le=4)
    level: int = Field(ge=1, le=10)


# --- responses ----------------------------------------------------------------------------


class SeatValueOut(Out):
    player: int
    evaluation: float
    win_chance: float = Field(
        description="The evaluation squashed into [0, 1] (0.5 = level). On square8 and hex8 "
        "with two players, the learned model's chance that the seat wins, fitted to self-play "
        "results; otherwise a monotone summary, not a calibrated probability"
    )


class ScoredMoveOut(Out):
    move: dict[str, Any]
    score: float
    win_chance: float


class AnalysisOut(Out):
    player_to_move: int | None
    level: int
    seats: list[SeatValueOut]
    best_move: dict[str, Any] | None
    top_moves: list[ScoredMoveOut]
    depth: int
    complete: bool
    nodes: int
    thinking_time_ms: float
    source: AnalysisSource
    game_id: str | None = None
    move_number: int | None = None


class CurvePointOut(Out):
    v: int = Field(description="recorded moves applied: the position after a turn ended")
    mover: int | None = Field(description="the seat whose turn ended there (None at the start)")
    shares: list[float] = Field(
        description="each seat's share of the winning chances (seat i + 1 at index i), "
        "adding up to 1; a finished game gives its winner 1"
    )


class TurningPointOut(Out):
    v: int
    mover: int = Field(description="the seat whose turn it was")
    seat: int = Field(description="the seat whose share moved most in that turn")
    before: float
    after: float


class CurveOut(Out):
    """A game's evaluation curve: a point at the start and after every turn, and the turns
    that moved a seat's share by at least 0.15 (at most five, the largest)."""

    game_id: str
    version: int
    points: list[CurvePointOut]
    turning_points: list[TurningPointOut]


class PlayedOut(Out):
    player: int
    move: dict[str, Any]
    by_ai: bool


class SandboxOut(Out):
    """A sandbox position: the state (no history), what was played to reach it in this
    request, the legal moves when the visitor is to move, and whether an AI seat is to move."""

    state: dict[str, Any]
    played: list[PlayedOut]
    legal_moves: list[dict[str, Any]]
    to_move: int | None
    ai_to_move: bool
    status: SandboxStatus
    winner: int | None
    victory_reason: str | None


AnalysisEnvelope = Envelope[AnalysisOut]
CurveEnvelope = Envelope[CurveOut]
SandboxEnvelope = Envelope[SandboxOut]
