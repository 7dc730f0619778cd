"""Property-based API fuzzing with schemathesis against the app's own OpenAPI schema: whatever
the input, the app never answers with a 5xx, and every error uses the envelope."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from server_support import make_settings

from ringrift.server.app import create_app

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def fuzz_app(sqlite_template: Path) -> Iterator[FastAPI]:
    directory = Path(tempfile.mkdtemp(prefix="ringrift-fuzz-"))
    target = directory / "fuzz.db"
    shutil.copyfile(sqlite_template, target)
    settings = make_settings(
        f"sqlite+aiosqlite:///{target}", ai_service_url="", matchmaking_max_wait_seconds=0.5
    )
    app = create_app(settings)
    yield app
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def fuzz_user(fuzz_app: FastAPI) -> dict[str, Any]:
    client = asgi.get_client(fuzz_app)
    name = "fz" + uuid.uuid4().hex[:10]
    credentials = {"email": f"{name}@example.com", "password": "fuzzing-password-1"}
    response = client.post("/api/auth/register", json={**credentials, "username": name})
    assert response.status_code == 202, response.text
    response = client.post("/api/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    game = client.post(
        "/api/games",
        json={
            "boardType": "square8",
            "maxPlayers": 2,
            "aiOpponents": {"count": 1, "difficulty": [1]},
        },
        headers={"Authorization": f"Bearer {response.json()['data']['accessToken']}"},
    )
    assert game.status_code == 201, game.text
    return {**credentials, "gameId": game.json()["data"]["game"]["id"]}


def _fresh_token(app: FastAPI, user: dict[str, Any]) -> dict[str, str]:
    """A new access token for every example: a fuzzed logout-all revokes earlier ones."""
    client = asgi.get_client(app)
    response = client.post(
        "/api/auth/login", json={"email": user["email"], "password": user["password"]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['accessToken']}"}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx(case: Any, fuzz_app: FastAPI, fuzz_user: dict[str, Any]) -> None:
    params = case.path_parameters or {}
    if len(str(params.get("game_id", "x"))) % 2 == 0:
        # About half of the game examples target a real game so move validation is exercised.
        params["game_id"] = fuzz_user["gameId"]
    # Generated Authorization values would win over call(headers=...): set ours on the case.
    case.headers = {**(case.headers or {}), **_fresh_token(fuzz_app, fuzz_user)}
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        body = response.json()
        assert body["success"] is False
        assert body["error"]["code"] and body["error"]["requestId"]
