"""``ringrift up`` on a fresh data directory: starts everything, serves, stops cleanly."""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path

import httpx
from up_support import running_up


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_up_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    with running_up(tmp_path / "data") as up:
        assert f"{up.url}/" in "".join(up.output)
        assert httpx.get(f"{up.url}/health").status_code == 200
        ready = httpx.get(f"{up.url}/ready").json()
        assert ready["checks"]["redis"]["status"] == "disabled"
        assert ready["checks"]["aiService"]["status"] == "healthy"
        assert ready["checks"]["database"]["status"] == "healthy"
        created = httpx.post(
            f"{up.url}/api/auth/register",
            json={"email": "up@example.com", "username": "upuser", "password": "Correct-Horse-9"},
        )
        assert created.status_code == 202, created.text
        # No SMTP in `up`: the verification mail lands in the data directory's outbox.
        outbox = tmp_path / "data" / "mail"
        deadline = time.monotonic() + 15
        while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
        (mail,) = outbox.glob("*.eml")
        assert stat.S_IMODE(mail.stat().st_mode) == 0o600
        assert "To: up@example.com" in mail.read_text() and "token=" in mail.read_text()
    assert up.exit_code == 0, "".join(up.output)
    assert _port_closed(up.port) and _port_closed(up.ai_port)
    assert (tmp_path / "data" / "ringrift.db").exists()
