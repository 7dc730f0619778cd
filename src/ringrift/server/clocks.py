"""Game clocks: time controls, the lobby presets, and the arithmetic of a running clock.

Pure values, no I/O and no reading of the wall clock: every operation takes ``now_ms`` (epoch
milliseconds) from the caller, so the server charges time inside a move's transaction with the
timestamp it commits, and tests state time explicitly.

* **Fischer** (``initialSeconds + incrementSeconds``): each seat has a bank; the seat to move
  spends from it from the commit of the previous move, and gets the increment back once per
  turn, when its turn ends (a RingRift turn is several moves: placement, movement, captures,
  line and territory decisions). At zero the seat's flag falls.
* **Correspondence** (``daysPerMove``): each move must come within that many days; the bank is
  refilled on every move, so the deadline is per move.
* **Untimed**: no clock; the platform allows it only for games without a human opponent.

Moves the server plays on a seat's behalf (bookkeeping moves of a human) are charged nothing:
``Clocks.pass_turn(..., charge=False)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

DAY_MS = 86_400_000
MAX_INITIAL_SECONDS = 3 * 3600
MAX_INCREMENT_SECONDS = 180
MAX_DAYS_PER_MOVE = 14
AI_TIME_SHARE = 20  # an AI seat spends at most 1/20 of its bank on one move
UNTIMED_LABEL = "untimed"


class TimeControlKind(StrEnum):
    FISCHER = "fischer"
    CORRESPONDENCE = "correspondence"
    UNTIMED = "untimed"


class TimeControlError(ValueError):
    """A time control that is malformed or out of range (the message says which)."""


@dataclass(frozen=True, slots=True)
class TimeControl:
    kind: TimeControlKind
    initial_seconds: int = 0
    increment_seconds: int = 0
    days_per_move: int = 0

    def __post_init__(self) -> None:
        if self.kind is TimeControlKind.FISCHER:
            if not 0 < self.initial_seconds <= MAX_INITIAL_SECONDS:
                raise TimeControlError(
                    f"initialSeconds must be between 1 and {MAX_INITIAL_SECONDS}"
                )
            if not 0 <= self.increment_seconds <= MAX_INCREMENT_SECONDS:
                raise TimeControlError(
                    f"incrementSeconds must be between 0 and {MAX_INCREMENT_SECONDS}"
                )
            if self.days_per_move:
                raise TimeControlError("daysPerMove belongs to correspondence games only")
        elif self.kind is TimeControlKind.CORRESPONDENCE:
            if not 0 < self.days_per_move <= MAX_DAYS_PER_MOVE:
                raise TimeControlError(f"daysPerMove must be between 1 and {MAX_DAYS_PER_MOVE}")
            if self.initial_seconds or self.increment_seconds:
                raise TimeControlError("a correspondence game has no initial or increment time")
        elif self.initial_seconds or self.increment_seconds or self.days_per_move:
            raise TimeControlError("an untimed game has no clock settings")

    @property
    def timed(self) -> bool:
        return self.kind is not TimeControlKind.UNTIMED

    @property
    def bank_ms(self) -> int:
        """A seat's bank at the start (Fischer) or at each move (correspondence)."""
        if self.kind is TimeControlKind.FISCHER:
            return self.initial_seconds * 1000
        if self.kind is TimeControlKind.CORRESPONDENCE:
            return self.days_per_move * DAY_MS
        return 0

    @property
    def label(self) -> str:
        """Short name as the lobby shows it: ``3+2``, ``1 day``, ``untimed``."""
        if self.kind is TimeControlKind.FISCHER:
            minutes = self.initial_seconds / 60
            base = f"{minutes:g}" if minutes >= 1 else f"{self.initial_seconds}s"
            return f"{base}+{self.increment_seconds}"
        if self.kind is TimeControlKind.CORRESPONDENCE:
            return f"{self.days_per_move} day" + ("s" if self.days_per_move > 1 else "")
        return UNTIMED_LABEL

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "label": self.label}
        if self.kind is TimeControlKind.FISCHER:
            out["initialSeconds"] = self.initial_seconds
            out["incrementSeconds"] = self.increment_seconds
        elif self.kind is TimeControlKind.CORRESPONDENCE:
            out["daysPerMove"] = self.days_per_move
        return out

    @classmethod
    def from_json(cls, data: Any) -> TimeControl:
        """Read a stored or requested time control. A preset name (``"3+2"``, or
        ``"untimed"``) is accepted, and so is the round-1 shape ``{initialSeconds,
        incrementSeconds}`` without ``kind``."""
        if data is None:
            return UNTIMED
        if isinstance(data, str):
            if data == UNTIMED_LABEL:
                return UNTIMED
            try:
                return PRESETS[data]
            except KeyError:
                raise TimeControlError(
                    f"unknown preset {data!r}; presets: {', '.join(PRESETS)}"
                ) from None
        if not isinstance(data, dict):
            raise TimeControlError("a time control is an object or a preset name")
        kind_value = data.get("kind")
        if kind_value is None:
            kind_value = "correspondence" if "daysPerMove" in data else "fischer"
        try:
            kind = TimeControlKind(kind_value)
        except ValueError:
            kinds = ", ".join(k.value for k in TimeControlKind)
            raise TimeControlError(f"kind must be one of {kinds}") from None
        values = {}
        for key, field in (
            ("initialSeconds", "initial_seconds"),
            ("incrementSeconds", "increment_seconds"),
            ("daysPerMove", "days_per_move"),
        ):
            value = data.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TimeControlError(f"{key} must be a whole number")
            values[field] = value
        return cls(kind, **values)


