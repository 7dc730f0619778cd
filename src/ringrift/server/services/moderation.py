"""Roles, bans, chat mutes and user reports (used by the admin API and the ``ringrift admin``
CLI). A report may be about one chat message; listings then carry that message's text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ringrift.server.db.models import (
    ChatMessage,
    Report,
    ReportStatus,
    User,
    UserRole,
    utcnow,
)
from ringrift.server.db.session import Database
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services.account_policy import end_all_sessions


@dataclass(frozen=True)
class ReportedMessage:
    """The chat message a report is about, as moderators see it: the text stays visible after
    a moderator removed it, and is gone (None) once its author deleted the account."""

    id: str
    game_id: str
    channel: str
    seq: int
    body: str | None
    created_at: datetime
    removed_at: datetime | None


def reported_message(message: ChatMessage | None) -> ReportedMessage | None:
    if message is None:
        return None
    return ReportedMessage(
        id=message.id,
        game_id=message.game_id,
        channel=str(message.channel),
        seq=message.seq,
        body=message.body or None,
        created_at=message.created_at,
        removed_at=message.removed_at,
    )


@dataclass(frozen=True)
class ReportView:
    id: str
    reporter_id: str | None
    reporter_username: str | None
    user_id: str
    username: str
    reason: str
    status: ReportStatus
    created_at: datetime
    chat_message: ReportedMessage | None = None


async def find_user(db: Database, ref: str) -> User:
    """A user by id, email or username (the CLI accepts any of them)."""
    ref = ref.strip()
    async with db.session() as session:
        user = await session.get(User, ref)
        if user is None:
            user = await session.scalar(
                select(User).where(
                    (User.email == ref.lower()) | (User.username_lower == ref.lower())
                )
            )
    if user is None or user.deleted_at is not None:
        raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
    return user


async def set_role(db: Database, user_id: str, role: UserRole) -> User:
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
        user.role = role
        user.updated_at = utcnow()
        await session.commit()
        await session.refresh(user)
        return user


async def ban(db: Database, user_id: str, reason: str) -> User:
    """Ban the user: every access and refresh token stops working at once (token version
    bump, refresh families revoked) and login answers ``AUTH_ACCOUNT_BANNED``."""
    now = utcnow()
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
        user.banned_at = user.banned_at or now
        user.ban_reason = reason
        await end_all_sessions(session, user, "ban")
        await session.commit()
        await session.refresh(user)
        return user


async def unban(db: Database, user_id: str) -> User:
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
        user.banned_at = None
        user.ban_reason = None
        user.updated_at = utcnow()
        await session.commit()
        await session.refresh(user)
        return user


async def mute(db: Database, user_id: str, minutes: int) -> User:
    """Keep the user from posting chat messages for ``minutes`` (from now; 0 lifts a mute)."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
        now = utcnow()
        user.chat_muted_until = now + timedelta(minutes=minutes) if minutes > 0 else None
        user.updated_at = now
        await session.commit()
        await session.refresh(user)
        return user


async def create_report(
    db: Database,
    reporter: User,
    target_id: str,
    reason: str,
    *,
    chat_message: ChatMessage | None = None,
) -> ReportView:
    if target_id == reporter.id:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "You cannot report yourself",
            details=[{"in": "body", "field": "userId", "reason": "is your own id"}],
        )
    async with db.session() as session:
        target = await session.get(User, target_id)
        if target is None or target.deleted_at is not None:
            raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
        report = Report(
            reporter_id=reporter.id,
            target_user_id=target_id,
            reason=reason,
            status=ReportStatus.OPEN,
            created_at=utcnow(),
            chat_message_id=chat_message.id if chat_message is not None else None,
        )
        session.add(report)
        await session.commit()
        return ReportView(
            id=report.id,
            reporter_id=reporter.id,
            reporter_username=reporter.username,
            user_id=target.id,
            username=target.username,
            reason=report.reason,
            status=report.status,
            created_at=report.created_at,
            chat_message=reported_message(chat_message),
        )


async def close_report(db: Database, report_id: str) -> ReportView:
    """Mark a report handled (idempotent)."""
    async with db.session() as session:
        report = await session.get(Report, report_id)
        if report is None:
            raise ApiError(ErrorCode.RESOURCE_NOT_FOUND, "Report not found")
        report.status = ReportStatus.CLOSED
        await session.commit()
    views, _ = await list_reports(db, None, 1, 0, report_id=report_id)
    return views[0]


async def list_reports(
    db: Database,
    status: ReportStatus | None,
    limit: int,
    offset: int,
    *,
    report_id: str | None = None,
) -> tuple[list[ReportView], int]:
    """Reports, newest first, with the usernames of both sides."""
    reporter = select(User.id, User.username).subquery()
    query = (
        select(Report, User.username, reporter.c.username, ChatMessage)
        .join(User, User.id == Report.target_user_id)
        .outerjoin(reporter, reporter.c.id == Report.reporter_id)
        .outerjoin(ChatMessage, ChatMessage.id == Report.chat_message_id)
    )
    counted = select(func.count()).select_from(Report)
    if status is not None:
        query = query.where(Report.status == status)
        counted = counted.where(Report.status == status)
    if report_id is not None:
        query = query.where(Report.id == report_id)
        counted = counted.where(Report.id == report_id)
    async with db.session() as session:
        total = int(await session.scalar(counted) or 0)
        rows = (
            await session.execute(
                query.order_by(Report.created_at.desc(), Report.id).limit(limit).offset(offset)
            )
        ).all()
    views = [
        ReportView(
            id=r.id,
            reporter_id=r.reporter_id,
            reporter_username=reporter_name,
            user_id=r.target_user_id,
            username=target_name,
            reason=r.reason,
            status=r.status,
            created_at=r.created_at,
            chat_message=reported_message(message),
        )
        for r, target_name, reporter_name, message in rows
    ]
    return views, total
