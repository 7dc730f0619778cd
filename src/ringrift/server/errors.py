"""The error envelope and the fixed error-code catalogue of the App API.

Every error the app returns has the shape
``{"success": false, "error": {"code", "message", "details"?, "requestId"}}``.

Choices made where the catalogue leaves room:

* request validation failures (bad JSON, wrong types, out-of-range values, unknown query values)
  are **400** ``VALIDATION_FAILED`` with the per-field problems in ``details``;
* an unknown route is 404 ``RESOURCE_NOT_FOUND``; a known route with the wrong method is
  **405** ``RESOURCE_NOT_FOUND`` (the operation does not exist) with an ``Allow`` header;
* anything unexpected is 500 ``SERVER_INTERNAL_ERROR`` with no internals in the body (the stack
  trace goes to the server log under the same request id).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    AUTH_INVALID_CREDENTIALS = "AUTH_INVALID_CREDENTIALS"
    AUTH_TOKEN_INVALID = "AUTH_TOKEN_INVALID"
    AUTH_TOKEN_EXPIRED = "AUTH_TOKEN_EXPIRED"
    AUTH_REFRESH_TOKEN_INVALID = "AUTH_REFRESH_TOKEN_INVALID"
    AUTH_REFRESH_TOKEN_EXPIRED = "AUTH_REFRESH_TOKEN_EXPIRED"
    AUTH_REFRESH_TOKEN_REUSED = "AUTH_REFRESH_TOKEN_REUSED"
    AUTH_REQUIRED = "AUTH_REQUIRED"
    AUTH_FORBIDDEN = "AUTH_FORBIDDEN"
    AUTH_LOGIN_LOCKED_OUT = "AUTH_LOGIN_LOCKED_OUT"
    AUTH_ACCOUNT_BANNED = "AUTH_ACCOUNT_BANNED"
    AUTH_PASSWORD_WEAK = "AUTH_PASSWORD_WEAK"
    AUTH_ACCOUNT_TOKEN_INVALID = "AUTH_ACCOUNT_TOKEN_INVALID"
    AUTH_EMAIL_NOT_VERIFIED = "AUTH_EMAIL_NOT_VERIFIED"
    AUTH_EMAIL_ALREADY_VERIFIED = "AUTH_EMAIL_ALREADY_VERIFIED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    RESOURCE_EMAIL_EXISTS = "RESOURCE_EMAIL_EXISTS"
    RESOURCE_USERNAME_EXISTS = "RESOURCE_USERNAME_EXISTS"
    RESOURCE_ACCESS_DENIED = "RESOURCE_ACCESS_DENIED"
    RESOURCE_USER_NOT_FOUND = "RESOURCE_USER_NOT_FOUND"
    GAME_NOT_FOUND = "GAME_NOT_FOUND"
    GAME_NOT_JOINABLE = "GAME_NOT_JOINABLE"
    GAME_FULL = "GAME_FULL"
    GAME_ALREADY_JOINED = "GAME_ALREADY_JOINED"
    GAME_INVALID_MOVE = "GAME_INVALID_MOVE"
    GAME_NOT_YOUR_TURN = "GAME_NOT_YOUR_TURN"
    GAME_ALREADY_ENDED = "GAME_ALREADY_ENDED"
    GAME_VERSION_CONFLICT = "GAME_VERSION_CONFLICT"
    GAME_TIME_OUT = "GAME_TIME_OUT"
    GAME_TIME_CONTROL_INVALID = "GAME_TIME_CONTROL_INVALID"
    GAME_UNTIMED_NOT_ALLOWED = "GAME_UNTIMED_NOT_ALLOWED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    SERVER_DATABASE_UNAVAILABLE = "SERVER_DATABASE_UNAVAILABLE"
    SERVER_INTERNAL_ERROR = "SERVER_INTERNAL_ERROR"
    AI_SERVICE_UNAVAILABLE = "AI_SERVICE_UNAVAILABLE"
    MATCHMAKING_NOT_QUEUED = "MATCHMAKING_NOT_QUEUED"
    MATCHMAKING_ALREADY_MATCHED = "MATCHMAKING_ALREADY_MATCHED"
    GAME_CLAIM_NOT_ALLOWED = "GAME_CLAIM_NOT_ALLOWED"
    GAME_OPPONENT_PRESENT = "GAME_OPPONENT_PRESENT"
    GAME_CLAIM_TOO_EARLY = "GAME_CLAIM_TOO_EARLY"
    GAME_ABORT_NOT_ALLOWED = "GAME_ABORT_NOT_ALLOWED"
    SERVER_PRESENCE_UNAVAILABLE = "SERVER_PRESENCE_UNAVAILABLE"
    GAME_INVITE_INVALID = "GAME_INVITE_INVALID"
    REMATCH_UNAVAILABLE = "REMATCH_UNAVAILABLE"
    REMATCH_NOT_OFFERED = "REMATCH_NOT_OFFERED"
    REMATCH_ALREADY_ACCEPTED = "REMATCH_ALREADY_ACCEPTED"
    REMATCH_DECLINED = "REMATCH_DECLINED"
    REMATCH_ALREADY_CREATED = "REMATCH_ALREADY_CREATED"
    CHAT_MUTED = "CHAT_MUTED"
    CHAT_CHANNEL_FORBIDDEN = "CHAT_CHANNEL_FORBIDDEN"
    CHAT_MESSAGE_NOT_FOUND = "CHAT_MESSAGE_NOT_FOUND"


# Default HTTP status and message for each code.
_DEFAULTS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.AUTH_INVALID_CREDENTIALS: (401, "Invalid email or password"),
    ErrorCode.AUTH_TOKEN_INVALID: (401, "Access token is invalid"),
    ErrorCode.AUTH_TOKEN_EXPIRED: (401, "Access token has expired"),
    ErrorCode.AUTH_REFRESH_TOKEN_INVALID: (401, "Refresh token is invalid"),
    ErrorCode.AUTH_REFRESH_TOKEN_EXPIRED: (401, "Refresh token has expired"),
    ErrorCode.AUTH_REFRESH_TOKEN_REUSED: (
        401,
        "Refresh token was already used; all sessions of this login were revoked",
    ),
    ErrorCode.AUTH_REQUIRED: (401, "Authentication required"),
    ErrorCode.AUTH_FORBIDDEN: (403, "Not allowed"),
    ErrorCode.AUTH_LOGIN_LOCKED_OUT: (429, "Too many failed logins; try again later"),
    ErrorCode.AUTH_ACCOUNT_BANNED: (403, "This account is banned"),
    ErrorCode.AUTH_PASSWORD_WEAK: (400, "Password is too weak"),
    ErrorCode.AUTH_ACCOUNT_TOKEN_INVALID: (
        400,
        "This link is invalid, expired or already used; request a new one",
    ),
    ErrorCode.AUTH_EMAIL_NOT_VERIFIED: (
        403,
        "Verify your email address first: unverified accounts play unrated games only",
    ),
    ErrorCode.AUTH_EMAIL_ALREADY_VERIFIED: (409, "Email address is already verified"),
    ErrorCode.VALIDATION_FAILED: (400, "Request validation failed"),
    ErrorCode.RESOURCE_NOT_FOUND: (404, "Resource not found"),
    ErrorCode.RESOURCE_EMAIL_EXISTS: (409, "Email is already registered"),
    ErrorCode.RESOURCE_USERNAME_EXISTS: (409, "Username is already taken"),
    ErrorCode.RESOURCE_ACCESS_DENIED: (403, "Access to this resource is denied"),
    ErrorCode.RESOURCE_USER_NOT_FOUND: (404, "User not found"),
    ErrorCode.GAME_NOT_FOUND: (404, "Game not found"),
    ErrorCode.GAME_NOT_JOINABLE: (400, "Game cannot be joined"),
    ErrorCode.GAME_FULL: (409, "Game is full"),
    ErrorCode.GAME_ALREADY_JOINED: (409, "Already joined this game"),
    ErrorCode.GAME_INVALID_MOVE: (400, "Invalid move"),
    ErrorCode.GAME_NOT_YOUR_TURN: (400, "It is not your turn"),
    ErrorCode.GAME_ALREADY_ENDED: (400, "Game has already ended"),
    ErrorCode.GAME_VERSION_CONFLICT: (409, "Game version conflict; reload the game"),
    ErrorCode.GAME_TIME_OUT: (409, "Your time ran out; the move was not played"),
    ErrorCode.GAME_TIME_CONTROL_INVALID: (422, "The time control is malformed or out of range"),
    ErrorCode.GAME_UNTIMED_NOT_ALLOWED: (
        422,
        "Untimed games are for play against AI only; pick a time control",
    ),
    ErrorCode.RATE_LIMIT_EXCEEDED: (429, "Too many requests"),
    ErrorCode.SERVER_DATABASE_UNAVAILABLE: (503, "Database is unavailable"),
    ErrorCode.SERVER_INTERNAL_ERROR: (500, "Internal server error"),
    ErrorCode.AI_SERVICE_UNAVAILABLE: (503, "AI service is unavailable"),
    ErrorCode.MATCHMAKING_NOT_QUEUED: (404, "You are not waiting for an opponent"),
    ErrorCode.MATCHMAKING_ALREADY_MATCHED: (
        409,
        "An opponent was already found; the game has started",
    ),
    ErrorCode.GAME_CLAIM_NOT_ALLOWED: (
        409,
        "A win can be claimed only in a 2-player game with a Fischer clock",
    ),
    ErrorCode.GAME_OPPONENT_PRESENT: (409, "Your opponent is connected; there is nothing to claim"),
    ErrorCode.GAME_CLAIM_TOO_EARLY: (409, "Your opponent may still come back; wait for the grace"),
    ErrorCode.GAME_ABORT_NOT_ALLOWED: (
        409,
        "Every seat has moved; the game can no longer be aborted (resign instead)",
    ),
    ErrorCode.SERVER_PRESENCE_UNAVAILABLE: (
        503,
        "Who is connected cannot be checked right now (Redis is unavailable); try again soon",
    ),
    ErrorCode.GAME_INVITE_INVALID: (403, "This invite link is not valid for this game"),
    ErrorCode.REMATCH_UNAVAILABLE: (409, "A rematch is only possible after a finished game"),
    ErrorCode.REMATCH_NOT_OFFERED: (404, "Nobody has offered a rematch of this game"),
    ErrorCode.REMATCH_ALREADY_ACCEPTED: (409, "You already accepted this rematch"),
    ErrorCode.REMATCH_DECLINED: (409, "The rematch was declined"),
    ErrorCode.REMATCH_ALREADY_CREATED: (409, "The rematch has already started"),
    ErrorCode.CHAT_MUTED: (403, "You are muted in chat"),
    ErrorCode.CHAT_CHANNEL_FORBIDDEN: (403, "You cannot use this chat channel"),
    ErrorCode.CHAT_MESSAGE_NOT_FOUND: (404, "Chat message not found"),
}


def default_status(code: ErrorCode) -> int:
    return _DEFAULTS[code][0]


def default_message(code: ErrorCode) -> str:
    return _DEFAULTS[code][1]


class ApiError(Exception):
    """An error with a catalogue code; rendered as the error envelope by the app."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message or default_message(code)
        self.status = status or default_status(code)
        self.details = details
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")


class TokenRevoked(ApiError):
    """The token's version is no longer its user's (logout-all, a password change, an
    administrator's revocation): refused by REST and WebSocket alike."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.AUTH_TOKEN_INVALID, "Token has been revoked")


def error_body(
    code: ErrorCode | str,
    message: str,
    request_id: str | None,
    details: Any = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": str(code), "message": message}
    if details is not None:
        error["details"] = details
    error["requestId"] = request_id or ""
    return {"success": False, "error": error}