UNTIMED = TimeControl(TimeControlKind.UNTIMED)


def _fischer(minutes: int, increment: int) -> TimeControl:
    return TimeControl(TimeControlKind.FISCHER, minutes * 60, increment)


def _days(days: int) -> TimeControl:
    return TimeControl(TimeControlKind.CORRESPONDENCE, days_per_move=days)


#: The lobby's presets, fastest first.
PRESETS: dict[str, TimeControl] = {
    tc.label: tc
    for tc in (
        _fischer(1, 0),
        _fischer(3, 2),
        _fischer(5, 3),
        _fischer(10, 5),
        _fischer(15, 10),
        _days(1),
        _days(3),
    )
}


@dataclass(frozen=True, slots=True)
class Clocks:
    """The clocks of one game: each seat's bank as of ``since_ms`` and the seat whose clock
    runs (``None`` before the first move is due or after the game).

    The running seat's bank is what it had when its turn started; its real remaining time is
    ``remaining(seat, now_ms)``. Banks are indexed by seat number - 1."""

    banks_ms: tuple[int, ...]
    running: int | None
    since_ms: int

    @classmethod
    def start(cls, tc: TimeControl, seats: int, first: int, now_ms: int) -> Clocks:
        """Clocks of a game that starts now with ``first`` to move."""
        return cls((tc.bank_ms,) * seats, first if tc.timed else None, now_ms)

    def remaining(self, seat: int, now_ms: int) -> int:
        """Milliseconds left for ``seat`` at ``now_ms`` (never below zero)."""
        bank = self.banks_ms[seat - 1]
        if seat == self.running:
            bank -= max(0, now_ms - self.since_ms)
        return max(0, bank)

    def flagged(self, now_ms: int) -> int | None:
        """The running seat if its time is up at ``now_ms``."""
        if self.running is not None and self.remaining(self.running, now_ms) <= 0:
            return self.running
        return None

    def deadline_ms(self) -> int | None:
        """When the running seat's flag falls, if nobody moves before."""
        if self.running is None:
            return None
        return self.since_ms + self.banks_ms[self.running - 1]

    def pass_turn(
        self, tc: TimeControl, mover: int, to_move: int | None, now_ms: int, *, charge: bool = True
    ) -> Clocks:
        """The clocks after ``mover`` committed a move at ``now_ms`` and ``to_move`` is next
        (``None`` when the game ended). ``charge=False`` for moves the server plays for a seat
        (bookkeeping, committed with the seat's own move): they cost no time because they carry
        the same timestamp. The Fischer increment is added when the mover's turn ends (the
        next seat to move is another one), whoever played the move that ended it.

        Raises ``TimeControlError`` when the mover's time was already up: the caller must
        adjudicate the flag instead of committing the move."""
        if not tc.timed:
            return self
        banks = list(self.banks_ms)
        turn_ends = to_move is not None and to_move != mover
        if mover == self.running:
            left = self.remaining(mover, now_ms)
            if charge and left <= 0:
                raise TimeControlError(f"seat {mover}'s time is up")
            if charge and tc.kind is TimeControlKind.CORRESPONDENCE:
                left = tc.bank_ms
            elif turn_ends and tc.kind is TimeControlKind.FISCHER:
                left += tc.increment_seconds * 1000
            banks[mover - 1] = left
        if to_move is not None and tc.kind is TimeControlKind.CORRESPONDENCE and to_move != mover:
            banks[to_move - 1] = tc.bank_ms
        return Clocks(tuple(banks), to_move, now_ms)

    def stop(self, now_ms: int) -> Clocks:
        """Freeze every clock at ``now_ms`` (game over, or a seat withdrew)."""
        if self.running is None:
            return self
        banks = list(self.banks_ms)
        banks[self.running - 1] = self.remaining(self.running, now_ms)
        return Clocks(tuple(banks), None, now_ms)

    def to_json(self, now_ms: int) -> dict[str, Any]:
        """What a client shows: remaining time per seat at ``serverTime``, and which runs."""
        return {
            "remainingMs": [self.remaining(s, now_ms) for s in range(1, len(self.banks_ms) + 1)],
            "running": self.running,
            "serverTime": now_ms,
        }

    def to_store(self) -> dict[str, Any]:
        return {"banksMs": list(self.banks_ms), "running": self.running, "sinceMs": self.since_ms}

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> Clocks:
        return cls(tuple(int(b) for b in data["banksMs"]), data["running"], int(data["sinceMs"]))

    def with_running(self, seat: int | None, now_ms: int) -> Clocks:
        """The same banks with another seat's clock running from ``now_ms`` (for example after
        a withdrawal passed the turn, which charges nobody)."""
        return replace(self.stop(now_ms), running=seat)


def ai_budget_s(level_budget_s: float, clocks: Clocks | None, seat: int, now_ms: int) -> float:
    """An AI seat plays within its own clock: the smaller of its level's budget and a share of
    what it has left (never under 50 ms, so it always answers)."""
    if clocks is None or clocks.running != seat:
        return level_budget_s
    share = clocks.remaining(seat, now_ms) / 1000 / AI_TIME_SHARE
    return max(0.05, min(level_budget_s, share))
