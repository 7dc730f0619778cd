"""argon2id password hashing (run off the event loop by the callers)."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# zxcvbn scores 0-4; 3 = "safely unguessable: moderate protection from offline slow-hash
# scenario" (about 10^8 guesses or more), which argon2id makes expensive.
MIN_PASSWORD_SCORE = 3


def password_problem(password: str, user_inputs: Sequence[str] = ()) -> str | None:
    """Why ``password`` is too weak (length, then the zxcvbn estimate with the user's own email
    and name as known words), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    inputs = [item for item in user_inputs if item]
    inputs += [part for item in inputs for part in item.replace("@", " ").split()]
    result = zxcvbn(password[:MAX_PASSWORD_LENGTH], user_inputs=inputs)
    score = int(result["score"])
    if score >= MIN_PASSWORD_SCORE:
        return None
    feedback = result.get("feedback") or {}
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    why = " ".join(hint.strip() for hint in hints if hint and hint.strip())
    message = (
        f"is too easy to guess (strength {score} of 4, at least {MIN_PASSWORD_SCORE} is needed)"
    )
    return f"{message}: {why}" if why else message


class Passwords:
    def __init__(self, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            type=Type.ID,
        )
        # Verified against unknown emails so a login for a missing account costs the same.
        self._dummy_hash = self._hasher.hash("ringrift-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
