"""Request and response models of the account, admin and report routes (camelCase on the
wire). Responses are typed so the OpenAPI document describes them."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from ringrift.server.api.schemas import Email, _check_email
from ringrift.server.db.vocab import ReportStatus, UserRole

T = TypeVar("T")

# Token strings as mailed: 32 random bytes in URL-safe base64 are 43 characters.
AccountTokenStr = Annotated[
    str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NewPassword = Annotated[str, StringConstraints(min_length=1, max_length=128)]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Envelope(BaseModel, Generic[T]):
    success: Literal[True] = True
    data: T


class ErrorBody(Out):
    code: str
    message: str
    details: Any = None
    request_id: str


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error envelope (codes from ``ringrift.server.errors``)."""
    meaning = {
        400: "Validation failed or the request cannot be carried out (see error.code)",
        401: "Authentication required, or the token is invalid",
        403: "Not allowed (role, ban, wrong password, unverified email)",
        404: "No such user",
        409: "Conflict with the current state",
        429: "Rate limited; see Retry-After",
    }
    return {s: {"model": ErrorEnvelope, "description": meaning[s]} for s in statuses}


# --- requests -----------------------------------------------------------------------------


class PasswordResetRequest(Model):
    email: Email

    _email = field_validator("email")(_check_email)


class PasswordResetConfirm(Model):
    token: AccountTokenStr
    new_password: NewPassword


class VerifyEmailRequest(Model):
    token: AccountTokenStr


class PasswordChangeRequest(Model):
    current_password: Password
    new_password: NewPassword


class DeleteAccountRequest(Model):
    password: Password


class ReportRequest(Model):
    user_id: UserId
    reason: Reason


class RoleRequest(Model):
    role: UserRole


class MuteRequest(Model):
    # 0 lifts a mute; at most 30 days.
    minutes: Annotated[int, Field(ge=0, le=30 * 24 * 60, strict=True)]


class BanRequest(Model):
    reason: Annotated[str, StringConstraints(min_length=3, max_length=500, strip_whitespace=True)]


# --- responses ----------------------------------------------------------------------------


class UserOut(Out):
    id: str
    username: str
    rating: float
    rated_games: int
    games_played: int
    wins: int
    losses: int
    draws: int
    created_at: str
    email: str
    last_login_at: str | None
    email_verified: bool
    role: UserRole


class SessionOut(Out):
    user: UserOut
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"


class AcceptedOut(Out):
    accepted: Literal[True] = True
    message: str


class DoneOut(Out):
    done: Literal[True] = True


class VerifiedOut(Out):
    user: UserOut


class ExportOut(Out):
    exported_at: str
    profile: dict[str, Any]
    games: list[dict[str, Any]]
    rating_history: list[dict[str, Any]]
    reports_filed: list[dict[str, Any]]
    chat_messages: list[dict[str, Any]]


class AdminUserOut(Out):
    id: str
    username: str
    email: str
    role: UserRole
    email_verified: bool
    banned: bool
    banned_at: str | None
    ban_reason: str | None
    chat_muted_until: str | None = None


class ReportedMessageOut(Out):
    id: str
    game_id: str
    channel: str
    seq: int
    # The text as posted (kept after a moderator's removal); null once the author deleted
    # their account.
    body: str | None
    created_at: str
    removed_at: str | None


class ReportOut(Out):
    id: str
    reporter_id: str | None
    reporter_username: str | None
    user_id: str
    username: str
    reason: str
    status: ReportStatus
    created_at: str
    # Set when the report is about a chat message.
    chat_message: ReportedMessageOut | None = None


class ReportPage(Out):
    reports: list[ReportOut]
    total: int
    limit: int
    offset: int
    # Kept so clients can tell the filter that produced the page.
    status: ReportStatus | None = Field(default=None)
