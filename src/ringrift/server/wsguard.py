"""Authentication of open WebSockets after the handshake, and the per-user socket cap.

A socket stays tied to the access token it authenticated with. It is closed with
``CLOSE_AUTH`` (4401) when that token stops being valid:

* ``logout-all`` (token-version bump) on this instance: at once (:meth:`SocketGuard.revoke_user`);
  on another instance, or any other token-version bump, at the next sweep;
* an immediate key rotation (the token's ``kid`` left the keyring): at the next sweep, and a
  keyring reload triggers a sweep;
* expiry: the socket gets an ``error`` frame ``AUTH_TOKEN_EXPIRED`` with
  ``details.reauthWithinSeconds``; an ``auth {token}`` frame with a fresh access token of the same
  user within that time keeps it open, otherwise it is closed.

Sweeps run every ``WS_AUTH_CHECK_SECONDS`` and read every connected user's token version in one
query. Frames that act (``join``, ``move``, ``chat`` ...) are checked before they are served
(signature, key, expiry and token version), so no move is acknowledged on a socket whose token
REST rejects; a ``move`` reads the token version in the same statement that loads its game.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NoReturn, Protocol

from sqlalchemy import select

from ringrift.server.context import AppContext
from ringrift.server.db.models import User
from ringrift.server.errors import ApiError, ErrorCode, TokenRevoked
from ringrift.server.security.keyring import KeySet
from ringrift.server.security.tokens import AccessClaims

log = logging.getLogger(__name__)


class CloseCode(IntEnum):
    """Application close codes (4000-4999) the client acts upon."""

    AUTH = 4401  # the token is no longer valid: refresh it and reconnect
    TOO_MANY_SOCKETS = 4429  # the user has too many open sockets: close another one first


class GuardedSocket(Protocol):
    """What the guard needs from a realtime connection."""

    id: int

    @property
    def user_id(self) -> str: ...

    async def send_error(
        self, code: ErrorCode, message: str, details: Any = None, ack: Any = None
    ) -> None: ...

    async def close_socket(self, code: int, reason: str) -> None: ...


@dataclass
class SocketAuth:
    token: str
    claims: AccessClaims
    # The keyring key set the token was last verified against: while it is still the live one
    # (no reload since), the signature, key and lifetime checks cannot change their answer and
    # only the expiry is checked again.
    keyset: KeySet | None = None
    expiry_notice_deadline: float | None = None  # monotonic time to close by, once warned
    closed: bool = False


@dataclass
class SocketGuard:
    ctx: AppContext
    sockets: dict[GuardedSocket, SocketAuth] = field(default_factory=dict)
    by_user: dict[str, set[GuardedSocket]] = field(default_factory=lambda: defaultdict(set))
    _wake: asyncio.Event | None = None

    # -- registry ---------------------------------------------------------------------------

    async def attach(self, conn: GuardedSocket, token: str) -> bool:
        """Register an authenticated socket; False (and the socket closed) over the cap."""
        keyset = self.ctx.tokens.keyring.keyset
        claims = self.ctx.tokens.verify_access(token)
        limit = self.ctx.settings.ws_max_sockets_per_user
        if limit and len(self.by_user[conn.user_id]) >= limit:
            await conn.send_error(
                ErrorCode.RATE_LIMIT_EXCEEDED,
                f"Too many open sockets for this user (at most {limit}); close another first",
                {"limit": limit},
            )
            await conn.close_socket(CloseCode.TOO_MANY_SOCKETS, "too many sockets")
            return False
        self.sockets[conn] = SocketAuth(token, claims, keyset)
        self.by_user[conn.user_id].add(conn)
        return True

    def detach(self, conn: GuardedSocket) -> None:
        self.sockets.pop(conn, None)
        peers = self.by_user.get(conn.user_id)
        if peers is not None:
            peers.discard(conn)
            if not peers:
                self.by_user.pop(conn.user_id, None)

    # -- checks -----------------------------------------------------------------------------

    async def verified_claims(self, conn: GuardedSocket) -> AccessClaims:
        """The claims of the socket's token after the checks that need no database (signature,
        key, expiry): raise ``ApiError`` when they fail, closing the socket unless the token
        merely expired (a fresh one may still come in-band). The token version is left to the
        caller: :meth:`ensure_valid`, or a move's own transaction (``token_version``)."""
        auth = self.sockets.get(conn)
        if auth is None:
            raise ApiError(ErrorCode.AUTH_REQUIRED)
        try:
            return self._verify(auth)
        except ApiError as error:
            if error.code != ErrorCode.AUTH_TOKEN_EXPIRED:
                await self._close(conn, auth, error.code, error.message)
            raise

    def _verify(self, auth: SocketAuth) -> AccessClaims:
        """``verify_access`` of the socket's token, without the signature when the key set it
        was verified against is still the live one (a reload, such as a rotation, checks it
        all again)."""
        keyset = self.ctx.tokens.keyring.keyset
        if auth.keyset is keyset:
            if auth.claims.expires_at <= time.time():  # PyJWT's rule: expired at exp
                raise ApiError(ErrorCode.AUTH_TOKEN_EXPIRED)
            return auth.claims
        claims = self.ctx.tokens.verify_access(auth.token)
        auth.claims, auth.keyset = claims, keyset
        return claims

    async def ensure_valid(self, conn: GuardedSocket) -> None:
        """Before serving a frame: raise ``ApiError`` (the frame is refused) when the socket's
        token no longer authenticates its user; close the socket when it never will again
        (revoked or unknown key)."""
        claims = await self.verified_claims(conn)
        async with self.ctx.db.session() as session:
            version = await session.scalar(
                select(User.token_version).where(User.id == claims.user_id)
            )
        if version != claims.token_version:
            await self.refuse_revoked(conn)

    async def refuse_revoked(self, conn: GuardedSocket) -> NoReturn:
        """The socket's token was revoked (its user's token version moved on): close the
        socket and refuse the frame."""
        auth = self.sockets.get(conn)
        if auth is not None:
            await self._close_revoked(conn, auth)
        raise TokenRevoked

    async def reauth(self, conn: GuardedSocket, data: dict[str, Any]) -> None:
        """An ``auth {token}`` frame on an open socket: adopt a fresh token of the same user."""
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(
                ErrorCode.VALIDATION_FAILED,
                "auth needs a token",
                details=[{"field": "token", "reason": "required string"}],
            )
        keyset = self.ctx.tokens.keyring.keyset
        claims = self.ctx.tokens.verify_access(token)
        if claims.user_id != conn.user_id:
            raise ApiError(ErrorCode.AUTH_FORBIDDEN, "The token belongs to another user")
        async with self.ctx.db.session() as session:
            version = await session.scalar(
                select(User.token_version).where(User.id == claims.user_id)
            )
        if version != claims.token_version:
            raise TokenRevoked
        auth = self.sockets.get(conn)
        if auth is not None:
            auth.token, auth.claims, auth.keyset = token, claims, keyset
            auth.expiry_notice_deadline = None

    async def revoke_user(self, user_id: str) -> int:
        """Close every socket of ``user_id`` on this instance now (after logout-all)."""
        conns = list(self.by_user.get(user_id, ()))
        for conn in conns:
            auth = self.sockets.get(conn)
            if auth is not None:
                await self._close_revoked(conn, auth)
        return len(conns)

    def sweep_soon(self) -> None:
        """Run a sweep now (after a keyring reload)."""
        if self._wake is not None:
            self._wake.set()

    async def sweep(self) -> None:
        now = time.time()
        grace = self.ctx.settings.ws_reauth_grace_seconds
        versions: dict[str, int] = {}
        user_ids = list(self.by_user)
        if user_ids:
            async with self.ctx.db.session() as session:
                for start in range(0, len(user_ids), 500):
                    rows = await session.execute(
                        select(User.id, User.token_version).where(
                            User.id.in_(user_ids[start : start + 500])
                        )
                    )
                    versions.update({row[0]: int(row[1]) for row in rows})
        read = set(user_ids)
        for conn, auth in list(self.sockets.items()):
            if auth.closed:
                continue
            if conn.user_id not in read:
                # The user's first socket arrived while the query ran: it authenticated just
                # now and is checked at the next sweep. Taking the missing row for a revoked
                # token closed whole bursts of reconnecting sockets (after an instance died).
                continue
            if versions.get(conn.user_id) != auth.claims.token_version:
                await self._close_revoked(conn, auth)
                continue
            try:
                self._verify(auth)
            except ApiError as error:
                if error.code != ErrorCode.AUTH_TOKEN_EXPIRED:
                    await self._close(conn, auth, error.code, error.message)
                    continue
            if auth.claims.expires_at > now:
                continue
            if auth.expiry_notice_deadline is None:
                auth.expiry_notice_deadline = time.monotonic() + grace
                with contextlib.suppress(Exception):
                    await conn.send_error(
                        ErrorCode.AUTH_TOKEN_EXPIRED,
                        "Access token has expired; send an auth frame with a fresh token",
                        {"reauthWithinSeconds": grace},
                    )
            elif time.monotonic() >= auth.expiry_notice_deadline:
                await self._close(
                    conn, auth, ErrorCode.AUTH_TOKEN_EXPIRED, "Access token has expired"
                )

    async def run(self) -> None:
        """Sweep every ``WS_AUTH_CHECK_SECONDS`` (and when woken) until cancelled."""
        self._wake = asyncio.Event()
        interval = self.ctx.settings.ws_auth_check_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if not self.sockets:
                continue
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # database down: try again at the next sweep
                log.warning("websocket auth sweep failed", extra={"detail": str(error)[:300]})

    async def _close_revoked(self, conn: GuardedSocket, auth: SocketAuth) -> None:
        revoked = TokenRevoked()
        await self._close(conn, auth, revoked.code, revoked.message)

    async def _close(
        self, conn: GuardedSocket, auth: SocketAuth, code: ErrorCode, message: str
    ) -> None:
        if auth.closed:
            return
        auth.closed = True
        with contextlib.suppress(Exception):
            await conn.send_error(code, message)
        with contextlib.suppress(Exception):
            await conn.close_socket(CloseCode.AUTH, json.dumps(code.value)[1:-1])
