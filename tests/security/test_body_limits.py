"""Oversized bodies are refused with 413 before they are read (app and AI service)."""

from __future__ import annotations

import socket
import time

import httpx
from realtime_support import Process


def _raw_post(url: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        sock.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while True:  # the 413 closes the connection
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data


def test_declared_oversize_login_is_refused_without_reading(live_app: Process) -> None:
    # 50 MB declared, nothing sent: the answer must come at once (no waiting for the body).
    started = time.monotonic()
    status, raw = _raw_post(
        live_app.url,
        "/api/auth/login",
        {
            "Content-Type": "application/json",
            "Content-Length": str(50 * 1024 * 1024),
            "Connection": "close",
        },
        b"{",
    )
    assert status == 413
    assert time.monotonic() - started < 2
    assert b'"code": "VALIDATION_FAILED"' in raw or b'"code":"VALIDATION_FAILED"' in raw


def test_oversize_bodies_get_the_envelope(live_app: Process) -> None:
    with httpx.Client(base_url=live_app.url, timeout=10) as http:
        auth_body = b'{"email": "a@example.com", "password": "' + b"x" * (70 * 1024) + b'"}'
        response = http.post(
            "/api/auth/login", content=auth_body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_FAILED"
        assert error["details"]["limitBytes"] == 64 * 1024
        assert "too large" in error["message"]
        assert error["requestId"] == response.headers["x-request-id"]

        # Other routes allow 1 MB: 70 KB passes the limit (and fails auth), 2 MB does not.
        small = http.post("/api/games", content=b"{" + b" " * (70 * 1024) + b"}")
        assert small.status_code == 401
        big = http.post(
            "/api/games",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert big.status_code == 413
        assert big.json()["error"]["details"]["limitBytes"] == 1024 * 1024


def test_chunked_oversize_body_is_stopped(live_app: Process) -> None:
    def chunks() -> object:
        for _ in range(100):
            yield b"x" * 65536

    with httpx.Client(base_url=live_app.url, timeout=10) as http:
        response = http.post(
            "/api/auth/register",
            content=chunks(),  # type: ignore[arg-type]
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
