"""Weak passwords are refused at registration (AUTH_PASSWORD_WEAK, saying why), and nothing is
created."""

from __future__ import annotations

import uuid

import httpx
import pytest
from realtime_support import Process


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "at least 10 characters"),
        ("12345678", "at least 10 characters"),
        ("password123", "too easy to guess"),
        ("1234567890", "too easy to guess"),
        ("qwertyuiop", "too easy to guess"),
        ("0123456789abcdef", "too easy to guess"),
        ("{name}{name}", "too easy to guess"),  # the username itself
    ],
)
def test_weak_passwords_are_refused(live_app: Process, password: str, reason: str) -> None:
    name = "w" + uuid.uuid4().hex[:9]
    body = {"email": f"{name}@example.com", "username": name, "password": password}
    body["password"] = password.format(name=name)
    with httpx.Client(base_url=live_app.url, timeout=10) as http:
        response = http.post("/api/auth/register", json=body)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "AUTH_PASSWORD_WEAK"
        assert reason in error["message"]
        # Nothing was created: the same email and name register with a strong password.
        body["password"] = "anchor-violet-ridge-27"
        assert http.post("/api/auth/register", json=body).status_code == 202
        signed_in = http.post(
            "/api/auth/login", json={"email": body["email"], "password": body["password"]}
        )
        assert signed_in.json()["data"]["user"]["username"] == name
