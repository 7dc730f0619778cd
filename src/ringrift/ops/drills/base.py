"""The drill framework: registry, recorder, context, HTTP API client and data seeding."""

from __future__ import annotations

import contextlib
import random
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from ringrift.ops.deployment import Deployment
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
    started_at: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        return "PASS" if self.passed else "FAIL"

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
        if response.status_code != 201:
            raise ApiError(response, "register")
        data = response.json()["data"]
        return User(data["user"]["id"], email, name, PASSWORD, data["accessToken"])

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
            game = self.api.create_game(a, seed=rng.randint(0, 10_000))
            game = self.api.join(b, game["id"])
            by_id = {a.id: a, b.id: b}
            players = {s["seat"]: by_id[s["userId"]] for s in game["seats"]}
            entry = SeededGame(game, players)
            for _ in range(moves):
                entry.game = self.play(entry)
            seeded.append(entry)
        return SeedData(people, seeded)

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
        except Exception as error:
            result.error = f"{type(error).__name__}: {error}"
            rec.check("drill ran to completion", False, result.error)
            rec.note("traceback: " + "".join(traceback.format_exception_only(error)).strip())
        finally:
            restarted = restore_stack(ctx.stack)
            if restarted:
                rec.note(f"runner restarted services left stopped: {', '.join(restarted)}")
            ctx.close()
            result.seconds = time.monotonic() - started
        return result


def restore_stack(stack: Stack | Deployment) -> list[str]:
    """Start every stack service that is not running; returns their names."""
    restarted = []
    for name in stack.services:
        if not stack.is_running(name):
            with contextlib.suppress(Exception):
                stack.start(name)
                restarted.append(name)
    return restarted
