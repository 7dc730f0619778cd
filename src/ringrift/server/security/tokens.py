"""Access JWTs (HS256, header ``kid``) and opaque refresh tokens.

Access token claims: ``sub`` (user id), ``iat``, ``exp``, ``iss``, ``aud``, ``tv`` (the user's
token version), ``type`` = ``"access"`` and ``jti``. Verification maps every failure to a precise
error code: expired -> ``AUTH_TOKEN_EXPIRED``; anything else (bad signature, unknown kid, wrong
algorithm, ``alg: none``, wrong issuer/audience/type, malformed claims) -> ``AUTH_TOKEN_INVALID``.

Refresh tokens are 256-bit random strings; only their digest is stored: HMAC-SHA256 keyed with the
refresh secret when one is configured, plain SHA-256 otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.security.keyring import Keyring

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
# Instances pick up a rotated keyring within a few seconds (file poll, Redis message); tokens
# they sign with the old key meanwhile stay valid.
RETIREMENT_SKEW_SECONDS = 10


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    token_version: int
    issued_at: int
    expires_at: int
    kid: str


class TokenService:
    def __init__(self, keyring: Keyring, issuer: str, audience: str, access_ttl: int) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl

    def issue_access(self, user_id: str, token_version: int, now: float | None = None) -> str:
        keyset = self.keyring.keyset
        issued = int(now if now is not None else time.time())
        payload: dict[str, Any] = {
            "sub": user_id,
            "iat": issued,
            "exp": issued + self.access_ttl,
            "iss": self.issuer,
            "aud": self.audience,
            "tv": token_version,
            "type": ACCESS_TYPE,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            payload,
            keyset.active_secret,
            algorithm=ALGORITHM,
            headers={"kid": keyset.active_kid},
        )

    def verify_access(self, token: str) -> AccessClaims:
        invalid = ApiError(ErrorCode.AUTH_TOKEN_INVALID)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid from None
        if header.get("alg") != ALGORITHM:
            raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token algorithm is not accepted")
        kid = header.get("kid")
        keyset = self.keyring.keyset
        if not isinstance(kid, str) or kid not in keyset.keys:
            raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token was signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                keyset.keys[kid],
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["sub", "iat", "exp", "iss", "aud", "tv", "type"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(ErrorCode.AUTH_TOKEN_EXPIRED) from None
        except jwt.PyJWTError:
            raise invalid from None
        if claims.get("type") != ACCESS_TYPE:
            raise ApiError(ErrorCode.AUTH_TOKEN_INVALID, "Token is not an access token")
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise invalid
        if expires - issued > self.access_ttl:
            raise ApiError(
                ErrorCode.AUTH_TOKEN_INVALID, "Token lifetime exceeds the configured maximum"
            )
        retired = keyset.retired_at.get(kid) if kid != keyset.active_kid else None
        if retired is not None and issued > retired + RETIREMENT_SKEW_SECONDS:
            raise ApiError(
                ErrorCode.AUTH_TOKEN_INVALID, "Token was signed with a retired key after retirement"
            )
        sub, tv = claims.get("sub"), claims.get("tv")
        if not isinstance(sub, str) or not sub or not isinstance(tv, int) or isinstance(tv, bool):
            raise invalid
        return AccessClaims(
            user_id=sub,
            token_version=tv,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            kid=kid,
        )

    # Refresh tokens -----------------------------------------------------------------------

    @staticmethod
    def new_refresh_token() -> str:
        return secrets.token_urlsafe(32)

    def successor_refresh_token(self, token: str) -> str:
        """The token that replaces ``token`` at rotation, derived from it with a server key:
        presenting ``token`` again within the reuse interval yields the same successor (two tabs
        refreshing at once both end up with it) without storing any token in the clear."""
        keyset = self.keyring.keyset
        key = keyset.refresh_secret or keyset.active_secret
        digest = hmac.new(key, b"refresh-successor\x00" + token.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")

    def refresh_digest(self, token: str) -> str:
        pepper = self.keyring.keyset.refresh_secret
        if pepper:
            return hmac.new(pepper, token.encode(), hashlib.sha256).hexdigest()
        return hashlib.sha256(token.encode()).hexdigest()
