"""Request bodies are validated strictly: a string is not a number, "yes" is not a boolean."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from realtime_support import Process


@pytest.fixture(scope="module")
def token(live_app: Process) -> str:
    name = "s" + uuid.uuid4().hex[:9]
    response = httpx.post(
        f"{live_app.url}/api/auth/register",
        json={
            "email": f"{name}@example.com",
            "username": name,
            "password": "anchor-violet-ridge-27",
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    response = httpx.post(
        f"{live_app.url}/api/auth/login",
        json={"email": f"{name}@example.com", "password": "anchor-violet-ridge-27"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["accessToken"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxPlayers", "2"),
        ("maxPlayers", 2.0),
        ("isRated", "yes"),
        ("isRated", "true"),
        ("isPrivate", 1),
        ("seed", "5"),
        ("aiOpponents", {"count": "1", "difficulty": [3]}),
        ("aiOpponents", {"count": 1, "difficulty": ["3"]}),
        ("timeControl", {"initialSeconds": "600"}),
    ],
)
def test_loose_types_are_refused(live_app: Process, token: str, field: str, value: Any) -> None:
    body: dict[str, Any] = {"boardType": "square8", "isRated": False, field: value}
    with httpx.Client(base_url=live_app.url, timeout=10) as http:
        headers = {"Authorization": f"Bearer {token}"}
        before = http.get("/api/games", headers=headers).json()["data"]
        response = http.post("/api/games", json=body, headers=headers)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_FAILED"
        assert any(field in detail["field"] for detail in error["details"])
        assert http.get("/api/games", headers=headers).json()["data"] == before
