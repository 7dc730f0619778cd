"""Shared FastAPI dependencies: the app context and the authenticated user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ringrift.server.context import AppContext
from ringrift.server.db.models import User, UserRole
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import auth as auth_service

bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login")


async def get_ctx(request: Request) -> AppContext:
    """The app's context. ``async`` although it awaits nothing: FastAPI runs a plain ``def``
    dependency in its thread pool, and this one is part of nearly every request, /health
    included (a thread hop and a GIL hand-over each, which under load put /health behind
    everything else the loop had queued)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def client_address(request: Request) -> str:
    """The peer address (uvicorn applies X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client is not None else "unknown"


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return credentials.credentials
    header = request.headers.get("authorization")
    if header:
        # Present but not "Bearer <token>".
        raise ApiError(
            ErrorCode.AUTH_TOKEN_INVALID, "Authorization header must be 'Bearer <token>'"
        )
    return None


async def current_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    token = _token(request, credentials)
    if not token:
        raise ApiError(ErrorCode.AUTH_REQUIRED)
    user = await auth_service.authenticate(ctx, token)
    request.state.user_id = user.id
    return user


async def optional_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    token = _token(request, credentials)
    if not token:
        return None
    return await auth_service.authenticate(ctx, token)


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def require_role(*roles: UserRole) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets only users holding one of ``roles`` through (403 otherwise)."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise ApiError(
                ErrorCode.AUTH_FORBIDDEN,
                f"Requires the role {' or '.join(sorted(r.value for r in allowed))}",
            )
        return user

    return check


StaffUser = Annotated[User, Depends(require_role(UserRole.MODERATOR, UserRole.ADMIN))]
AdminUser = Annotated[User, Depends(require_role(UserRole.ADMIN))]
