"""The web client in a real browser (Debian's Chromium driven by Playwright) against
``ringrift up``: register, start a game against the AI and play moves by clicking."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from up_support import running_up

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
    with running_up(tmp_path_factory.mktemp("web") / "data") as up:
        yield up.url
    assert up.exit_code == 0


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
            # A selector, not wait_for_function: the page's CSP forbids eval (no 'unsafe-eval').
            page.wait_for_selector(f"#log li >> nth={before}", timeout=20_000)
        moves = page.locator("#log li").count()
        assert moves >= 4
        # The AI seat answers (pushed over the socket, or picked up by the poll).
        page.wait_for_selector("#log li:has-text('(AI)')", timeout=30_000)
        assert page.locator("#board circle").count() >= 1
        page.screenshot(path=str(tmp_path / "game.png"))
        browser.close()
    assert errors == [], errors
