"""Request bodies (camelCase on the wire) with their validation rules."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ringrift.rules import BOARD_TYPES
from ringrift.server.security.passwords import MAX_PASSWORD_LENGTH

EMAIL_RE = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$"
)

BoardType = Literal["square8", "square19", "hex8", "hexagonal"]
assert set(BoardType.__args__) == set(BOARD_TYPES)  # type: ignore[attr-defined]

MAX_SEED = 2**31 - 1


class Body(BaseModel):
    # Strict: JSON types must match ("2" is not a number, "yes" or 1 is not a boolean).
    model_config = ConfigDict(populate_by_name=True, str_strip_whitespace=False, strict=True)


Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]


def _check_email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise ValueError("must be a valid email address")
    return value


class RegisterRequest(Body):
    email: Email
    username: Annotated[
        str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    ]
    # Length bounds here; strength (10+ characters, zxcvbn) is security/password_policy.py's,
    # answered as AUTH_PASSWORD_WEAK like for password change and reset.
    password: Annotated[str, StringConstraints(min_length=8, max_length=MAX_PASSWORD_LENGTH)]

    _email = field_validator("email")(_check_email)


class LoginRequest(Body):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshRequest(Body):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(
        alias="refreshToken"
    )


class AiOpponents(Body):
    count: int = Field(ge=0, le=3)
    difficulty: list[Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _levels(self) -> AiOpponents:
        if self.count and len(self.difficulty) == 1 and self.count > 1:
            self.difficulty = self.difficulty * self.count
        if self.count and not self.difficulty:
            raise ValueError("difficulty must give a level (1-10) for each AI opponent")
        if len(self.difficulty) != self.count:
            raise ValueError("difficulty must list one level per AI opponent (or a single level)")
        return self


class TimeControl(Body):
    """The shape of a time control; its ranges (and whether the game may be untimed) are
    checked by the game service (422 ``GAME_TIME_CONTROL_INVALID``)."""

    kind: Literal["fischer", "correspondence", "untimed"] | None = None
    initial_seconds: int | None = Field(default=None, alias="initialSeconds")
    increment_seconds: int | None = Field(default=None, alias="incrementSeconds")
    days_per_move: int | None = Field(default=None, alias="daysPerMove")


# A lobby preset by name (``"3+2"``, ``"1 day"``, ``"untimed"``).
TimeControlName = Annotated[str, StringConstraints(min_length=1, max_length=16)]


RuleOptionValue = int | bool | str | None
OptionKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CreateGameRequest(Body):
    board_type: BoardType = Field(alias="boardType")
    max_players: int = Field(default=2, alias="maxPlayers", ge=2, le=4)
    is_rated: bool = Field(default=True, alias="isRated")
    is_private: bool = Field(default=False, alias="isPrivate")
    ai_opponents: AiOpponents | None = Field(default=None, alias="aiOpponents")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    time_control: TimeControl | TimeControlName | None = Field(default=None, alias="timeControl")
    rules_options: (
        dict[Annotated[str, StringConstraints(max_length=64)], RuleOptionValue] | None
    ) = Field(default=None, alias="rulesOptions", max_length=16)

    @field_validator("rules_options")
    @classmethod
    def _no_nul(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            for key, item in value.items():
                if "\x00" in key or (isinstance(item, str) and ("\x00" in item or len(item) > 256)):
                    raise ValueError("rule option keys and values must be short plain strings")
        return value


class MoveRequest(Body):
    move: dict[str, Any]
    version: int = Field(ge=0, le=10_000_000)
