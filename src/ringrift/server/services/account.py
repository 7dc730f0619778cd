"""The account lifecycle after registration: email verification, password change and reset,
deletion and data export.

Mailed tokens are 32 random bytes (URL-safe base64), stored only as their SHA-256, valid once
and for a short time; issuing a new token of a purpose retires the user's older ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.api.envelope import user_json
from ringrift.server.context import AppContext
from ringrift.server.db.models import (
    AccountToken,
    AccountTokenPurpose,
    ChatMessage,
    Game,
    GameSeat,
    RatingHistory,
    RefreshToken,
    RefreshTokenFamily,
    Report,
    User,
    UserRole,
    utcnow,
)
from ringrift.server.errors import ApiError, ErrorCode, TokenRevoked
from ringrift.server.security.password_policy import check_new_password
from ringrift.server.services import auth as auth_service
from ringrift.server.services import chat as chat_service
from ringrift.server.services import games as games_service
from ringrift.server.services.account_policy import end_all_sessions, is_verified

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
CHAT_FANOUT_LIMIT = 500
DELETED_USERNAME = "deleted-user"
# "_" is outside the domain alphabet the register route accepts: nobody can take it.
DELETED_EMAIL_DOMAIN = "deleted_user.invalid"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def _issue_token(
    session: AsyncSession, user: User, purpose: AccountTokenPurpose, ttl_seconds: int
) -> str:
    now = utcnow()
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=token_digest(token),
            email=user.email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return token


def _link(ctx: AppContext, path: str, token: str) -> str:
    return f"{ctx.settings.public_base_url.rstrip('/')}/{path}?token={quote(token)}"


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds < 7200 else f"{seconds // 3600} hours"


# --- email verification ---------------------------------------------------------------------


async def send_verification(ctx: AppContext, user_id: str) -> None:
    """Mail a fresh verification link to the user's address (no-op once verified)."""
    ttl = ctx.settings.email_verification_ttl_seconds
    async with ctx.db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None or is_verified(user):
            return
        token = await _issue_token(session, user, AccountTokenPurpose.VERIFY_EMAIL, ttl)
        email, username = user.email, user.username
        await session.commit()
    ctx.mailer.send(
        email,
        "Confirm your RingRift email address",
        f"Hello {username},\n\n"
        "please confirm this email address for your RingRift account by opening:\n\n"
        f"{_link(ctx, 'verify-email', token)}\n\n"
        f"or by entering this code in the app: {token}\n\n"
        f"The link is valid for {_minutes(ttl)}. Until the address is confirmed you can play "
        "unrated games only.\n\nIf you did not create this account, ignore this mail.\n",
    )


async def send_already_registered(ctx: AppContext, email: str) -> None:
    """Someone tried to register ``email``, which already has an account: tell its owner (the
    register route answered as for a new address, so only the owner learns it)."""
    async with ctx.db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None or user.deleted_at is not None:
            return
        username = user.username
    base = ctx.settings.public_base_url.rstrip("/")
    ctx.mailer.send(
        email,
        "You already have a RingRift account",
        f"Hello {username},\n\n"
        "someone (maybe you) tried to create a new RingRift account with this address, which "
        f"already belongs to your account. Sign in at {base}/ or, if you forgot your password, "
        "ask for a reset link on the sign-in page.\n\n"
        "If this was not you, ignore this mail: nothing changed.\n",
    )


async def resend_verification(ctx: AppContext, user: User) -> None:
    if is_verified(user):
        raise ApiError(ErrorCode.AUTH_EMAIL_ALREADY_VERIFIED)
    await send_verification(ctx, user.id)


async def _claim(
    session: AsyncSession, token: str, purpose: AccountTokenPurpose
) -> tuple[AccountToken, User]:
    """The valid token and its user, or the one error for reused/expired/unknown tokens."""
    row = (
        await session.execute(
            select(AccountToken, User)
            .join(User, AccountToken.user_id == User.id)
            .where(AccountToken.token_hash == token_digest(token), AccountToken.purpose == purpose)
        )
    ).first()
    if row is None:
        raise ApiError(ErrorCode.AUTH_ACCOUNT_TOKEN_INVALID)
    stored, user = row
    if (
        stored.used_at is not None
        or stored.expires_at <= utcnow()
        or user.deleted_at is not None
        or stored.email != user.email
    ):
        raise ApiError(ErrorCode.AUTH_ACCOUNT_TOKEN_INVALID)
    return stored, user


