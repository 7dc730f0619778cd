"""`/api/account` (the signed-in user's own account) and the token-based account routes under
`/api/auth` (password reset, email verification), which work without a session."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from ringrift.server.api.account_schemas import (
    AcceptedOut,
    DeleteAccountRequest,
    DoneOut,
    Envelope,
    ExportOut,
    PasswordChangeRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    SessionOut,
    UserOut,
    VerifiedOut,
    VerifyEmailRequest,
    error_responses,
)
from ringrift.server.api.deps import Ctx, CurrentUser, client_address
from ringrift.server.api.envelope import user_json
from ringrift.server.db.models import User
from ringrift.server.ratelimit import Bucket
from ringrift.server.services import account as service
from ringrift.server.services import auth as auth_service

router = APIRouter(
    prefix="/api/account", tags=["account"], responses=error_responses(400, 401, 403, 409, 429)
)
auth_router = APIRouter(prefix="/api/auth", tags=["auth"], responses=error_responses(400, 429))

RESET_ACCEPTED = (
    "If an account uses this address, a mail with a reset link is on its way. "
    "The link is valid for a short time and works once."
)


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user_json(user, private=True))


def session_out(session: auth_service.Session) -> SessionOut:
    return SessionOut(
        user=user_out(session.user),
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
    )


@auth_router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[AcceptedOut],
)
async def password_reset(
    body: PasswordResetRequest, ctx: Ctx, request: Request
) -> Envelope[AcceptedOut]:
    """Mail a single-use reset link. The answer is the same whether or not the address has an
    account; the lookup and the mail happen after the answer."""
    email = auth_service.normalize_email(body.email)
    limit = ctx.settings.rate_limit_password_reset
    await ctx.limiter.enforce(Bucket.RESET_IP, client_address(request), limit)
    # Keyed by a digest: no addresses in Redis key names.
    await ctx.limiter.enforce(Bucket.RESET_EMAIL, service.token_digest(email)[:32], limit)
    ctx.mailer.background(service.request_password_reset(ctx, email), "password reset")
    return Envelope(data=AcceptedOut(message=RESET_ACCEPTED))


@auth_router.post("/password-reset/confirm", response_model=Envelope[DoneOut])
async def password_reset_confirm(
    body: PasswordResetConfirm, ctx: Ctx, request: Request
) -> Envelope[DoneOut]:
    """Set a new password with a mailed token; every session of the account ends."""
    await ctx.limiter.enforce(
        Bucket.ACCOUNT_TOKEN, client_address(request), ctx.settings.rate_limit_account_tokens
    )
    await service.confirm_password_reset(ctx, body.token, body.new_password)
    return Envelope(data=DoneOut())


@auth_router.post("/verify-email", response_model=Envelope[VerifiedOut])
async def verify_email(
    body: VerifyEmailRequest, ctx: Ctx, request: Request
) -> Envelope[VerifiedOut]:
    """Confirm the account's email address with the mailed token."""
    await ctx.limiter.enforce(
        Bucket.ACCOUNT_TOKEN, client_address(request), ctx.settings.rate_limit_account_tokens
    )
    user = await service.verify_email(ctx, body.token)
    return Envelope(data=VerifiedOut(user=user_out(user)))


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[AcceptedOut],
)
async def resend_verification(user: CurrentUser, ctx: Ctx) -> Envelope[AcceptedOut]:
    """Mail a new verification link (older links stop working)."""
    await ctx.limiter.enforce(Bucket.VERIFY_RESEND, user.id, ctx.settings.rate_limit_verify_resend)
    await service.resend_verification(ctx, user)
    return Envelope(data=AcceptedOut(message="A new verification link is on its way."))


@router.post("/password", response_model=Envelope[SessionOut])
async def change_password(
    body: PasswordChangeRequest, user: CurrentUser, ctx: Ctx
) -> Envelope[SessionOut]:
    """Change the password (the current one is required). Every other session ends; the
    answer carries a fresh session for this client."""
    await ctx.limiter.enforce(Bucket.PASSWORD_CHANGE, user.id, ctx.settings.rate_limit_login)
    session = await service.change_password(ctx, user, body.current_password, body.new_password)
    return Envelope(data=session_out(session))


@router.delete("", response_model=Envelope[DoneOut])
async def delete_account(
    body: DeleteAccountRequest, user: CurrentUser, ctx: Ctx
) -> Envelope[DoneOut]:
    """Delete the account (password required): unfinished games are left or resigned, personal
    data is erased, every session ends. Finished games show a "deleted-user" seat."""
    await ctx.limiter.enforce(Bucket.PASSWORD_CHANGE, user.id, ctx.settings.rate_limit_login)
    await service.delete_account(ctx, user, body.password)
    return Envelope(data=DoneOut())


@router.get("/export", response_model=Envelope[ExportOut])
async def export_account(user: CurrentUser, ctx: Ctx) -> Envelope[ExportOut]:
    """Everything stored about the account as JSON: profile, games with moves, rating
    history, reports filed and chat messages."""
    await ctx.limiter.enforce(Bucket.EXPORT, user.id, ctx.settings.rate_limit_account_export)
    data = await service.export_account(ctx, user)
    return Envelope(data=ExportOut.model_validate(data))
