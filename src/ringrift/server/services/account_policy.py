"""Who may do what, by account state, and the one way to end all of a user's sessions (kept
apart from the services so the login code can use it without an import cycle)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.config import Settings
from ringrift.server.db.models import RefreshTokenFamily, User, utcnow
from ringrift.server.errors import ApiError, ErrorCode


def is_verified(user: User) -> bool:
    return user.email_verified_at is not None


def ensure_may_log_in(user: User) -> None:
    """Raise for accounts that may not start a session (banned or deleted). Called only after
    the password matched, so a ban is not revealed to someone guessing passwords."""
    if user.deleted_at is not None:
        raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
    if user.banned_at is not None:
        raise ApiError(ErrorCode.AUTH_ACCOUNT_BANNED)


def ensure_may_play_rated(settings: Settings, user: User) -> None:
    """Unverified accounts play unrated games only (when the setting asks for it)."""
    if settings.rated_requires_verified_email and not is_verified(user):
        raise ApiError(ErrorCode.AUTH_EMAIL_NOT_VERIFIED)


async def end_all_sessions(session: AsyncSession, user: User, reason: str) -> None:
    """Bump the token version (every access token dies) and revoke every refresh family, in
    the caller's transaction. Password change and reset, bans and deletion all go through
    here, so whatever else must follow a revocation (closing sockets) has one place to hook."""
    now = utcnow()
    user.token_version = user.token_version + 1
    user.updated_at = now
    await session.execute(
        update(RefreshTokenFamily)
        .where(RefreshTokenFamily.user_id == user.id, RefreshTokenFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
