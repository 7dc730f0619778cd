"""The web client in a real browser (Debian's Chromium driven by Playwright) against
``ringrift up``: games played only through the board, the defects of issue 12 as regression
tests, the phone viewport, keyboard-only play, replay, axe-core and screenshots."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from up_support import running_up
from web_support import (
    CLICKABLE,
    DESKTOP,
    PASSWORD,
    PHONE,
    Tab,
    check_axe,
    create_game,
    no_errors,
    no_horizontal_scroll,
    open_tab,
    play_one_move,
    play_until_resign_is_offered,
    register,
    shot,
    vs_ai,
    wait_my_move,
    watch,
)

from ringrift.rules.engine import legal_moves
from ringrift.rules.state import GameState, initial_state


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("web") / "data"
    with running_up(data) as up:
        yield up.url, data
    assert up.exit_code == 0


@pytest.fixture(scope="module")
def platform(server: tuple[str, Path]) -> str:
    return server[0]


def mail_link(data: Path, email: str, path: str) -> str:
    """The link of the newest mail to ``email`` in `ringrift up`'s outbox that opens ``path``."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for eml in sorted((data / "mail").glob("*.eml"), key=lambda p: p.stat().st_mtime)[::-1]:
            message = message_from_bytes(eml.read_bytes(), policy=default_policy)
            if message["To"] != email:
                continue
            body = message.get_body(preferencelist=("plain", "html"))
            found = re.search(
                rf"https?://\S+/{path}\?token=[\w%-]+", body.get_content() if body else ""
            )
            if found:
                return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no {path} mail to {email}")


TURN = "document.getElementById('turn').textContent"


def test_complete_game_against_ai_level_1_through_the_board(
    platform: str, browser: Browser
) -> None:
    tab = open_tab(browser)
    page = tab.page
    name = register(tab, platform)
    create_game(tab, vs_ai(rings=5))
    # Record every turn line and every error the page ever shows.
    page.evaluate(
        """() => { window.seen = {turn: new Set(), errors: []};
          new MutationObserver(() => {
            seen.turn.add(document.getElementById('turn').textContent);
            const e = document.getElementById('game-error');
            if (!e.hidden) seen.errors.push(e.textContent);
          }).observe(document.getElementById('main'), {subtree: true, childList: true,
            characterData: true, attributes: true}); }"""
    )
    page.evaluate(
        """() => { window.animations = 0; const animate = Element.prototype.animate;
          Element.prototype.animate = function (...a) {
            animations++; return animate.apply(this, a); }; }"""
    )
    assert page.locator("#seats .seat .you").count() == 1
    assert name in page.locator("#seats .seat", has=page.locator(".you")).inner_text()
    moves = 0
    while play_one_move(tab):
        moves += 1
        assert moves < 400, "the game did not end"
    result = page.locator("#result")
    assert result.is_visible()
    title = page.locator("#result-title").inner_text()
    assert title in ("You won", "You lost")
    assert page.locator("#result-reason").inner_text().endswith(".")
    assert "Game over" in page.locator("#turn").inner_text()
    turns = page.evaluate("[...seen.turn]")
    assert any(t.startswith("Your turn") for t in turns), turns
    assert page.evaluate("seen.errors") == []
    assert page.evaluate("animations") > moves // 2  # moves slide (own and the AI's)
    # Never two moves against one version (the old client sent each pass 2-3 times).
    versions = [m["v"] for m in tab.moves_sent()]
    assert len(versions) == len(set(versions)), versions
    assert page.locator("#game-error").is_hidden()
    shot(page, "result-desktop")
    no_errors(tab)


