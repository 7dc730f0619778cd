"""HTTP edge protections as pure ASGI middleware: request body limits and security headers.

Body limits are enforced before the body is read: a declared ``Content-Length`` above the limit
is answered 413 at once (the body is never received); a chunked body is counted while it streams
and the request is stopped at the first chunk past the limit. The limit depends on the route:
``/api/auth/*`` bodies are small by nature (64 KB), everything else gets 1 MB.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ringrift.server.errors import ErrorCode, error_body

AUTH_PREFIX = "/api/auth/"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException so that
    FastAPI's body reader passes it on (it turns other errors into a 400) and the app's handler
    renders it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))
        self.limit = limit


def too_large_message(limit: int) -> str:
    return f"Request body too large: the limit for this route is {limit} bytes"


def envelope_413(limit: int, request_id: str | None) -> bytes:
    body = error_body(
        ErrorCode.VALIDATION_FAILED,
        too_large_message(limit),
        request_id,
        {"limitBytes": limit},
    )
    return json.dumps(body).encode()


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when absent; -1 when it is not a number."""
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class BodyLimitMiddleware:
    """Answer 413 (error envelope) for bodies above the route's limit, without buffering them.

    ``render`` builds the response body from (limit, request id); the app passes the error
    envelope, the AI service its own error shape."""

    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str], int],
        render: Callable[[int, str | None], bytes] = envelope_413,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.render = render

    async def _reject(self, scope: Scope, send: Send, limit: int) -> None:
        state = scope.get("state") or {}
        body = self.render(limit, state.get("request_id"))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = declared_length(scope)
        if length is not None and (length < 0 or length > limit):
            await self._reject(scope, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, send, limit)


def app_body_limit(auth_limit: int, default_limit: int) -> Callable[[str], int]:
    def limit_for(path: str) -> int:
        return auth_limit if path.startswith(AUTH_PREFIX) else default_limit

    return limit_for
