"""`/api/admin`: moderation for staff (moderators and admins) and role changes (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ringrift.server.api.account_schemas import (
    AdminUserOut,
    BanRequest,
    Envelope,
    MuteRequest,
    ReportedMessageOut,
    ReportOut,
    ReportPage,
    RoleRequest,
    error_responses,
)
from ringrift.server.api.deps import AdminUser, Ctx, StaffUser
from ringrift.server.db.models import ReportStatus, User, UserRole
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import moderation as service

router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=error_responses(400, 401, 403, 404)
)

TargetId = Annotated[str, Path(min_length=1, max_length=64, description="user id")]


def admin_user_out(user: User) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role,
        email_verified=user.email_verified_at is not None,
        banned=user.banned_at is not None,
        banned_at=user.banned_at.isoformat() if user.banned_at else None,
        ban_reason=user.ban_reason,
        chat_muted_until=user.chat_muted_until.isoformat() if user.chat_muted_until else None,
    )


def reported_message_out(message: service.ReportedMessage | None) -> ReportedMessageOut | None:
    if message is None:
        return None
    return ReportedMessageOut(
        id=message.id,
        game_id=message.game_id,
        channel=message.channel,
        seq=message.seq,
        body=message.body,
        created_at=message.created_at.isoformat(),
        removed_at=message.removed_at.isoformat() if message.removed_at else None,
    )


def report_out(view: service.ReportView) -> ReportOut:
    return ReportOut(
        id=view.id,
        reporter_id=view.reporter_id,
        reporter_username=view.reporter_username,
        user_id=view.user_id,
        username=view.username,
        reason=view.reason,
        status=view.status,
        created_at=view.created_at.isoformat(),
        chat_message=reported_message_out(view.chat_message),
    )


async def _target(ctx: Ctx, staff: User, user_id: str) -> User:
    async with ctx.db.session() as session:
        target = await session.get(User, user_id)
    if target is None or target.deleted_at is not None:
        raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
    if target.id == staff.id:
        raise ApiError(ErrorCode.AUTH_FORBIDDEN, "You cannot moderate your own account")
    if target.role != UserRole.PLAYER and staff.role != UserRole.ADMIN:
        raise ApiError(ErrorCode.AUTH_FORBIDDEN, "Only an admin can moderate staff accounts")
    return target


@router.get("/users/{user_id}", response_model=Envelope[AdminUserOut])
async def get_user(user_id: TargetId, staff: StaffUser, ctx: Ctx) -> Envelope[AdminUserOut]:
    """A user as moderators see it: email, role, verification and ban."""
    async with ctx.db.session() as session:
        user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise ApiError(ErrorCode.RESOURCE_USER_NOT_FOUND)
    return Envelope(data=admin_user_out(user))


@router.post("/users/{user_id}/ban", response_model=Envelope[AdminUserOut])
async def ban_user(
    user_id: TargetId, body: BanRequest, staff: StaffUser, ctx: Ctx
) -> Envelope[AdminUserOut]:
    """Ban a user: their sessions end at once and login is refused with AUTH_ACCOUNT_BANNED."""
    target = await _target(ctx, staff, user_id)
    user = await service.ban(ctx.db, target.id, body.reason)
    return Envelope(data=admin_user_out(user))


@router.post("/users/{user_id}/unban", response_model=Envelope[AdminUserOut])
async def unban_user(user_id: TargetId, staff: StaffUser, ctx: Ctx) -> Envelope[AdminUserOut]:
    """Lift a ban; the user can log in again."""
    target = await _target(ctx, staff, user_id)
    user = await service.unban(ctx.db, target.id)
    return Envelope(data=admin_user_out(user))


@router.post("/users/{user_id}/mute", response_model=Envelope[AdminUserOut])
async def mute_user(
    user_id: TargetId, body: MuteRequest, staff: StaffUser, ctx: Ctx
) -> Envelope[AdminUserOut]:
    """Keep a user from posting chat messages for ``minutes`` (0 lifts the mute)."""
    target = await _target(ctx, staff, user_id)
    user = await service.mute(ctx.db, target.id, body.minutes)
    return Envelope(data=admin_user_out(user))


@router.put("/users/{user_id}/role", response_model=Envelope[AdminUserOut])
async def set_role(
    user_id: TargetId, body: RoleRequest, admin: AdminUser, ctx: Ctx
) -> Envelope[AdminUserOut]:
    """Grant or take away a role (admins only; not on one's own account)."""
    target = await _target(ctx, admin, user_id)
    user = await service.set_role(ctx.db, target.id, body.role)
    return Envelope(data=admin_user_out(user))


@router.get("/reports", response_model=Envelope[ReportPage])
async def list_reports(
    staff: StaffUser,
    ctx: Ctx,
    status: Annotated[ReportStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Envelope[ReportPage]:
    """Reports filed by players, newest first."""
    views, total = await service.list_reports(ctx.db, status, limit, offset)
    return Envelope(
        data=ReportPage(
            reports=[report_out(v) for v in views],
            total=total,
            limit=limit,
            offset=offset,
            status=status,
        )
    )


@router.post("/reports/{report_id}/close", response_model=Envelope[ReportOut])
async def close_report(
    report_id: Annotated[str, Path(min_length=1, max_length=64, description="report id")],
    staff: StaffUser,
    ctx: Ctx,
) -> Envelope[ReportOut]:
    """Mark a report handled; it leaves the open list."""
    return Envelope(data=report_out(await service.close_report(ctx.db, report_id)))
