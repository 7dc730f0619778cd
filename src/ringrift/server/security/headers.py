"""Security headers for every HTTP response, and redirects that never reflect ``Host``."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The web client is one page with an external script and stylesheet under /static. Scripts:
# only files from this origin (no inline <script>, no on*= handlers, no eval). Styles: files from
# this origin, plus style="..." attributes, which the client still sets on board cells and seat
# markers (CSS injection through an attribute cannot run script); move them to classes and
# drop 'style-src-attr' to tighten. Everything it talks to is this origin (REST and WebSocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response (API answers and the web client), and
    answer redirects with a relative ``Location`` so a forged ``Host`` is never reflected."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers") or []}
                headers: list[Any] = [
                    (name, _relative_location(value))
                    if name.lower() == b"location"
                    else (name, value)
                    for name, value in message.get("headers") or []
                ]
                headers.extend(item for item in SECURITY_HEADERS if item[0] not in names)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative_location(value: bytes) -> bytes:
    """``http://evil.example/api/x/`` -> ``/api/x/``: our redirects never leave the origin."""
    text = value.decode("latin-1")
    if "://" in text:
        rest = text.split("://", 1)[1]
        slash = rest.find("/")
        text = rest[slash:] if slash >= 0 else "/"
    elif text.startswith("//"):
        rest = text[2:]
        slash = rest.find("/")
        text = rest[slash:] if slash >= 0 else "/"
    return text.encode("latin-1")
