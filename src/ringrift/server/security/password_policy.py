"""The one place that decides whether a new password is acceptable.

Every route that sets a password (register, password change, password reset) calls
:func:`check_new_password`: at least ``MIN_LENGTH`` characters, at most ``MAX_LENGTH``, and a
zxcvbn strength estimate of at least ``MIN_PASSWORD_SCORE`` (the user's email and name count as
known words); see ``security/passwords.py``.
"""

from __future__ import annotations

from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.security.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    MIN_PASSWORD_SCORE,
    password_problem,
)

MIN_LENGTH = MIN_PASSWORD_LENGTH
MAX_LENGTH = MAX_PASSWORD_LENGTH


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
    problem = password_problem(password, [email, username])
    if problem:
        raise ApiError(
            ErrorCode.AUTH_PASSWORD_WEAK,
            f"Password {problem}",
            details={"reason": "too_guessable", "minScore": MIN_PASSWORD_SCORE},
        )
