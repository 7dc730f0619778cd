"""`/api/auth`: register, login, refresh, logout, logout-all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from ringrift.server.api.deps import Ctx, CurrentUser, client_address
from ringrift.server.api.envelope import ok, user_json
from ringrift.server.api.schemas import LoginRequest, RefreshRequest, RegisterRequest
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


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, ctx: Ctx, request: Request) -> dict[str, Any]:
    """Create an account and log it in; a verification link is mailed to the address."""
    await ctx.limiter.enforce("register", client_address(request), ctx.settings.rate_limit_register)
    check_new_password(body.password, email=body.email, username=body.username)
    session = await service.register(ctx, body.email, body.username, body.password)
    ctx.mailer.background(account_service.send_verification(ctx, session.user.id), "verify")
    return ok(_session_json(session))


@router.post("/login")
async def login(body: LoginRequest, ctx: Ctx, request: Request) -> dict[str, Any]:
    """Exchange email and password for an access token and a refresh token."""
    key = f"{client_address(request)}:{service.normalize_email(body.email)}"
    await ctx.limiter.enforce("login", key, ctx.settings.rate_limit_login)
    session = await service.login(ctx, body.email, body.password)
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
    return ok({"loggedOut": True, "tokenVersion": version})
