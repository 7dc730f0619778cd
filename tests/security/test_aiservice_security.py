"""The AI service under attack: a real service process with a service token."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from realtime_support import Process, app_process, bearer, create_game, register

from ringrift.ops.services import free_port
from ringrift.rules import new_game

TOKEN = "ai-token-" + "k" * 40
OLD_TOKEN = "ai-token-old-" + "j" * 40


@pytest.fixture(scope="module")
def ai_service() -> Iterator[Process]:
    port = free_port()
    args = [sys.executable, "-m", "ringrift.aiservice", "serve", "--port", str(port)]
    args += ["--workers", "1", "--budget-scale", "0.2", "--log-level", "warning"]
    env = {**os.environ, "AI_SERVICE_TOKEN": f"{TOKEN},{OLD_TOKEN}"}
    process = Process(args, env, port, "ai-security").start(timeout=60)
    yield process
    process.stop()


def _body(board: str = "square8", level: int = 1) -> dict[str, Any]:
    state = new_game(board, 2)
    return {"game_state": state.to_json(), "player_number": 1, "difficulty": level}


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_move_requires_the_service_token(ai_service: Process) -> None:
    with httpx.Client(base_url=ai_service.url, timeout=30) as http:
        anonymous = http.post("/ai/move", json=_body())
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        wrong = http.post("/ai/move", json=_body(), headers=_auth("nope"))
        assert wrong.status_code == 401
        # Both tokens of a rotation are accepted.
        assert http.post("/ai/move", json=_body(), headers=_auth()).status_code == 200
        assert http.post("/ai/move", json=_body(), headers=_auth(OLD_TOKEN)).status_code == 200
        # Health stays open for probes.
        assert http.get("/health").status_code == 200


def test_oversize_and_non_standard_boards_are_refused(ai_service: Process) -> None:
    with httpx.Client(base_url=ai_service.url, timeout=30) as http:
        started = time.monotonic()
        huge = http.post(
            "/ai/move",
            content=b"{" + b" " * (16 * 1024 * 1024) + b"}",
            headers={**_auth(), "Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "body_too_large"
        assert time.monotonic() - started < 5

        # Within the service-wide limit but far beyond any square8 state.
        padded = (
            b'{"pad": "'
            + b"x" * (600 * 1024)
            + b'", '
            + httpx.Request("POST", "http://x", json=_body()).content[1:]
        )
        small_board = http.post(
            "/ai/move", content=padded, headers={**_auth(), "Content-Type": "application/json"}
        )
        assert small_board.status_code == 413, small_board.text
        assert small_board.json()["error"]["code"] == "body_too_large"

        body = _body("hexagonal")
        odd = copy.deepcopy(body)
        odd["game_state"]["board"]["size"] = 63
        response = http.post("/ai/move", json=odd, headers=_auth())
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "unsupported_board_size"
        assert "25" in response.json()["error"]["message"]


async def test_queue_is_bounded_with_retry_after(ai_service: Process) -> None:
    # One worker, two waiting places: of 8 slow searches at once some are refused at once.
    async with httpx.AsyncClient(base_url=ai_service.url, timeout=60) as http:
        responses = await asyncio.gather(
            *(http.post("/ai/move", json=_body("square19", 9), headers=_auth()) for _ in range(8))
        )
    statuses = sorted(r.status_code for r in responses)
    refused = [r for r in responses if r.status_code == 503]
    codes = sorted(r.json()["error"]["code"] for r in refused)
    # Refused at once: "busy". A queued search whose wait used up its deadline on a loaded
    # machine answers "deadline_exceeded" instead; both say when to retry.
    busy = [r for r in refused if r.json()["error"]["code"] == "busy"]
    assert len(busy) >= 4, (statuses, codes)
    assert set(codes) <= {"busy", "deadline_exceeded"}, codes
    # At least one search was admitted (it answered, or ran out of its deadline).
    assert statuses.count(200) + codes.count("deadline_exceeded") >= 1, (statuses, codes)
    assert all(r.headers["Retry-After"] for r in refused)


def test_budget_is_a_hard_deadline() -> None:
    # A budget of 50 microseconds and no grace: no search can finish in time.
    port = free_port()
    args = [sys.executable, "-m", "ringrift.aiservice", "serve", "--port", str(port)]
    args += ["--workers", "1", "--budget-scale", "0.001", "--deadline-grace", "0"]
    process = Process(args, {**os.environ, "AI_SERVICE_TOKEN": TOKEN}, port, "ai-deadline")
    process.start(timeout=60)
    try:
        response = httpx.post(
            f"{process.url}/ai/move", json=_body("hexagonal", 1), headers=_auth(), timeout=30
        )
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "deadline_exceeded"
        assert response.headers["Retry-After"]
        assert httpx.get(f"{process.url}/health", timeout=5).status_code == 200
    finally:
        process.stop()


@pytest.mark.parametrize(("token", "source"), [(TOKEN, "service"), ("wrong-token", "local")])
async def test_the_app_authenticates_to_the_service(
    ai_service: Process, pg_database: str, token: str, source: str
) -> None:
    app = app_process(pg_database, ai_url=ai_service.url, ai_service_token=token).start()
    try:
        user = await register(app.url)
        game = await create_game(
            app.url, user["token"], isRated=False, aiOpponents={"count": 1, "difficulty": [2]}
        )
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as http:
            for _ in range(10):  # until the AI seat has moved (a turn may take several moves)
                metrics = (await http.get("/metrics")).text
                if "ringrift_ai_moves_total{" in metrics:
                    break
                legal = await http.get(
                    f"/api/games/{game['id']}/legal-moves", headers=bearer(user["token"])
                )
                data = legal.json()["data"]
                played = await http.post(
                    f"/api/games/{game['id']}/moves",
                    json={"move": data["moves"][0], "version": data["version"]},
                    headers=bearer(user["token"]),
                )
                assert played.status_code in (200, 201), played.text
        assert f'ringrift_ai_moves_total{{source="{source}"}}' in metrics, metrics
        if source == "local":  # refused by the service: counted as an HTTP error
            assert 'ringrift_ai_fallback_total{reason="http_error"}' in metrics
    finally:
        app.stop()


@pytest.mark.parametrize("tokens", ["", "replace-me", f"{TOKEN},0123456789abcdefghijklmnopqrstuv"])
def test_production_service_refuses_missing_or_weak_tokens(tokens: str) -> None:
    args = [sys.executable, "-m", "ringrift.aiservice", "serve", "--port", str(free_port())]
    env = {**os.environ, "RINGRIFT_ENV": "production", "AI_SERVICE_TOKEN": tokens}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "AI_SERVICE_TOKEN" in result.stderr
