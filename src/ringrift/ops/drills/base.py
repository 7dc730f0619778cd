"""The drill framework: registry, recorder, context, HTTP API client and data seeding."""

from __future__ import annotations

import contextlib
import random
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ringrift.ops.deployment import Deployment
from ringrift.ops.drills.alertgate import ALERT_TIMEOUT_SECONDS, Alert, PrometheusAlerts
from ringrift.ops.stack import Stack
from ringrift.rules import GameState, legal_moves

REGISTRY: dict[str, type[Drill]] = {}
PASSWORD = "drill-Password-42"


def register(cls: type[Drill]) -> type[Drill]:
    """Class decorator: make a drill available to ``ringrift drill run``."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"drill name {cls.name!r} is empty or already registered")
    REGISTRY[cls.name] = cls
    return cls


# -- results ---------------------------------------------------------------------------------


class DrillSkipped(Exception):
    """Raised by a drill whose target lacks what it exercises (for instance Sentinel): the
    drill is reported as SKIP with the reason, neither passed nor failed."""


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class Step:
    description: str
    seconds: float = 0.0
    ok: bool = True
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "detail": self.detail,
        }


@dataclass
class DrillResult:
    name: str
    title: str
    objective: str
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None  # the reason, when the target cannot run this drill
    started_at: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.skipped is None
            and self.error is None
            and bool(self.checks)
            and all(c.passed for c in self.checks)
        )

    @property
    def failed(self) -> bool:
        return self.skipped is None and not self.passed

    @property
    def status(self) -> Status:
        if self.skipped is not None:
            return Status.SKIP
        return Status.PASS if self.passed else Status.FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "objective": self.objective,
            "startedAt": self.started_at,
            "durationSeconds": round(self.seconds, 3),
            "steps": [s.to_json() for s in self.steps],
            "checks": [c.to_json() for c in self.checks],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "findings": self.findings,
            "notes": self.notes,
            "error": self.error,
            "skipped": self.skipped,
        }


class Recorder:
    """What a drill writes into: steps, checks, timings, findings, notes."""

    def __init__(self, result: DrillResult, on_event: Callable[[str], None]) -> None:
        self.result = result
        self._on_event = on_event

    @contextlib.contextmanager
    def step(self, description: str) -> Iterator[Step]:
        step = Step(description)
        self.result.steps.append(step)
        self._on_event(f"{self.result.name}: {description}")
        started = time.monotonic()
        try:
            yield step
        except BaseException as error:
            step.ok = False
            step.detail = step.detail or f"{type(error).__name__}: {error}"
            raise
        finally:
            step.seconds = time.monotonic() - started

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.result.checks.append(Check(name, bool(passed), detail))
        mark = "ok" if passed else "FAILED"
        self._on_event(f"{self.result.name}: check {mark}: {name} {detail}")
        return bool(passed)

    def timing(self, name: str, seconds: float) -> None:
        self.result.timings[name] = seconds

    def finding(self, text: str) -> None:
        self.result.findings.append(text)

    def note(self, text: str) -> None:
        self.result.notes.append(text)


# -- HTTP API ----------------------------------------------------------------------------------


@dataclass
class User:
    id: str
    email: str
    username: str
    password: str
    access_token: str


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response, what: str) -> None:
        self.response = response
        super().__init__(f"{what}: HTTP {response.status_code} {response.text[:300]}")


class Api:
    """Synchronous client of the app's public HTTP API, recording every status it sees."""

    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=timeout)
        self.statuses: list[tuple[str, int]] = []

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", {}) or {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = self.client.request(method, path, headers=headers, **kwargs)
        self.statuses.append((f"{method} {path}", response.status_code))
        return response

    def timed(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[httpx.Response | None, float, str]:
        """(response or None, seconds, error) -- never raises for transport errors."""
        started = time.monotonic()
        try:
            response = self.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            return None, time.monotonic() - started, f"{type(error).__name__}: {error}"
        return response, time.monotonic() - started, ""

    def ready(self) -> httpx.Response:
        return self.request("GET", "/ready")

    def register(self) -> User:
        name = "d" + uuid.uuid4().hex[:12]
        email = f"{name}@drill.example.com"
        response = self.request(
            "POST",
            "/api/auth/register",
            json={"email": email, "username": name, "password": PASSWORD},
        )
        if response.status_code != 202:
            raise ApiError(response, "register")
        user = User("", email, name, PASSWORD, "")
        signed_in = self.login(user)
        if signed_in.status_code != 200:
            raise ApiError(signed_in, "login after register")
        user.id = signed_in.json()["data"]["user"]["id"]
        return user

    def login(self, user: User) -> httpx.Response:
        response = self.request(
            "POST", "/api/auth/login", json={"email": user.email, "password": user.password}
        )
        if response.status_code == 200:
            user.access_token = response.json()["data"]["accessToken"]
        return response

    def create_game(self, user: User, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"boardType": "square8", "maxPlayers": 2, "isRated": False}
        body.update(overrides)
        response = self.request("POST", "/api/games", token=user.access_token, json=body)
        if response.status_code != 201:
            raise ApiError(response, "create game")
        game: dict[str, Any] = response.json()["data"]["game"]
        return game

    def join(self, user: User, game_id: str) -> dict[str, Any]:
        response = self.request("POST", f"/api/games/{game_id}/join", token=user.access_token)
        if response.status_code != 200:
            raise ApiError(response, "join game")
        game: dict[str, Any] = response.json()["data"]["game"]
        return game

    def game(self, game_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/api/games/{game_id}")
        if response.status_code != 200:
            raise ApiError(response, "get game")
        game: dict[str, Any] = response.json()["data"]["game"]
        return game

    def moves(self, game_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/api/games/{game_id}/moves")
        if response.status_code != 200:
            raise ApiError(response, "get moves")
        data: dict[str, Any] = response.json()["data"]
        return data

    def move(self, user: User, game: dict[str, Any], move: dict[str, Any]) -> httpx.Response:
        return self.request(
            "POST",
            f"/api/games/{game['id']}/moves",
            token=user.access_token,
            json={"move": move, "version": game["version"]},
        )

    def play(self, user: User, game: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        """Submit one legal move (chosen with the rules engine) and return the updated game."""
        state = GameState.from_json(game["state"])
        move = rng.choice(legal_moves(state)).to_json()
        response = self.move(user, game, move)
        if response.status_code != 200:
            raise ApiError(response, "submit move")
        updated: dict[str, Any] = response.json()["data"]["game"]
        return updated


@dataclass
class SeededGame:
    game: dict[str, Any]
    players: dict[int, User]
    acknowledged: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SeedData:
    users: list[User]
    games: list[SeededGame]


# -- context -----------------------------------------------------------------------------------


@dataclass
class DrillContext:
    stack: Stack | Deployment
    work_dir: Path
    recovery_timeout: float = 30.0
    seed: int = 2026
    app: str = "app1"
    # The target's Prometheus; None without monitoring, and drills then never wait for alerts.
    prometheus: str | None = None
    alert_timeout: float = ALERT_TIMEOUT_SECONDS
    # The required alerts a drill held its fault for (the runner checks none was forgotten).
    awaited: set[Alert] = field(default_factory=set)
    _api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.stack.url(self.app))
        return self._api

    @property
    def rng(self) -> random.Random:
        return random.Random(self.seed)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    def seed_data(self, users: int = 4, games: int = 2, moves: int = 6) -> SeedData:
        """Register users and play ``games`` games between them, ``moves`` moves each."""
        rng = random.Random(self.seed)
        people = [self.api.register() for _ in range(users)]
        seeded: list[SeededGame] = []
        for index in range(games):
            a, b = people[(2 * index) % users], people[(2 * index + 1) % users]
            entry = self.new_game(a, b, rng.randint(0, 10_000))
            for _ in range(moves):
                entry.game = self.play(entry)
            seeded.append(entry)
        return SeedData(people, seeded)

    def new_game(self, a: User, b: User, seed: int) -> SeededGame:
        """A two-player game ``a`` created and ``b`` joined, ready for its first move."""
        game = self.api.create_game(a, seed=seed)
        game = self.api.join(b, game["id"])
        by_id = {a.id: a, b.id: b}
        return SeededGame(game, {s["seat"]: by_id[s["userId"]] for s in game["seats"]})

    def play(self, entry: SeededGame) -> dict[str, Any]:
        """One acknowledged move in a seeded game (by whoever is to move). The acknowledgement
        covers every version up to the new one: the move and the bookkeeping moves the server
        played with it for a seat that had no other choice."""
        state = GameState.from_json(entry.game["state"])
        before = entry.game["version"]
        game = self.api.play(entry.players[state.current_player], entry.game, self.rng_for(entry))
        committed = self.api.moves(game["id"])["moves"]
        entry.acknowledged.extend(m for m in committed if m["moveNumber"] > before)
        entry.game = game
        return game

    def rng_for(self, entry: SeededGame) -> random.Random:
        return random.Random(f"{self.seed}-{entry.game['id']}-{entry.game['version']}")

    def hold_until_firing(self, rec: Recorder, alerts: tuple[Alert, ...], since: float) -> None:
        """Call with the fault still in place: wait until each of ``alerts`` fires, raised
        after ``since`` (monotonic time of the fault), and record a check and the timing
        ``time_to_fire_ALERT`` for each. Without Prometheus this returns at once and records
        nothing, so the drill runs as fast as it always did."""
        if self.prometheus is None or not alerts:
            return
        prometheus = PrometheusAlerts(self.prometheus)
        for alert in alerts:
            self.awaited.add(alert)
            with rec.step(f"Hold the fault until {alert} fires"):
                fired = prometheus.wait_firing(alert, since, self.alert_timeout)
            if fired is None:
                rec.check(
                    f"alert {alert} fired within {self.alert_timeout:.0f} s",
                    False,
                    f"not firing {time.monotonic() - since:.1f}s after the fault",
                )
                continue
            rec.timing(f"time_to_fire_{alert}", fired.seconds)
            rec.check(
                f"alert {alert} fired within {self.alert_timeout:.0f} s",
                True,
                f"{fired.seconds:.1f}s after the fault ({fired.where()})",
            )

    def wait_ready(
        self, predicate: Callable[[httpx.Response], bool], timeout: float
    ) -> tuple[httpx.Response | None, float]:
        """Poll /ready until ``predicate`` holds; (last response or None, seconds waited)."""
        started = time.monotonic()
        last: httpx.Response | None = None
        while True:
            with contextlib.suppress(httpx.HTTPError):
                last = self.api.ready()
                with contextlib.suppress(ValueError, KeyError):
                    if predicate(last):
                        return last, time.monotonic() - started
            if time.monotonic() - started > timeout:
                return None, time.monotonic() - started
            time.sleep(0.1)


class Drill:
    """Base class of a drill; subclasses set name/title/objective and implement run()."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    objective: ClassVar[str] = ""
    # The alerts this drill's fault must raise. With monitoring, run() holds the fault until
    # they fire (ctx.hold_until_firing) and the runner requires them to resolve afterwards.
    alerts: ClassVar[tuple[Alert, ...]] = ()

    def required_alerts(self, ctx: DrillContext) -> tuple[Alert, ...]:
        """The alerts required on this target: :attr:`alerts`, unless the target heals the
        fault by itself before Prometheus can see it (a drill overriding this says why)."""
        return self.alerts

    def run(self, ctx: DrillContext, rec: Recorder) -> None:
        raise NotImplementedError

    def execute(self, ctx: DrillContext, on_event: Callable[[str], None]) -> DrillResult:
        from datetime import UTC, datetime

        result = DrillResult(self.name, self.title, self.objective)
        result.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        rec = Recorder(result, on_event)
        started = time.monotonic()
        try:
            self.run(ctx, rec)
        except DrillSkipped as reason:
            result.skipped = str(reason)
            on_event(f"{self.name}: skipped: {reason}")
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
            rec.check("drill ran to completion", False, result.error)
            rec.note("traceback: " + "".join(traceback.format_exception_only(error)).strip())
        finally:
            # A skipped drill touched nothing; a stack deliberately left partly stopped by
            # its operator stays so.
            restarted = [] if result.skipped is not None else restore_stack(ctx.stack)
            if restarted:
                rec.note(f"runner restarted services left stopped: {', '.join(restarted)}")
            failback = restore_redis_primary(ctx.stack)
            if failback:
                rec.note(failback)
            ctx.close()
            result.seconds = time.monotonic() - started
        return result


def restore_redis_primary(stack: Stack | Deployment) -> str:
    """With Sentinel, a drill that stopped or killed ``redis`` leaves the replica as primary;
    fail back so that the next drill finds Redis where ``stack.url("redis")`` points (for
    instance the keyring-reload publish of ``secrets-rotation``). Returns a note, or ""."""
    if not isinstance(stack, Stack) or not stack.redis_ha:
        return ""
    started = time.monotonic()
    try:
        if not stack.restore_redis_primary():
            return ""
    except Exception as error:
        return f"runner could not fail Redis back to the redis service: {error}"
    return f"runner failed Redis back to the redis service ({time.monotonic() - started:.1f}s)"


def restore_stack(stack: Stack | Deployment) -> list[str]:
    """Start every stack service that is not running; returns their names."""
    restarted = []
    for name in stack.services:
        if not stack.is_running(name):
            with contextlib.suppress(Exception):
                stack.start(name)
                restarted.append(name)
    return restarted
