"""`/api/auth`: register, login, refresh, logout, logout-all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from ringrift.server.api.account_schemas import AcceptedOut, Envelope
from ringrift.server.api.deps import Ctx, CurrentUser, client_address
from ringrift.server.api.envelope import ok, user_json
from ringrift.server.api.schemas import LoginRequest, RefreshRequest, RegisterRequest
from ringrift.server.ratelimit import Bucket
from ringrift.server.security.password_policy import check_new_password
from ringrift.server.services import account as account_service
from ringrift.server.services import auth as service

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _session_json(session: service.Session) -> dict[str, Any]:
    return {
        "user": user_json(session.user, private=True),
        "accessToken": session.access_token,
        "refreshToken": session.refresh_token,
        "expiresIn": session.expires_in,
        "tokenType": "Bearer",
    }


REGISTER_ACCEPTED = (
    "Thanks! If this address is new, your account is ready: sign in with it, and confirm the "
    "address with the link we mailed you. If it already has an account, we mailed you how to "
    "sign in or reset your password."
)


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[AcceptedOut],
)
async def register(body: RegisterRequest, ctx: Ctx, request: Request) -> Envelope[AcceptedOut]:
    """Create an account (then sign in with ``/login``) and mail a verification link. The answer
    is the same whether or not the address already has an account: its owner gets a mail
    instead, so registering does not reveal which addresses are known."""
    address = client_address(request)
    await ctx.limiter.enforce(Bucket.REGISTER, address, ctx.settings.rate_limit_register)
    check_new_password(body.password, email=body.email, username=body.username)
    user_id = await service.register(ctx, body.email, body.username, body.password)
    if user_id is None:
        email = service.normalize_email(body.email)
        ctx.mailer.background(account_service.send_already_registered(ctx, email), "register")
    else:
        ctx.mailer.background(account_service.send_verification(ctx, user_id), "verify")
    return Envelope(data=AcceptedOut(message=REGISTER_ACCEPTED))


@router.post("/login")
async def login(body: LoginRequest, ctx: Ctx, request: Request) -> dict[str, Any]:
    """Exchange email and password for an access token and a refresh token."""
    address = client_address(request)
    await ctx.limiter.enforce(Bucket.LOGIN_IP, address, ctx.settings.rate_limit_login_ip)
    key = f"{address}:{service.normalize_email(body.email)}"
    await ctx.limiter.enforce(Bucket.LOGIN, key, ctx.settings.rate_limit_login)
    session = await service.login(ctx, body.email, body.password, address)
    return ok(_session_json(session))


@router.post("/refresh")
async def refresh(body: RefreshRequest, ctx: Ctx) -> dict[str, Any]:
    """Rotate a refresh token: the old one stops working, a reused one revokes the family."""
    session = await service.refresh(ctx, body.refresh_token)
    return ok(_session_json(session))


@router.post("/logout")
async def logout(body: RefreshRequest, ctx: Ctx) -> dict[str, Any]:
    """End one login session (the refresh token's family)."""
    await service.logout(ctx, body.refresh_token)
    return ok({"loggedOut": True})


@router.post("/logout-all")
async def logout_all(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """End every session of the user: all refresh tokens and all access tokens stop working."""
    version = await service.logout_all(ctx, user.id)
    # Open sockets of this user close now here (4401), and within a sweep on other instances.
    await ctx.sockets.revoke_user(user.id)
    return ok({"loggedOut": True, "tokenVersion": version})
