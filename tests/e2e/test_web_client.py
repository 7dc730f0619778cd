"""The web client in a real browser (Debian's Chromium driven by Playwright) against
``ringrift up``: register, start a game against the AI, play moves by clicking, replay."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ringrift.ops.services import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, ai_port = free_port(), free_port()
    data = tmp_path_factory.mktemp("web") / "data"
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
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []], daemon=True).start()
    seen = ""
    deadline = time.monotonic() + 120
    while "RingRift is up" not in seen:
        assert time.monotonic() < deadline and proc.poll() is None, seen
        try:
            seen += lines.get(timeout=1)
        except queue.Empty:
            continue
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0


def test_register_play_against_ai_and_see_the_board(platform: str, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), (
        "Debian's chromium package is required (scripts/test installs it)"
    )
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 850})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(platform + "/")
        page.fill("#register-form input[name=email]", "e2e@example.com")
        page.fill("#register-form input[name=username]", "e2euser")
        page.fill("#register-form input[name=password]", "Correct-Horse-9")
        page.click("#register-form button")
        page.wait_for_selector("#home:not([hidden])")
        page.select_option("#new-game select[name=boardType]", "hex8")
        page.click("#new-game button")
        page.wait_for_selector("#game:not([hidden])")
        page.wait_for_selector("#board [data-key]")
        assert page.locator("#board [data-key]").count() == 61  # hex8: 61 cells
        for _ in range(4):
            page.wait_for_selector("#legal li[data-i]", timeout=20_000)
            before = page.locator("#log li").count()
            page.click("#legal li[data-i] >> nth=0")
            page.wait_for_function(
                f"document.querySelectorAll('#log li').length > {before}", timeout=20_000
            )
        moves = page.locator("#log li").count()
        assert moves >= 4
        # The AI seat answers (pushed over the socket, or picked up by the poll).
        page.wait_for_selector("#log li:has-text('(AI)')", timeout=30_000)
        assert page.locator("#board circle").count() >= 1
        page.screenshot(path=str(tmp_path / "game.png"))
        browser.close()
    assert errors == [], errors
