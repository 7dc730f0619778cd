"""Invite tokens of private games: a private game gets an unguessable token when it is created;
joining it, and watching it without a seat, needs that token. Seated players read it from the
game JSON (``inviteToken``) to share the link.

The token is compared in constant time. It travels in a query parameter (``?invite=``) of the
REST calls, the ``invite`` member of a socket ``join`` frame, and only in the fragment of the
web client's share link (``#/game/ID?invite=TOKEN``), which browsers never send to a server.
"""

from __future__ import annotations

import hmac
import secrets

from ringrift.server.db.models import Game, User
from ringrift.server.errors import ApiError, ErrorCode

TOKEN_BYTES = 24  # 192 bits
MAX_TOKEN_LENGTH = 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def matches(expected: str | None, given: str | None) -> bool:
    """``given`` is the game's token (constant time; a game without a token matches nothing)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def check_access(game: Game, seated: bool, viewer: User | None, invite: str | None) -> None:
    """Let ``viewer`` look at ``game`` (or join it) or raise: public games and seated players
    pass; everyone else needs to be signed in with the game's invite token."""
    if not game.is_private or seated:
        return
    if invite is None:
        raise ApiError(ErrorCode.RESOURCE_ACCESS_DENIED, "This game is private")
    if viewer is None:
        raise ApiError(ErrorCode.AUTH_REQUIRED, "Sign in to open an invite link")
    if not matches(game.invite_token, invite):
        raise ApiError(ErrorCode.GAME_INVITE_INVALID)
