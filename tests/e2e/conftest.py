"""Fixtures every browser test module shares: one Chromium per module, and one `ringrift up`
per module (a module that needs its own settings or data directory overrides `platform`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from up_support import running_up
from web_support import BROWSER_ARGS, CHROMIUM


@pytest.fixture(scope="module")
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a fresh `ringrift up` (SQLite, AI service as a child) for this module; it must
    stop cleanly on Ctrl-C when the module is done. A generous start-up timeout: the machine
    running the suite is often busy."""
    data = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "data"
    with running_up(data, timeout=300) as up:
        yield up.url
    assert up.exit_code == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium (scripts/test installs it)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()
