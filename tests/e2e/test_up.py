"""``ringrift up`` on a fresh data directory: starts everything, serves, stops cleanly."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ringrift.ops.services import free_port


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_up_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, ai_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ringrift.cli",
            "up",
            "--port",
            str(port),
            "--ai-port",
            str(ai_port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    seen: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while not any("RingRift is up" in x for x in seen):
            assert time.monotonic() < deadline, "".join(seen)
            assert proc.poll() is None, "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        assert f"http://127.0.0.1:{port}/" in "".join(seen)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").status_code == 200
        ready = httpx.get(f"{base}/ready").json()
        assert ready["checks"]["redis"]["status"] == "disabled"
        assert ready["checks"]["aiService"]["status"] == "healthy"
        assert ready["checks"]["database"]["status"] == "healthy"
        created = httpx.post(
            f"{base}/api/auth/register",
            json={"email": "up@example.com", "username": "upuser", "password": "Correct-Horse-9"},
        )
        assert created.status_code == 201, created.text
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0, "".join(seen)
    assert _port_closed(port) and _port_closed(ai_port)
    assert (tmp_path / "data" / "ringrift.db").exists()
