"""Accounts and sessions: register, login (with lockout), refresh rotation with reuse detection,
logout and logout-all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ringrift.server.context import AppContext
from ringrift.server.db.models import RefreshToken, RefreshTokenFamily, User, utcnow
from ringrift.server.errors import ApiError, ErrorCode, TokenRevoked
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
    ctx: AppContext,
    session: AsyncSession,
    user: User,
    family_id: str,
    now: datetime,
    token: str | None = None,
) -> str:
    token = token or ctx.tokens.new_refresh_token()
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


async def register(ctx: AppContext, email: str, username: str, password: str) -> str | None:
    """Create an unverified account: its id, or None when ``email`` already has an account (the
    caller answers both the same way, so registering cannot tell whether an address is known).
    A taken username is public anyway (profiles) and raises ``RESOURCE_USERNAME_EXISTS``."""
    email = normalize_email(email)
    username = username.strip()
    # Hash first: a known email then costs as much time as a new one.
    password_hash = await asyncio.to_thread(ctx.passwords.hash, password)
    async with ctx.db.session() as session:
        if await _email_taken(session, email, username):
            return None
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
            if await _email_taken(session, email, username):
                return None
            raise
        await session.commit()
        return user.id


async def _email_taken(session: AsyncSession, email: str, username: str) -> bool:
    """Raises for a taken username (checked first, so the answer never depends on the email);
    tells whether the email already has an account."""
    taken = await session.scalar(select(User.id).where(User.username_lower == username.lower()))
    if taken is not None:
        raise ApiError(ErrorCode.RESOURCE_USERNAME_EXISTS)
    return await session.scalar(select(User.id).where(User.email == email)) is not None


async def login(ctx: AppContext, email: str, password: str, address: str) -> Session:
    """Check the password; throttled per address+email, per email and per address (see
    ``security/throttle.py``). Unknown and known emails take the same path and the same time
    (a dummy hash is verified) and get the same answers."""
    email = normalize_email(email)
    throttle = ctx.login_throttle
    async with ctx.db.session() as session:
        user = await session.scalar(select(User).where(User.email == email))
    await throttle.check(email, address, user.id if user is not None else None)
    ok = await asyncio.to_thread(
        ctx.passwords.verify, user.password_hash if user else None, password
    )
    if user is None or not ok:
        await throttle.record_failure(email, address)
        raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
    now = utcnow()
    async with ctx.db.session() as session:
        fresh = await session.get(User, user.id)
        if fresh is None:
            raise ApiError(ErrorCode.AUTH_INVALID_CREDENTIALS)
        ensure_may_log_in(fresh)
        fresh.last_login_at = now
        if ctx.passwords.needs_rehash(fresh.password_hash):
            fresh.password_hash = await asyncio.to_thread(ctx.passwords.hash, password)
        result = await _start_session(ctx, session, fresh)
        await session.commit()
    await throttle.record_success(user.id, address)
    return result


async def _revoke_family(session: AsyncSession, family_id: str, reason: str) -> None:
    await session.execute(
        update(RefreshTokenFamily)
        .where(RefreshTokenFamily.id == family_id, RefreshTokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def refresh(ctx: AppContext, token: str) -> Session:
    """Rotate ``token``. Presenting a used token again revokes its family (reuse detection),
    except within ``REFRESH_REUSE_INTERVAL_SECONDS`` of its rotation: then the same successor is
    returned (two tabs refreshing at once must not log each other out)."""
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
        family_id, stored_id = family.id, stored.id
        now = utcnow()
        if stored.used_at is not None:
            return await _reuse(ctx, session, token, stored.used_at, family_id, user, now)
        if family.revoked_at is not None or stored.token_version != user.token_version:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_INVALID)
        if stored.expires_at <= now:
            raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_EXPIRED)
        claimed = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == stored_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            # Another request rotated this token a moment ago.
            user_id = user.id
            await session.rollback()
            used_at = await session.scalar(
                select(RefreshToken.used_at).where(RefreshToken.id == stored_id)
            )
            fresh = await session.get(User, user_id, populate_existing=True)
            if fresh is None:
                raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_INVALID)
            return await _reuse(ctx, session, token, used_at, family_id, fresh, now)
        successor = ctx.tokens.successor_refresh_token(token)
        new_refresh = await _new_refresh(ctx, session, user, family_id, now, successor)
        access = ctx.tokens.issue_access(user.id, user.token_version)
        await session.commit()
        return Session(user, access, new_refresh, ctx.settings.access_token_ttl_seconds)


async def _reuse(
    ctx: AppContext,
    session: AsyncSession,
    token: str,
    used_at: datetime | None,
    family_id: str,
    user: User,
    now: datetime,
) -> Session:
    """A used token presented again: the same successor within the reuse interval (while the
    family and the token version still hold), otherwise revoke the family."""
    interval = timedelta(seconds=ctx.settings.refresh_reuse_interval_seconds)
    if used_at is not None and now - used_at <= interval:
        successor = ctx.tokens.successor_refresh_token(token)
        row = (
            await session.execute(
                select(RefreshToken, RefreshTokenFamily)
                .join(RefreshTokenFamily, RefreshToken.family_id == RefreshTokenFamily.id)
                .where(RefreshToken.token_hash == ctx.tokens.refresh_digest(successor))
            )
        ).first()
        if row is not None:
            stored, family = row
            if (
                family.id == family_id
                and family.revoked_at is None
                and stored.token_version == user.token_version
            ):
                access = ctx.tokens.issue_access(user.id, user.token_version)
                return Session(user, access, successor, ctx.settings.access_token_ttl_seconds)
    await _revoke_family(session, family_id, "reuse")
    await session.commit()
    raise ApiError(ErrorCode.AUTH_REFRESH_TOKEN_REUSED)


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
        raise TokenRevoked
    return user