def test_one_click_is_one_socket_frame_and_no_http(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    page.wait_for_timeout(300)
    # Placement: a cell, then the ring count in the inline picker.
    page.locator("#board .cell[data-role='place']").first.click()
    assert page.locator("#choice").is_visible()
    assert page.locator("#choice button[data-i]").count() >= 1
    requests, frames = len(tab.requests), len(tab.frames)
    page.locator("#choice button[data-i]").first.click()
    page.wait_for_function("() => !document.querySelector('.game.busy')")
    # Then movement with the placed stack (already selected): a click on a lit destination.
    assert wait_my_move(page)
    page.wait_for_selector("#board .cell[data-role='target']", timeout=20_000)
    assert page.locator("#board .cell[data-role='selected']").count() == 1
    sent = [f for f in tab.frames[frames:] if f.get("t") == "move"]
    assert len(sent) == 1, tab.frames[frames:]
    page.locator("#board .cell[data-role='target']").first.dblclick()  # never sent twice
    page.wait_for_timeout(600)
    assert [m["move"]["type"] for m in tab.moves_sent()].count("move_stack") == 1
    versions = [m["v"] for m in tab.moves_sent()]
    assert len(versions) == len(set(versions)), versions
    # The AI answers over the socket; it is our turn again without a single HTTP request.
    page.wait_for_function("() => document.querySelectorAll('#movelist li').length >= 4")
    assert wait_my_move(page)
    assert tab.requests[requests:] == [], tab.requests[requests:]
    assert page.locator("#game-error").is_hidden()
    no_errors(tab)


def test_pending_state_on_a_slow_network(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    # 800 ms before each frame leaves the page: the board must say so and refuse clicks.
    page.add_init_script(
        """const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function (d) { setTimeout(() => send.call(this, d), 800); };"""
    )
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    page.locator("#board .cell[data-role='place']").first.click()
    page.locator("#choice button[data-i]").first.click()
    assert page.locator(".game.busy").count() == 1
    assert "Sending" in page.locator("#turn").inner_text()
    assert page.locator(CLICKABLE).count() == 0
    page.locator("#board .cell").nth(5).click(force=True)
    page.wait_for_function("() => !document.querySelector('.game.busy')", timeout=10_000)
    page.wait_for_timeout(1000)
    assert len(tab.moves_sent()) == 1
    assert page.locator("#game-error").is_hidden()
    no_errors(tab)


def test_second_tab_never_causes_a_version_conflict(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    other = watch(tab.page.context.new_page())
    other.page.goto(tab.page.url)
    other.page.wait_for_selector("#board .cell")
    for _ in range(6):
        assert play_one_move(tab)
    tab.page.wait_for_timeout(1500)
    for t in (tab, other):
        assert t.page.locator("#game-error").is_hidden(), t.page.locator("#game-error").inner_text()
    # The two tabs never played against the same version (they tell each other what they sent),
    # so the server never had to refuse one with a version conflict.
    versions = [m["v"] for m in tab.moves_sent() + other.moves_sent()]
    assert len(versions) == len(set(versions)), versions
    conflicts = [f for t in (tab, other) for f in t.received if f.get("t") == "error"]
    assert conflicts == [], conflicts
    # Both tabs show the same position.
    assert tab.page.locator("#movelist li").count() == other.page.locator("#movelist li").count()
    no_errors(tab, other)


def arrow_to(page: Page, key: str) -> None:
    """Move the board's focus to a square-board cell with the arrow keys only."""
    for _ in range(20):
        here = page.evaluate("document.activeElement.dataset.key")
        if here == key:
            return
        (x, y), (tx, ty) = (map(int, k.split(",")) for k in (here, key))
        arrow = "ArrowRight" if tx > x else "ArrowLeft" if tx < x else ""
        arrow = arrow or ("ArrowDown" if ty > y else "ArrowUp")
        page.keyboard.press(arrow)


def test_keyboard_only_moves_and_resign_is_not_the_first_tab_stop(
    platform: str, browser: Browser
) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    stops = []
    for _ in range(12):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("(e => e.id || e.textContent)(document.activeElement)"))
        if page.evaluate("document.activeElement.closest('#board') !== null"):
            break
    assert "resign" not in stops, stops
    assert page.evaluate("document.activeElement.closest('#board') !== null"), stops
    # Walk to a placement cell with the arrow keys and place with Enter, then the picker.
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")
    focused = page.evaluate("document.activeElement.dataset.role")
    assert focused == "place", focused
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert "place rings here" in label
    page.keyboard.press("Enter")
    in_choice = "document.activeElement.closest('#choice') !== null"
    assert page.evaluate(in_choice)
    page.keyboard.press("Escape")  # closes the picker, the focus goes back to the cell
    assert page.locator("#choice").is_hidden()
    assert page.evaluate("document.activeElement.dataset.role") == "place"
    page.keyboard.press("Enter")
    assert page.evaluate(in_choice)
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('.game.busy')")
    assert len(tab.moves_sent()) == 1
    # The live region announces moves.
    page.wait_for_function("() => document.getElementById('announce').textContent.length > 0")
    # Movement: the placed stack is selected; arrows to a lit destination, then Space.
    assert wait_my_move(page)
    page.wait_for_selector("#board .cell[data-role='target']", timeout=20_000)
    target = page.locator("#board .cell[data-role='target']").first.get_attribute("data-key")
    arrow_to(page, target)
    assert page.evaluate("document.activeElement.dataset.key") == target
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.querySelector('.game.busy')")
    assert [m["move"]["type"] for m in tab.moves_sent()][:2] == ["place_ring", "move_stack"]
    # After the AI's reply the live region says the turn is back.
    page.wait_for_function(
        "() => document.getElementById('announce').textContent.endsWith('Your turn.')"
    )
    # Resign asks first; Escape keeps playing.
    page.locator("#resign").focus()
    page.keyboard.press("Enter")
    assert page.locator("#resign-yes").is_visible()
    page.keyboard.press("Escape")
    assert page.locator("#resign-yes").count() == 0
    no_errors(tab)


def test_phone_viewport_touch_play_and_screenshots(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, PHONE)
    page = tab.page
    register(tab, platform)
    shot(page, "home-phone")
    no_horizontal_scroll(page)
    create_game(tab, vs_ai(rings=None, board="hex8"))
    for _ in range(5):
        assert play_one_move(tab, tap=True)
    selectable = "#board .cell[data-role='place'], #board .cell[data-role='source']"
    for _ in range(6):
        wait_my_move(page)
        if page.locator(selectable).count():
            break
        assert play_one_move(tab, tap=True)
    no_horizontal_scroll(page)
    page.locator(selectable).first.tap()  # the ring-count picker or the lit destinations
    page.wait_for_selector("#choice:not([hidden]), #board .cell[data-role='target']")
    shot(page, "game-phone")
    check_axe(page, "game (phone)")
    no_errors(tab)


def test_replay_navigation_with_the_keyboard(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    for _ in range(4):
        assert play_one_move(tab)
    wait_my_move(page)
    live_stacks = page.locator("#board .stack").count()
    assert live_stacks > 0
    shot(page, "game-desktop")
    check_axe(page, "game")
    page.locator("#movelist").focus()
    page.keyboard.press("Home")
    page.wait_for_function(f"() => {TURN}.includes('after move 0')")
    assert page.locator("#board .stack").count() == 0
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelectorAll('#board .stack').length === 1")
    assert page.locator("#movelist li.at").count() == 1
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelectorAll('#board .stack').length === 1")
    assert page.locator(CLICKABLE).count() == 0  # no moves while replaying
    shot(page, "replay-desktop")
    check_axe(page, "replay")
    page.keyboard.press("End")
    page.wait_for_function(f"() => {TURN}.startsWith('Your turn')")
    assert page.locator("#board .stack").count() == live_stacks
    no_errors(tab)


def test_ai_turn_says_the_ai_is_thinking(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    # The position as the server would send it while the AI seat is to move.
    page.evaluate(
        """() => { const m = ringrift.game.model;
          m.handleFrame({t: 'state', d: {gameId: m.gameId, v: m.v, status: 'active',
            yourSeat: 1, state: {...m.state, currentPlayer: 2}}}); }"""
    )
    assert "AI is thinking" in page.locator("#turn").inner_text()
    assert page.locator("#turn .spinner").count() == 1
    assert page.locator(CLICKABLE).count() == 0
    assert "to move" in page.locator("#seats .seat.to-move").inner_text()
    page.evaluate("ringrift.game.model.requestFull()")
    page.wait_for_function(f"() => {TURN}.startsWith('Your turn')")
    no_errors(tab)


def test_errors_are_plain_words_above_the_board_and_clear(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    inject = """(code) => ringrift.game.model.handleFrame(
        {t: 'error', d: {code, message: 'machine words'}})"""
    page.evaluate(inject, "RATE_LIMIT_EXCEEDED")
    error = page.locator("#game-error")
    assert error.is_visible()
    assert error.inner_text().startswith("You are going a bit fast")
    assert "RATE_LIMIT" not in error.inner_text()
    box, board = error.bounding_box(), page.locator("#board").bounding_box()
    assert box and board and box["y"] + box["height"] <= board["y"]  # near the board, above it
    page.locator(CLICKABLE).first.click()  # the next action clears it
    assert error.is_hidden()
    # A conflict is never shown: the page catches up instead.
    page.evaluate(inject, "GAME_VERSION_CONFLICT")
    assert error.is_hidden()
    no_errors(tab)


def test_resign_with_confirmation_shows_the_result(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    play_until_resign_is_offered(tab)
    page.click("#resign")
    assert page.locator("#result").is_hidden()  # nothing happens without the confirmation
    page.click("#resign-yes")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#result-title").inner_text() == "You lost"
    assert "by resignation" in page.locator("#result-reason").inner_text()
    assert "to move" not in page.locator("#turn").inner_text()
    assert page.locator("#game-error").is_hidden()
    # Errors never show on a finished game.
    page.evaluate(
        """() => ringrift.game.model.handleFrame(
        {t: 'error', d: {code: 'GAME_ALREADY_ENDED', message: 'over'}})"""
    )
    assert page.locator("#game-error").is_hidden()
    no_errors(tab)


def test_anonymous_game_link_login_returns_to_the_game_and_logout_clears_forms(
    platform: str, browser: Browser
) -> None:
    owner = open_tab(browser)
    register(owner, platform)
    game_id = create_game(owner, {"boardType": "square8", "isRated": False})
    visitor = open_tab(browser)
    page = visitor.page
    page.goto(f"{platform}/#/game/{game_id}")
    reason = page.locator("#auth-reason")
    reason.wait_for()
    assert "sign in" in reason.inner_text().lower()
    check_axe(page, "sign-in")
    register(visitor, platform, go=False)
    page.wait_for_selector("#game:not([hidden]) #board .cell")
    assert page.url.endswith(f"#/game/{game_id}")
    # A waiting game: the visitor can join; the owner's "Leave" goes back to the lobby.
    page.locator("#actions button", has_text="Join").wait_for()
    owner.page.click("#actions button:has-text('Leave')")
    owner.page.wait_for_selector("#home:not([hidden])")
    # The left game was cancelled: listed under "all", not under "in play".
    owner.page.wait_for_selector("#mine li a")
    owner.page.select_option("#mine-filter", "active")
    owner.page.wait_for_selector("#mine li:has-text('No games here.')")
    owner.page.select_option("#mine-filter", "")
    owner.page.wait_for_selector("#mine li a")
    check_axe(owner.page, "home")
    shot(owner.page, "home-desktop")
    page.click("#who button:has-text('Sign out')")
    page.wait_for_selector("#auth:not([hidden])")
    for field in [
        "#login-form input[name=email]",
        "#register-form input[name=email]",
        "#register-form input[name=password]",
        "#register-form input[name=username]",
    ]:
        assert page.input_value(field) == ""
    no_errors(owner, visitor)


def test_reconnects_after_a_drop_with_a_visible_sign(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert play_one_move(tab)
    wait_my_move(page)
    page.evaluate("ringrift.conn.ws.close()")
    page.wait_for_selector("#conn:not([hidden])")
    assert "Reconnecting" in page.locator("#conn").inner_text()
    page.wait_for_selector("#conn", state="hidden", timeout=15_000)
    auths = [f for f in tab.frames if f.get("t") == "auth"]
    assert len(auths) >= 2
    # No token in any socket URL; the game goes on.
    assert not any("token=" in r for r in tab.requests)
    assert play_one_move(tab)
    page.wait_for_function("() => !document.querySelector('.game.busy')")
    assert page.locator("#game-error").is_hidden()
    no_errors(tab)


def test_server_restart_reconnects_and_the_game_goes_on(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("restart") / "data"
    tab = open_tab(browser)
    page = tab.page
    with running_up(data) as up:
        register(tab, up.url)
        create_game(tab, vs_ai(rings=None))
        assert play_one_move(tab)
        assert wait_my_move(page)
        port, ai_port = up.port, up.ai_port
    # The server is gone: the page says so (no silent fallback to polling).
    page.wait_for_selector("#conn:not([hidden])", timeout=15_000)
    assert "Reconnecting" in page.locator("#conn").inner_text()
    requests = len(tab.requests)
    page.wait_for_timeout(4000)
    assert not any("/api/" in r for r in tab.requests[requests:]), "no HTTP polling"
    with running_up(data, port=port, ai_port=ai_port):
        page.wait_for_selector("#conn", state="hidden", timeout=30_000)
        ai_moves = "document.querySelectorAll('#movelist li .swatch rect').length"
        before = page.evaluate(ai_moves)
        moves = len(tab.moves_sent())
        # Play until the AI seat answers (a turn may be a placement and a movement).
        for _ in range(4):
            assert play_one_move(tab)
            wait_my_move(page)
            if page.evaluate(ai_moves) > before:
                break
        assert len(tab.moves_sent()) > moves
        assert page.evaluate(ai_moves) > before, "the AI seat answers after the restart"
        assert page.locator("#game-error").is_hidden()
    # The lost connection shows up as a console error only in the browser's own log lines.
    assert all("WebSocket" in e for e in tab.errors), tab.errors


def _scenario(kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A square8 position (built with the rules engine) where player 1 must decide a line or a
    region, with the engine's own legal moves for it."""
    state = initial_state("square8", 2).to_json(include_history=False)
    board = state["board"]

    def stack(x: int, y: int, rings: list[int]) -> None:
        board["stacks"][f"{x},{y}"] = {
            "position": {"x": x, "y": y},
            "rings": rings,
            "stackHeight": len(rings),
            "capHeight": len(rings) - len([r for r in rings if r != rings[0]]),
            "controllingPlayer": rings[0],
        }

    if kind == "line":
        for x in range(5):
            board["markers"][f"{x},3"] = {"position": {"x": x, "y": 3}, "player": 1}
        stack(6, 6, [1, 1])
        stack(1, 6, [2])
        state["currentPhase"] = "line_processing"
    else:
        for key in ["5,5", "6,5", "7,5", "5,6", "5,7"]:
            board["collapsedSpaces"][key] = 1
        stack(6, 6, [2])
        stack(1, 1, [1, 1])
        stack(2, 1, [2, 2])
        state["currentPhase"] = "territory_processing"
    moves = [m.to_json() for m in legal_moves(GameState.from_json(state))]
    return state, moves


def _inject(page: Page, state: dict[str, Any], moves: list[dict[str, Any]]) -> None:
    page.evaluate(
        """([state, legalMoves]) => { const m = ringrift.game.model;
          m.handleFrame({t: 'state', d: {gameId: m.gameId, v: m.v, status: 'active', yourSeat: 1,
            state: {...state, gameId: m.gameId}, legalMoves}}); }""",
        [state, moves],
    )


def test_line_and_territory_decisions_are_made_on_the_board(
    platform: str, browser: Browser
) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    # A line of 5 where 4 is enough: the line is highlighted with one sentence.
    state, moves = _scenario("line")
    _inject(page, state, moves)
    line = page.locator("#board .cell[data-role='decision']")
    assert line.count() == 5
    hint = page.locator("#hint").inner_text()
    assert "line of 5 markers" in hint and "_" not in hint
    page.locator("#board .cell[data-key='2,3']").click()
    options = page.locator("#choice button[data-i]")
    assert [options.nth(i).inner_text() for i in range(options.count())] == [
        "Collapse all 5",
        "Collapse a5-d5, free",
        "Collapse b5-e5, free",
    ]
    options.nth(2).hover()
    assert page.locator("#board .cell.preview").count() == 4
    assert page.locator("#board .cell.preview[data-key='0,3']").count() == 0
    shot(page, "line-decision-desktop")
    check_axe(page, "line decision")
    page.keyboard.press("Escape")
    assert page.locator("#choice").is_hidden()
    # A region: its cells are highlighted; one click on it is the claim.
    state, moves = _scenario("territory")
    _inject(page, state, moves)
    region = page.locator("#board .cell[data-role='decision']")
    assert region.count() == 4
    assert "claim" in page.locator("#hint").inner_text()
    assert page.locator("#buttons button").inner_text() == "Leave the regions"
    shot(page, "territory-decision-desktop")
    sent = len(tab.moves_sent())
    page.locator("#board .cell[data-key='7,7']").click()
    claim = tab.moves_sent()[sent:]
    page.wait_for_timeout(300)
    claim = tab.moves_sent()[sent:]
    assert [m["move"]["type"] for m in claim] == ["choose_territory_option"]
    assert len(claim[0]["move"]["disconnectedRegions"][0]["spaces"]) == 4
    # (The server refuses it: the real game is elsewhere. The page catches up.)
    page.evaluate("ringrift.game.model.requestFull()")
    page.wait_for_function(f"() => {TURN}.startsWith('Your turn')")
    no_errors(tab)


def test_rules_page_with_diagrams(platform: str, browser: Browser) -> None:
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        tab = open_tab(browser, viewport)
        page = tab.page
        page.goto(platform + "/#/rules")  # no account needed
        page.wait_for_selector("#rules .diagram .cell")
        assert page.locator("#rules .rule").count() >= 8
        capture = page.locator("#rules-capture")
        assert capture.locator(".cell[data-role='over']").count() == 1
        before = capture.locator(".diagram").get_attribute("aria-label")
        capture.locator("button").click()
        assert capture.locator("button").get_attribute("aria-pressed") == "true"
        assert capture.locator(".diagram").get_attribute("aria-label") != before
        assert capture.locator(".stack").count() == 1  # the jumped stack is gone
        no_horizontal_scroll(page)
        shot(page, f"rules-{name}")
        check_axe(page, f"rules ({name})")
        no_errors(tab)


def test_dark_colour_scheme(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, color_scheme="dark")
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None, board="hex8"))
    for _ in range(4):
        assert play_one_move(tab)
    wait_my_move(page)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 25, 28)", background
    shot(page, "game-dark-desktop")
    check_axe(page, "game (dark)")
    no_errors(tab)


def test_hint_outlines_the_ai_suggestion(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    page.click("#hint-button")
    page.wait_for_function("() => document.getElementById('hint').textContent.includes('Hint')")
    assert page.locator("#board .cell.hinted").count() >= 1
    assert page.locator("#board .cell.hinted[data-role='place']").count() >= 1
    # Playing on clears the hint.
    assert play_one_move(tab)
    page.wait_for_function("() => !document.getElementById('hint').textContent.includes('Hint')")
    assert page.locator("#board .cell.hinted").count() == 0
    # Alone with an AI: no chat panel (the players channel would have no one to read it).
    assert page.locator("#chat").is_hidden()
    no_errors(tab)


def test_rated_game_result_shows_rating_changes_and_player_page(
    server: tuple[str, Path], browser: Browser
) -> None:
    platform, data = server
    owner, guest = open_tab(browser), open_tab(browser, PHONE)
    # Rated games need verified addresses: follow the mailed links, as a player would.
    for tab in (owner, guest):
        name = register(tab, platform)
        tab.page.wait_for_selector("#verify-notice:not([hidden])")
        tab.page.select_option("#new-game select[name=aiCount]", "0")
        assert tab.page.locator("#new-game input[name=isRated]").is_disabled()
        tab.page.goto(mail_link(data, f"{name}@example.com", "verify-email"))
        tab.page.wait_for_selector("#home-notice:has-text('verified')")
        assert tab.page.locator("#verify-notice").is_hidden()
        tab.page.select_option("#new-game select[name=aiCount]", "0")
        assert tab.page.locator("#new-game input[name=isRated]").is_enabled()
        assert tab.page.url.endswith("/#/")
    guest_name = name
    game_id = create_game(owner, {"boardType": "hex8", "isRated": True})
    guest.page.goto(f"{platform}/#/game/{game_id}")
    guest.page.locator("#actions button", has_text="Join").click()
    # Both see the game start; the owner (seat 1) moves first, through the board.
    owner.page.wait_for_function(f"() => {TURN}.startsWith('Your turn')")
    guest.page.wait_for_function(f"() => {TURN}.startsWith('Waiting for')")
    assert play_one_move(owner)
    # A spectator (signed in, not seated) watches the same game.
    watcher = open_tab(browser)
    register(watcher, platform)
    watcher.page.goto(f"{platform}/#/game/{game_id}")
    watcher.page.wait_for_selector("#movelist li")
    assert watcher.page.locator("#actions a", has_text="Back to the lobby").count() == 1
    # Until both have moved the game can only be aborted (no result); the guest moves too.
    assert owner.page.locator("#abort").is_visible()
    for _ in range(100):  # the owner ends the turn (placement, then movement)
        if guest.page.evaluate(f"{TURN}.startsWith('Your turn')"):
            break
        ready = "(sel) => !document.querySelector('.game.busy') && !!document.querySelector(sel)"
        if owner.page.evaluate(ready, CLICKABLE):
            play_one_move(owner)
        else:
            owner.page.wait_for_timeout(200)
    assert play_one_move(guest)
    owner.page.wait_for_selector("#resign")
    owner.page.click("#resign")
    owner.page.click("#resign-yes")
    for tab, title in ((owner, "You lost"), (guest, "You won"), (watcher, f"{guest_name} won")):
        tab.page.wait_for_selector("#result:not([hidden])")
        assert tab.page.locator("#result-title").inner_text() == title
        tab.page.wait_for_selector("#result-ratings li")
        ratings = tab.page.locator("#result-ratings").inner_text()
        assert "→" in ratings and ("+" in ratings and "-" in ratings), ratings
    shot(guest.page, "result-phone")
    check_axe(guest.page, "result (phone)")
    # The winner's page: rating, results and the history chart.
    guest.page.click("#result-review")
    guest.page.click(f"#seats a:has-text('{guest_name}')")
    guest.page.wait_for_selector("#player .rating-chart")
    assert guest.page.locator("#player h1").inner_text() == guest_name
    assert guest.page.locator("#player .history li").count() == 1
    # Results per board and the game just won, in words, with the opponent and the change.
    row = guest.page.locator("#player .board-results tbody tr")
    assert row.count() == 1
    assert row.first.inner_text().split("\t")[:6] == [
        "Hex 61, 2 players",
        "1",
        "1",
        "0",
        "0",
        "100 %",
    ]
    recent = guest.page.locator("#player .recent-games li")
    assert recent.count() == 1
    text = recent.first.inner_text()
    assert "Won" in text and "rated +" in text and "vs " in text, text
    shot(guest.page, "player-phone")
    check_axe(guest.page, "player page")
    no_errors(owner, guest, watcher)


@pytest.mark.parametrize(
    ("board", "cells"), [("square8", 64), ("square19", 361), ("hex8", 61), ("hexagonal", 469)]
)
def test_every_board_fits_a_phone_and_takes_a_move(
    platform: str, browser: Browser, board: str, cells: int
) -> None:
    tab = open_tab(browser, PHONE)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None, board=board))
    assert page.locator("#board .cell").count() == cells
    assert play_one_move(tab, tap=True)
    page.wait_for_function("() => document.querySelectorAll('#board .stack').length >= 1")
    no_horizontal_scroll(page)
    if board in ("square19", "hexagonal"):
        # Big boards zoom inside their frame; the page itself still never scrolls sideways.
        page.locator("#zoom").tap()
        assert page.locator("#zoom").get_attribute("aria-pressed") == "true"
        assert page.locator("#board").bounding_box()["width"] > PHONE["width"]  # type: ignore[index]
        no_horizontal_scroll(page)
        page.locator(CLICKABLE).first.scroll_into_view_if_needed()
        page.locator(CLICKABLE).first.tap()
        shot(page, f"{board}-phone")
    else:
        assert page.locator("#zoom").is_hidden()
    no_errors(tab)


def test_new_frame_contract_patch_events_drive_the_board(platform: str, browser: Browser) -> None:
    """The frames of the rewritten move path (issue 10), injected into a real game page: a
    patch event moves the board and brings the legal moves; a gap or a resync re-joins by
    version; a move is sent against the patched version."""
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    create_game(tab, vs_ai(rings=None))
    assert wait_my_move(page)
    v = page.evaluate("ringrift.game.model.v")
    page.evaluate(
        """(v) => { const m = ringrift.game.model;
          const ring = {position: {x: 7, y: 0}, rings: [2], stackHeight: 1, capHeight: 1,
                        controllingPlayer: 2};
          m.handleFrame({t: 'event', d: {gameId: m.gameId, v: v + 1, by: 2, auto: false,
            hash: 'h', status: 'active', serverTime: Date.now(),
            move: {type: 'place_ring', player: 2, to: {x: 7, y: 0}, placementCount: 1},
            patch: {board: {stacks: {'7,0': ring}}, currentPlayer: 1},
            legalMoves: [{type: 'place_ring', player: 1, to: {x: 0, y: 7}, placementCount: 1}]}});
        }""",
        v,
    )
    assert page.locator("#board .cell[data-key='7,0'] .stack").count() == 1
    assert page.locator("#movelist li").last.inner_text().strip() == "+1 h8"
    assert page.locator("#board .cell[data-role='place']").count() == 1
    frames = len(tab.frames)
    page.locator("#board .cell[data-key='0,7']").click()
    sent = [f for f in tab.frames[frames:] if f.get("t") == "move"]
    assert [f["d"]["v"] for f in sent] == [v + 1]
    assert sent[0]["d"]["move"]["to"] == {"x": 0, "y": 7}
    # A gap re-joins with the model's version; a resync frame too.
    page.evaluate(
        """(v) => { const m = ringrift.game.model; m.clearPending();
          m.handleFrame({t: 'event', d: {gameId: m.gameId, v: v + 5, by: 2, move: {type: 'x'},
            patch: {}}});
          m.handleFrame({t: 'resync', d: {gameId: m.gameId, reason: 'overflow'}}); }""",
        v,
    )
    # (The real server refused the injected version: the page asked it for a full state.)
    joins = [f["d"] for f in tab.frames[frames:] if f.get("t") == "join" and "v" in f["d"]]
    assert [j["v"] for j in joins] == [v + 1, v + 1]
    no_errors(tab)


def test_password_reset_through_the_mailed_link(server: tuple[str, Path], browser: Browser) -> None:
    platform, data = server
    tab = open_tab(browser)
    page = tab.page
    name = register(tab, platform)
    page.click("#who button:has-text('Sign out')")
    page.click(".forgot summary")
    page.fill("#reset-email", f"{name}@example.com")
    page.click("#reset-request")
    page.wait_for_selector("#auth-reason:has-text('on its way')")
    page.goto(mail_link(data, f"{name}@example.com", "reset-password"))
    page.wait_for_selector("#reset:not([hidden])")
    check_axe(page, "password reset")
    page.fill("#reset-form input[name=newPassword]", "Another-Horse-7")
    page.click("#reset-form button")
    page.wait_for_selector("#auth-reason:has-text('password is changed')")
    page.fill("#login-form input[name=email]", f"{name}@example.com")
    page.fill("#login-form input[name=password]", "Another-Horse-7")
    page.click("#login-form button[type=submit], #login-form > button")
    page.wait_for_selector("#home:not([hidden])")
    # A used link says so in plain words.
    page.goto(mail_link(data, f"{name}@example.com", "verify-email"))
    page.wait_for_selector("#home-notice:not([hidden])")
    no_errors(tab)


# -- quick pairing and socket re-authentication ------------------------------------------------


def token_of(tab: Tab) -> str:
    token: str = tab.page.evaluate("localStorage.getItem('accessToken')")
    return token


def queue_status(tab: Tab) -> int:
    """GET /api/matchmaking with the page's token, outside the page (a heartbeat of its own)."""
    return queue(tab).status


def queue(tab: Tab) -> Any:
    return tab.page.request.get(
        tab.page.url.split("#")[0] + "api/matchmaking",
        headers={"Authorization": "Bearer " + token_of(tab)},
    )


def find_opponent(tab: Tab, preset: str, board: str = "square8", players: str = "2") -> None:
    page = tab.page
    page.wait_for_selector(f"#pair-presets input[value='{preset}']")
    page.select_option("#pair-form select[name=boardType]", board)
    page.select_option("#pair-form select[name=maxPlayers]", players)
    page.check(f"#pair-presets input[value='{preset}']")
    assert not page.is_checked("#pair-form input[name=rated]")
    page.click("#pair-find")


def test_quick_pairing_puts_two_players_in_the_same_game(platform: str, browser: Browser) -> None:
    first, second = open_tab(browser), open_tab(browser)
    for tab in (first, second):
        register(tab, platform)
        tab.page.wait_for_selector("#pair-presets input")
        # New accounts are unverified: rated pairing is offered but disabled, with the reason.
        assert tab.page.is_disabled("#pair-form input[name=rated]")
        assert tab.page.locator("#pair-rated-note").is_visible()
    find_opponent(first, "3+2")
    first.page.wait_for_selector("#pair-wait:not([hidden])")
    first.page.wait_for_selector("#pair-status:has-text('rating window ±')")
    find_opponent(second, "3+2")
    for tab in (first, second):
        tab.page.wait_for_url(re.compile(r"#/game/[\w-]+$"), timeout=30_000)
        tab.page.wait_for_selector("#board .cell")
    assert first.page.url.split("#")[1] == second.page.url.split("#")[1]
    for tab in (first, second):
        assert tab.page.locator("#game-tc").inner_text() == "Time control: 3+2"
        check_axe(tab.page, "paired game")
        assert tab.page.locator("#seats .seat .you").count() == 1
        ticket = queue(tab).json()["data"]["ticket"]
        assert ticket["status"] == "matched"
        assert ticket["gameId"] == first.page.url.split("/")[-1]
        # No engine help against a person, although the game is unrated.
        tab.page.wait_for_selector("#actions button:has-text('Abort')")
        assert tab.page.locator("#hint-button, #game-eval-button").count() == 0
    shot(first.page, "paired-game-desktop")
    no_errors(first, second)


def test_pairing_errors_are_plain_words(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    page.route(
        "**/api/matchmaking",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"success": false, "error": {"code": "SERVER_DATABASE_UNAVAILABLE",'
            ' "message": "database down"}}',
        ),
    )
    find_opponent(tab, "5+3")
    page.wait_for_selector("#pair-error:not([hidden])")
    assert "trouble right now" in page.locator("#pair-error").inner_text()
    assert page.locator("#pair-form").is_visible()
    # The browser logs the 503 itself; nothing else may be logged.
    tab.errors = [e for e in tab.errors if "status of 503" not in e]
    no_errors(tab)


def test_pairing_wait_is_accessible_and_cancel_leaves_the_queue(
    platform: str, browser: Browser
) -> None:
    tab = open_tab(browser, PHONE)
    page = tab.page
    register(tab, platform)
    page.wait_for_selector("#pair-presets input")
    shot(page, "pairing-form-phone")
    find_opponent(tab, "1 day", board="hex8")
    page.wait_for_selector("#pair-status:has-text('rating window ±')")
    assert page.locator("#pair-form").is_hidden()
    assert "Looking for an opponent" in page.locator("#announce").inner_text()
    assert page.evaluate("document.activeElement.id") == "pair-cancel"
    page.wait_for_selector("#pair-elapsed:has-text('Waiting 0:01')")
    assert queue_status(tab) == 200
    check_axe(page, "pairing (waiting)")
    no_horizontal_scroll(page)
    shot(page, "pairing-waiting-phone")
    page.set_viewport_size(DESKTOP)
    check_axe(page, "pairing (waiting, desktop)")
    shot(page, "pairing-waiting-desktop")
    # Cancel from the keyboard: the player leaves the queue and gets the form back.
    page.keyboard.press("Enter")
    page.wait_for_selector("#pair-form:not([hidden])")
    assert page.locator("#pair-wait").is_hidden()
    assert queue_status(tab) == 404
    assert page.evaluate("document.activeElement.id") == "pair-find"
    # Leaving the Play page while waiting leaves the queue too.
    find_opponent(tab, "1 day", board="hex8")
    page.wait_for_selector("#pair-wait:not([hidden])")
    page.wait_for_function("() => ringrift.pairing.waiting && ringrift.pairing.window !== null")
    page.click("header nav a:has-text('Leaderboard')")
    page.wait_for_selector("#leaderboard:not([hidden])")
    deadline = time.monotonic() + 10
    while queue_status(tab) != 404:
        assert time.monotonic() < deadline, "still queued after leaving the page"
        page.wait_for_timeout(200)
    # So does signing out (the access token still works for a while: ask with it).
    page.click("header nav a:has-text('Play')")
    find_opponent(tab, "1 day", board="hex8")
    page.wait_for_selector("#pair-wait:not([hidden])")
    # The wait shows at once; the queue holds the player once the POST has answered.
    page.wait_for_function("() => ringrift.pairing.waiting && ringrift.pairing.window !== null")
    token = token_of(tab)
    assert queue(tab).status == 200
    page.click("#who button:has-text('Sign out')")
    page.wait_for_selector("#auth:not([hidden])")
    after = page.request.get(
        page.url.split("#")[0] + "api/matchmaking", headers={"Authorization": "Bearer " + token}
    )
    assert after.status == 404, after.text()
    no_errors(tab)


def test_socket_reauthenticates_after_refresh_and_4401_ends_at_sign_in(
    platform: str, browser: Browser
) -> None:
    tab = open_tab(browser)
    page = tab.page
    name = register(tab, platform)
    page.wait_for_function("() => ringrift.conn.status === 'open'")
    page.evaluate("() => { window.firstSocket = ringrift.conn.ws; }")
    # A token refresh hands the open socket the new token in an `auth` frame.
    page.evaluate("async () => (await import('/static/js/api.js')).refreshSession()")
    fresh = token_of(tab)
    deadline = time.monotonic() + 5
    while not any(f.get("t") == "auth" and f["d"].get("token") == fresh for f in tab.frames):
        assert time.monotonic() < deadline, tab.frames
        page.wait_for_timeout(100)
    assert page.evaluate("ringrift.conn.status") == "open"
    # A 4401 close (as after an expiry without re-auth): refresh, then a new socket at once.
    page.evaluate(
        """() => { const ws = ringrift.conn.ws; ws.onclose({code: 4401}); ws.close(); }"""
    )
    page.wait_for_function(
        "(t) => ringrift.conn.status === 'open' && localStorage.getItem('accessToken') !== t",
        arg=fresh,
    )
    newest = token_of(tab)
    deadline = time.monotonic() + 5
    while not any(f.get("t") == "auth" and f["d"].get("token") == newest for f in tab.frames):
        assert time.monotonic() < deadline
        page.wait_for_timeout(100)
    assert page.evaluate("ringrift.conn.ws !== window.firstSocket")
    # The server's expiry notice: a refresh within its grace period, hence a new auth frame,
    # and nothing shown to the player.
    page.evaluate(
        """() => ringrift.conn.ws.onmessage({data: JSON.stringify({t: 'error', d: {
            code: 'AUTH_TOKEN_EXPIRED', message: 'expired',
            details: {reauthWithinSeconds: 30}}})})"""
    )
    deadline = time.monotonic() + 10
    while token_of(tab) == newest or not any(
        f.get("t") == "auth" and f["d"].get("token") == token_of(tab) for f in tab.frames
    ):
        assert time.monotonic() < deadline
        page.wait_for_timeout(100)
    assert page.evaluate("ringrift.conn.status") == "open"
    # "Log out everywhere" from another device: the server closes the socket with 4401, the
    # refresh is refused, and the page asks for a sign-in with a reason.
    other = browser.new_context()
    login = other.request.post(
        platform + "/api/auth/login",
        data={"email": f"{name}@example.com", "password": PASSWORD},
    )
    assert login.ok, login.text()
    token = login.json()["data"]["accessToken"]
    out = other.request.post(
        platform + "/api/auth/logout-all", headers={"Authorization": "Bearer " + token}
    )
    assert out.ok, out.text()
    page.wait_for_selector("#auth:not([hidden])", timeout=15_000)
    assert "sign in again" in page.locator("#auth-reason").inner_text()
    assert page.evaluate("localStorage.getItem('accessToken')") is None
    other.close()
    # The browser logs the refused refresh (401) itself; nothing else may be logged.
    refused = [e for e in tab.errors if "status of 401" in e]
    assert len(refused) <= 1, tab.errors
    tab.errors = [e for e in tab.errors if e not in refused]
    no_errors(tab)


def test_too_many_sockets_is_said_plainly(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    register(tab, platform)
    page.wait_for_function("() => ringrift.conn.status === 'open'")
    page.evaluate(
        """() => { const ws = ringrift.conn.ws; ws.onclose({code: 4429}); ws.close(); }"""
    )
    page.wait_for_selector("#conn:not([hidden])")
    assert "Too many RingRift tabs" in page.locator("#conn").inner_text()
    no_errors(tab)


def test_registering_a_known_address_says_check_your_mail(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    page = tab.page
    name = register(tab, platform)
    page.click("#who button:has-text('Sign out')")
    page.wait_for_selector("#auth:not([hidden])")
    page.fill("#register-form input[name=email]", f"{name}@example.com")
    page.fill("#register-form input[name=username]", name + "x")
    page.fill("#register-form input[name=password]", "another-" + PASSWORD)
    page.click("#register-form button")
    page.wait_for_selector("#auth-error:not([hidden])")
    message = page.locator("#auth-error").inner_text()
    assert "already has an account" in message and "mailed" in message
    # Still signed out: the sign-in the client tried with the new password was refused (the
    # browser logs that 401 as a failed resource; it is the only message).
    assert page.locator("#auth").is_visible()
    assert len(tab.errors) == 1 and "401" in tab.errors[0], tab.errors
