"""Helpers for the browser tests: Debian's Chromium through Playwright, a page that records
console errors, sign-up through the forms, moves made only by clicking the board, axe-core."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

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
HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
PASSWORD = "Correct-Horse-9"
_names = itertools.count(1)

# What a player can click on the board, most decisive first.
ROLES = ["target", "candidate", "decision-on", "decision", "place", "source"]
CLICKABLE = ", ".join(f"#board .cell[data-role='{r}']" for r in ROLES)


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)  # frames the page sent
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def moves_sent(self) -> list[dict[str, Any]]:
        return [f["d"] for f in self.frames if f.get("t") == "move"]


def open_tab(browser: Browser, viewport: dict[str, int] | None = None, **kw: Any) -> Tab:
    context = browser.new_context(viewport=viewport or DESKTOP, has_touch=viewport == PHONE, **kw)
    return watch(context.new_page())


def watch(page: Page) -> Tab:
    tab = Tab(page)
    page.on("pageerror", lambda e: tab.errors.append(str(e)))
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: tab.requests.append(f"{r.method} {r.url}"))

    def on_ws(ws: Any) -> None:
        ws.on("framesent", lambda payload: tab.frames.append(_frame(payload)))
        ws.on("framereceived", lambda payload: tab.received.append(_frame(payload)))

    page.on("websocket", on_ws)
    return tab


def _frame(payload: Any) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def register(tab: Tab, url: str, *, go: bool = True) -> str:
    """Sign up through the form; returns the username."""
    name = f"player{next(_names)}_{int(time.time() * 1000) % 10**7}"
    page = tab.page
    if go:
        page.goto(url + "/")
    page.fill("#register-form input[name=email]", f"{name}@example.com")
    page.fill("#register-form input[name=username]", name)
    page.fill("#register-form input[name=password]", PASSWORD)
    page.click("#register-form button")
    page.wait_for_selector("#auth", state="hidden")
    return name


def create_game(tab: Tab, body: dict[str, Any]) -> str:
    """Create a game with the page's own session (setup only) and open it."""
    game_id: str = tab.page.evaluate(
        """async (body) => {
          const r = await fetch('/api/games', {method: 'POST', headers: {
            'Content-Type': 'application/json',
            Authorization: 'Bearer ' + localStorage.getItem('accessToken')},
            body: JSON.stringify(body)});
          return (await r.json()).data.game.id;
        }""",
        body,
    )
    tab.page.goto(tab.page.url.split("#")[0] + f"#/game/{game_id}")
    tab.page.wait_for_selector("#board .cell")
    return game_id


def vs_ai(rings: int | None = 5, board: str = "square8") -> dict[str, Any]:
    body: dict[str, Any] = {
        "boardType": board,
        "isRated": False,
        "aiOpponents": {"count": 1, "difficulty": [1]},
    }
    if rings:
        body["rulesOptions"] = {"ringsPerPlayer": rings}
    return body


def wait_my_move(page: Page, timeout: float = 30_000) -> bool:
    """Wait until the board offers something to click (True) or the game is over (False)."""
    page.wait_for_function(
        """(sel) => !document.querySelector('#result').hidden
              || (!document.querySelector('.game.busy')
                  && (document.querySelector(sel) || document.querySelector('#buttons button')))""",
        arg=CLICKABLE,
        timeout=timeout,
    )
    return bool(page.locator("#result").is_hidden())


def play_one_move(tab: Tab, *, tap: bool = False, timeout: float = 30_000) -> bool:
    """Make one move by clicking the board (and its inline choice) until a move frame leaves
    the page; False once the game is over."""
    page = tab.page
    if not wait_my_move(page, timeout):
        return False
    sent = len(tab.moves_sent())
    for _ in range(6):
        role = ""
        if page.locator("#choice:not([hidden]) button[data-i]").count():
            _press(page.locator("#choice button[data-i]").first, tap)
        elif page.locator(CLICKABLE).count():
            for role in ROLES:
                cells = page.locator(f"#board .cell[data-role='{role}']")
                if cells.count():
                    _press(cells.first, tap)
                    break
        elif page.locator("#buttons button").count():
            _press(page.locator("#buttons button").first, tap)
        if role == "source":
            continue  # a selection: its destinations are lit now
        for _ in range(20):
            if len(tab.moves_sent()) > sent or page.locator("#result").is_visible():
                return True
            if page.locator("#choice:not([hidden])").count():
                break
            page.wait_for_timeout(50)
    return True


def play_until_resign_is_offered(*tabs: Tab, limit: int = 40) -> None:
    """Let the seated tabs play, each on its own turn, until every seat has moved: until then
    the game page offers Abort, not Resign (a game someone has not moved in yet is aborted,
    not lost)."""
    for _ in range(limit):
        if all(t.page.locator("#resign").count() for t in tabs):
            return
        for tab in tabs:
            if tab.page.evaluate("() => !!(ringrift.game && ringrift.game.model.myTurn)"):
                assert play_one_move(tab), "the game ended before Resign was offered"
        tabs[0].page.wait_for_timeout(150)
    for tab in tabs:
        tab.page.wait_for_selector("#resign")


def _press(locator: Any, tap: bool) -> None:
    if tap:
        locator.tap()
    else:
        locator.click()


def check_axe(page: Page, label: str) -> None:
    """axe-core injected into the page: no serious or critical violations."""
    assert AXE.exists(), "run `npm ci` in tests/e2e (scripts/test does it)"
    # Evaluated through the DevTools protocol, which the page's CSP (no inline script) does
    # not govern: the page itself keeps running under its real policy.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    assert result == [], f"axe on {label}: {json.dumps(result, indent=1)}"


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"page is {width}px wide in a {inner}px viewport"


def no_errors(*tabs: Tab) -> None:
    """No tab showed an error the player did not cause."""
    for tab in tabs:
        assert tab.errors == [], tab.errors