async def _consume(session: AsyncSession, stored: AccountToken) -> None:
    claimed = await session.execute(
        update(AccountToken)
        .where(AccountToken.id == stored.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # A concurrent request used it a moment ago.
        await session.rollback()
        raise ApiError(ErrorCode.AUTH_ACCOUNT_TOKEN_INVALID)


async def verify_email(ctx: AppContext, token: str) -> User:
    async with ctx.db.session() as session:
        stored, user = await _claim(session, token, AccountTokenPurpose.VERIFY_EMAIL)
        await _consume(session, stored)
        now = utcnow()
        if user.email_verified_at is None:
            user.email_verified_at = now
            user.updated_at = now
        await session.commit()
        await session.refresh(user)
        return user


# --- password reset -----------------------------------------------------------------------


async def request_password_reset(ctx: AppContext, email: str) -> None:
    """Mail a reset link if ``email`` belongs to an active account; otherwise do nothing.
    Runs after the response has been sent (see the route), so its duration and outcome are
    invisible to the caller."""
    email = auth_service.normalize_email(email)
    ttl = ctx.settings.password_reset_ttl_seconds
    async with ctx.db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None or user.deleted_at is not None or user.banned_at is not None:
            log.info("password reset for an address without an active account")
            return
        token = await _issue_token(session, user, AccountTokenPurpose.PASSWORD_RESET, ttl)
        username = user.username
        await session.commit()
    ctx.mailer.send(
        email,
        "Reset your RingRift password",
        f"Hello {username},\n\n"
        "someone (hopefully you) asked to reset the password of your RingRift account. "
        "To choose a new password, open:\n\n"
        f"{_link(ctx, 'reset-password', token)}\n\n"
        f"or enter this code in the app: {token}\n\n"
        f"The link works once and for {_minutes(ttl)}. Setting a new password signs out "
        "every session of the account.\n\n"
        "If you did not ask for this, ignore this mail; your password stays unchanged.\n",
    )


async def _set_password(session: AsyncSession, user: User, password_hash: str) -> None:
    """New password hash, token version bumped (every access token dies) and every refresh
    family revoked."""
    now = utcnow()
    user.password_hash = password_hash
    await end_all_sessions(session, user, "password")
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == AccountTokenPurpose.PASSWORD_RESET,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


async def confirm_password_reset(ctx: AppContext, token: str, new_password: str) -> None:
    async with ctx.db.session() as session:
        _stored, user = await _claim(session, token, AccountTokenPurpose.PASSWORD_RESET)
        check_new_password(new_password, email=user.email, username=user.username)
    password_hash = await asyncio.to_thread(ctx.passwords.hash, new_password)
    async with ctx.db.session() as session:
        stored, user = await _claim(session, token, AccountTokenPurpose.PASSWORD_RESET)
        await _consume(session, stored)
        await _set_password(session, user, password_hash)
        if user.email_verified_at is None:
            # The mailed token proves the address as well as a verification link would.
            user.email_verified_at = utcnow()
        await session.commit()


# --- password change ------------------------------------------------------------------------


async def _check_password(ctx: AppContext, user: User, password: str) -> None:
    ok = await asyncio.to_thread(ctx.passwords.verify, user.password_hash, password)
    if not ok:
        raise ApiError(
            ErrorCode.AUTH_INVALID_CREDENTIALS, "Current password is incorrect", status=403
        )


async def change_password(
    ctx: AppContext, user: User, current_password: str, new_password: str
) -> auth_service.Session:
    """Set a new password, end every other session and return a fresh one for the caller."""
    await _check_password(ctx, user, current_password)
    check_new_password(new_password, email=user.email, username=user.username)
    password_hash = await asyncio.to_thread(ctx.passwords.hash, new_password)
    async with ctx.db.session() as session:
        fresh = await session.get(User, user.id)
        if fresh is None or fresh.token_version != user.token_version:
            raise TokenRevoked
        await _set_password(session, fresh, password_hash)
        await session.flush()
        result = await auth_service._start_session(ctx, session, fresh)
        await session.commit()
        return result


# --- deletion and export ----------------------------------------------------------------------


async def delete_account(ctx: AppContext, user: User, password: str) -> None:
    """Resign or leave the user's unfinished games, then overwrite every personal field. The
    row stays as a "deleted user" so finished games keep a consistent seat list."""
    await _check_password(ctx, user, password)
    async with ctx.db.session() as session:
        open_games = (
            await session.scalars(
                select(GameSeat.game_id)
                .join(Game, Game.id == GameSeat.game_id)
                .where(
                    GameSeat.user_id == user.id,
                    Game.status.in_((games_service.WAITING, games_service.ACTIVE)),
                )
            )
        ).all()
    for game_id in open_games:
        try:
            await games_service.leave_game(ctx, user, game_id)
        except ApiError as error:  # ended or started meanwhile: nothing left to do there
            log.info("account deletion: leaving game %s: %s", game_id, error.code)
    async with ctx.db.session() as session:
        row = await session.get(User, user.id)
        if row is None or row.deleted_at is not None:
            raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token subject no longer exists")
        now = utcnow()
        compact = row.id.replace("-", "")
        row.email = f"{compact}@{DELETED_EMAIL_DOMAIN}"
        row.username = DELETED_USERNAME
        # Not a name anyone can register ("~" is outside the username alphabet).
        row.username_lower = f"~{compact[:31]}"
        row.password_hash = "!deleted"
        await end_all_sessions(session, row, "deleted")
        row.email_verified_at = None
        row.last_login_at = None
        row.last_failed_login_at = None
        row.locked_until = None
        row.failed_login_count = 0
        row.ban_reason = None
        row.role = UserRole.PLAYER
        row.deleted_at = now
        row.updated_at = now
        await session.execute(delete(RefreshToken).where(RefreshToken.user_id == row.id))
        await session.execute(
            delete(RefreshTokenFamily).where(RefreshTokenFamily.user_id == row.id)
        )
        await session.execute(delete(AccountToken).where(AccountToken.user_id == row.id))
        await session.execute(
            update(Report).where(Report.reporter_id == row.id).values(reporter_id=None)
        )
        # Chat messages keep their row (and seq, so channels stay gapless) but lose their
        # text; readers see them as removed (services/chat.py: Removal.AUTHOR_DELETED).
        await session.execute(
            update(ChatMessage)
            .where(ChatMessage.user_id == row.id, ChatMessage.removed_at.is_(None))
            .values(removed_at=now)
        )
        await session.execute(
            update(ChatMessage).where(ChatMessage.user_id == row.id).values(body="")
        )
        await session.commit()
        # Open sockets replace the text at once (the most recent messages; older ones are
        # seen as removed at the next join, like any removal missed).
        blanked = (
            await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.user_id == row.id)
                .order_by(ChatMessage.created_at.desc())
                .limit(CHAT_FANOUT_LIMIT)
            )
        ).all()
        for message in blanked:
            chat_service.publish(ctx, chat_service.removal_event(message, DELETED_USERNAME))
    log.info("account deleted", extra={"userId": user.id})


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def export_account(ctx: AppContext, user: User) -> dict[str, Any]:
    """Everything stored about the user: profile, games with their moves, rating history and
    the reports the user filed."""
    async with ctx.db.session() as session:
        game_ids = (
            await session.scalars(
                select(GameSeat.game_id)
                .where(GameSeat.user_id == user.id)
                .order_by(GameSeat.joined_at, GameSeat.game_id)
            )
        ).all()
        ratings = (
            await session.scalars(
                select(RatingHistory)
                .where(RatingHistory.user_id == user.id)
                .order_by(RatingHistory.created_at, RatingHistory.id)
            )
        ).all()
        reports = (
            await session.scalars(
                select(Report).where(Report.reporter_id == user.id).order_by(Report.created_at)
            )
        ).all()
        messages = (
            await session.scalars(
                select(ChatMessage)
                .where(ChatMessage.user_id == user.id)
                .order_by(ChatMessage.created_at, ChatMessage.id)
            )
        ).all()
    games: list[dict[str, Any]] = []
    for game_id in game_ids:
        loaded = await games_service.get_game(ctx, game_id, user)
        game = games_service.game_json(loaded, include_state=False)
        moves = await games_service.move_list(ctx, game_id, user)
        seat = loaded.seat_of(user.id)
        game["mySeat"] = seat.seat if seat is not None else None
        game["moves"] = moves["moves"]
        games.append(game)
    profile = user_json(user, private=True)
    profile.update(
        {
            "role": str(user.role),
            "emailVerifiedAt": _iso(user.email_verified_at),
            "updatedAt": _iso(user.updated_at),
        }
    )
    return {
        "exportedAt": utcnow().isoformat(),
        "profile": profile,
        "games": games,
        "ratingHistory": [
            {
                "gameId": r.game_id,
                "ratingBefore": r.rating_before,
                "ratingAfter": r.rating_after,
                "delta": r.delta,
                "createdAt": _iso(r.created_at),
            }
            for r in ratings
        ],
        "reportsFiled": [
            {
                "id": r.id,
                "userId": r.target_user_id,
                "reason": r.reason,
                "status": str(r.status),
                "createdAt": _iso(r.created_at),
            }
            for r in reports
        ],
        # Every message the user posted, with its text even after a moderator removed it.
        "chatMessages": [
            {
                "id": m.id,
                "gameId": m.game_id,
                "channel": str(m.channel),
                "seq": m.seq,
                "body": m.body,
                "createdAt": _iso(m.created_at),
                "removedAt": _iso(m.removed_at),
            }
            for m in messages
        ],
    }
