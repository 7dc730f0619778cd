"""The one place that decides whether a new password is acceptable.

Every route that sets a password (register, password change, password reset) calls
:func:`check_new_password`. Today it enforces the length bounds; a strength estimator plugs in
here without touching the routes.
"""

from __future__ import annotations

from ringrift.server.errors import ApiError, ErrorCode

MIN_LENGTH = 8
MAX_LENGTH = 128


def check_new_password(password: str, *, email: str, username: str) -> None:
    """Raise 400 ``AUTH_PASSWORD_WEAK`` (saying why) when ``password`` may not be set."""
    if len(password) < MIN_LENGTH:
        raise ApiError(
            ErrorCode.AUTH_PASSWORD_WEAK,
            f"Password must be at least {MIN_LENGTH} characters long",
            details={"reason": "too_short", "minLength": MIN_LENGTH},
        )
    if len(password) > MAX_LENGTH:
        raise ApiError(
            ErrorCode.AUTH_PASSWORD_WEAK,
            f"Password must be at most {MAX_LENGTH} characters long",
            details={"reason": "too_long", "maxLength": MAX_LENGTH},
        )
