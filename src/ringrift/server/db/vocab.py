"""The server's stored vocabulary: the enums whose values the database columns hold.

They live apart from the SQLAlchemy models so that code which only names a role or a status
(the admin CLI, API schemas) does not import SQLAlchemy."""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    """What an account may do beyond playing. Stored as its value in ``users.role``."""

    PLAYER = "player"
    MODERATOR = "moderator"
    ADMIN = "admin"


class AccountTokenPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"


class ReportStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ChatChannel(StrEnum):
    """The two chat channels of a game (see ``services/chat.py`` for who reads and writes)."""

    PLAYERS = "players"
    SPECTATORS = "spectators"


class RematchStatus(StrEnum):
    OPEN = "open"  # offered, waiting for the other human seats
    DECLINED = "declined"  # declined or withdrawn: over
    CREATED = "created"  # everyone accepted; ``new_game_id`` is the rematch
