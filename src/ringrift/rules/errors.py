"""Errors raised by the rules engine; both are ``ValueError`` so callers can map them to 4xx."""

from __future__ import annotations


class RulesError(ValueError):
    """Base class of every error the engine raises on bad input."""

    code = "RULES_ERROR"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IllegalMove(RulesError):
    """A well-formed move that the rules do not allow in this state."""

    code = "ILLEGAL_MOVE"


class WireFormatError(RulesError):
    """A state or move that is not valid wire-format JSON for this engine."""

    code = "WIRE_FORMAT"
