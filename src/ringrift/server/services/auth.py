"""Accounts and sessions: register, login (with lockout), refresh rotation with reuse detection,
logout and logout-all."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import RefreshToken, RefreshTokenFamily, User, utcnow
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services.account_policy import ensure_may_log_in


@dataclass(frozen=True)
class Session:
    user: User
    access_token: str
    refresh_token: str
    expires_in: int


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def _new_refresh(
    ctx: AppContext, session: AsyncSession, user: User, family_id: str, now: datetime
) -> str:
    token = ctx.tokens.new_refresh_token()
    session.add(
        RefreshToken(
            family_id=family_id,
            user_id=user.id,
            token_hash=ctx.tokens.refresh_digest(token),
            token_version=user.token_version,
            created_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
        )
    )
    return token


async def _start_session(ctx: AppContext, session: AsyncSession, user: User) -> Session:
    now = utcnow()
    family = RefreshTokenFamily(user_id=user.id, created_at=now)
    session.add(family)
    await session.flush()
    refresh = await _new_refresh(ctx, session, user, family.id, now)
    access = ctx.tokens.issue_access(user.id, user.token_version)
    return Session(user, access, refresh, ctx.settings.access_token_ttl_seconds)


async def register(ctx: AppContext, email: str, username: str, password: str) -> Session:
    email = normalize_email(email)
    username = username.strip()
    async with ctx.db.session() as session:
        await _ensure_unique(session, email, username)
    password_hash = await asyncio.to_thread(ctx.passwords.hash, password)
    async with ctx.db.session() as session:
        now = utcnow()
        user = User(
            email=email,
            username=username,
            username_lower=username.lower(),
            password_hash=password_hash,
            token_version=0,
            rating=1500.0,
            rated_games=0,
            games_played=0,
            wins=0,
            losses=0,
            draws=0,
            failed_login_count=0,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            await _ensure_unique(session, email, username)
            raise
        result = await _start_session(ctx, session, user)
        await session.commit()
        return result


async def _ensure_unique(session: AsyncSession, email: str, username: str) -> None:
    taken = await session.scalar(select(User.id).where(User.email == email))
    if taken is not None:
        raise ApiError(ErrorCode.RESOURCE_EMAIL_EXISTS)
    taken = await session.scalar(select(User.id).where(User.username_lower == username.lower()))
    if taken is not None:
        raise ApiError(ErrorCode.RESOURCE_USERNAME_EXISTS)


async def login(ctx: AppContext, email: str, password: str) -> Session:
    email = normalize_email(email)
    settings = ctx.settings
    async with ctx.db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
    now = utcnow()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        retry_after = math.ceil((user.locked_until - now).total_seconds())
        raise ApiError(
            ErrorCode.AUTH_LOGIN_LOCKED_OUT,
            details={"retryAfterSeconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    ok = await asyncio.to_thread(
        ctx.passwords.verify, user.password_hash if user else None, password
    )
    if user is None:
        raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
    async with ctx.db.session() as session:
        if not ok:
            window = timedelta(seconds=settings.login_lockout_seconds)
            recent = user.last_failed_login_at is not None and now - user.last_failed_login_at < (
                window
            )
            failures = (user.failed_login_count if recent else 0) + 1
            locked = failures >= settings.login_max_failures
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(
                    failed_login_count=0 if locked else failures,
                    last_failed_login_at=now,
                    locked_until=now + window if locked else None,
                )
            )
            await session.commit()
            if locked:
                raise ApiError(
                    ErrorCode.AUTH_LOGIN_LOCKED_OUT,
                    details={"retryAfterSeconds": settings.login_lockout_seconds},
                    headers={"Retry-After": str(settings.login_lockout_seconds)},
                )
            raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
        fresh = await session.get(User, user.id)
        if fresh is None:
            raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
        ensure_may_log_in(fresh)
        fresh.failed_login_count = 0
        fresh.last_failed_login_at = None
        fresh.locked_until = None
        fresh.last_login_at = now
        if ctx.passwords.needs_rehash(fresh.password_hash):
            fresh.password_hash = await asyncio.to_thread(ctx.passwords.hash, password)
        result = await _start_session(ctx, session, fresh)
        await session.commit()
        return result


async def _revoke_family(session: AsyncSession, family_id: str, reason: str) -> None:
    await session.execute(
        update(RefreshTokenFamily)
        .where(RefreshTokenFamily.id == family_id, RefreshTokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def refresh(ctx: AppContext, token: str) -> Session:
    digest = ctx.tokens.refresh_digest(token)
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(RefreshToken, RefreshTokenFamily, User)
                .join(RefreshTokenFamily, RefreshToken.family_id == RefreshTokenFamily.id)
                .join(User, RefreshToken.user_id == User.id)
                .where(RefreshToken.token_hash == digest)
            )
        ).first()
        if row is None:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_INVALID)
        stored, family, user = row
        family_id = family.id
        now = utcnow()
        if stored.used_at is not None:
            await _revoke_family(session, family.id, "reuse")
            await session.commit()
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_REUSED)
        if family.revoked_at is not None or stored.token_version != user.token_version:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_INVALID)
        if stored.expires_at <= now:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_EXPIRED)
        claimed = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            # Another request rotated this token a moment ago: that is a reuse as well.
            await session.rollback()
            await _revoke_family(session, family_id, "reuse")
            await session.commit()
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_REUSED)
        new_refresh = await _new_refresh(ctx, session, user, family.id, now)
        access = ctx.tokens.issue_access(user.id, user.token_version)
        await session.commit()
        return Session(user, access, new_refresh, ctx.settings.access_token_ttl_seconds)


async def logout(ctx: AppContext, token: str) -> None:
    digest = ctx.tokens.refresh_digest(token)
    async with ctx.db.session() as session:
        family_id = await session.scalar(
            select(RefreshToken.family_id).where(RefreshToken.token_hash == digest)
        )
        if family_id is None:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_INVALID)
        await _revoke_family(session, family_id, "logout")
        await session.commit()


async def logout_all(ctx: AppContext, user_id: str) -> int:
    """Invalidate every access and refresh token of the user; returns the new token version."""
    async with ctx.db.session() as session:
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1, updated_at=utcnow())
        )
        await session.execute(
            update(RefreshTokenFamily)
            .where(RefreshTokenFamily.user_id == user_id, RefreshTokenFamily.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason="logout_all")
        )
        version = await session.scalar(select(User.token_version).where(User.id == user_id))
        await session.commit()
        return int(version or 0)


async def authenticate(ctx: AppContext, token: str) -> User:
    claims = ctx.tokens.verify_access(token)
    async with ctx.db.session() as session:
        user = await session.get(User, claims.user_id)
    if user is None:
        raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token subject no longer exists")
    if user.token_version != claims.token_version:
        raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token has been revoked")
    return user
