"""The live lobby in a real browser against ``ringrift up``: a game created in a second browser
context appears on the first context's Play page without a reload and disappears when it is
cancelled; the Watch page lists games in play live and opens one as a spectator; the
leaderboard filter; axe-core and screenshots at phone and desktop size."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page
from web_support import (
    DESKTOP,
    PHONE,
    Tab,
    check_axe,
    no_errors,
    no_horizontal_scroll,
    open_tab,
    register,
    shot,
)


def call(tab: Tab, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A REST call with the tab's own session (setup only: the page under test is the other
    tab)."""
    return tab.page.evaluate(
        """async ([method, path, body]) => {
          const r = await fetch(path, {method, headers: {
            'Content-Type': 'application/json',
            Authorization: 'Bearer ' + localStorage.getItem('accessToken')},
            body: body === null ? undefined : JSON.stringify(body)});
          return (await r.json()).data;
        }""",
        [method, path, body],
    )


def mark_page(page: Page) -> None:
    """A marker that a reload would wipe out."""
    page.evaluate("window.__noReload = true")


def not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__noReload === true"))


def test_a_game_from_another_context_appears_and_vanishes_without_a_reload(
    platform: str, browser: Browser
) -> None:
    viewer, creator = open_tab(browser), open_tab(browser)
    register(viewer, platform)
    register(creator, platform)
    page = viewer.page
    page.wait_for_selector("#home:not([hidden]) #lobby li")
    page.wait_for_function(
        "() => window.ringrift.conn.status === 'open'"
    )  # the socket is up: its snapshot follows
    mark_page(page)

    game = call(creator, "POST", "/api/games", {"boardType": "hex8", "maxPlayers": 2})["game"]
    row = page.locator(f"#lobby li[data-game-id='{game['id']}']")
    row.wait_for(timeout=10_000)
    assert "Hex 61" in row.inner_text()
    assert row.locator("button", has_text="Join").is_visible()
    assert any(f.get("t") == "lobbyDelta" for f in viewer.received)
    check_axe(page, "home (live lobby)")
    shot(page, "lobby-home-desktop")

    call(creator, "POST", f"/api/games/{game['id']}/leave")
    row.wait_for(state="detached", timeout=10_000)
    assert not_reloaded(page)
    no_errors(viewer, creator)


def test_the_watch_page_lists_games_in_play_and_opens_one_as_a_spectator(
    platform: str, browser: Browser
) -> None:
    first, second = open_tab(browser), open_tab(browser)
    register(first, platform)
    register(second, platform)
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        viewer = open_tab(browser, viewport)
        register(viewer, platform)
        page = viewer.page
        page.click("header nav a:has-text('Watch')")
        page.wait_for_selector("#watch:not([hidden]) #live-games li")
        page.wait_for_function("() => window.ringrift.conn.status === 'open'")
        mark_page(page)

        game = call(first, "POST", "/api/games", {"boardType": "square8", "maxPlayers": 2})["game"]
        call(second, "POST", f"/api/games/{game['id']}/join")
        row = page.locator(f"#live-games li[data-game-id='{game['id']}']")
        row.wait_for(timeout=10_000)
        assert "0 moves" in row.inner_text() and "average" in row.inner_text()
        assert not_reloaded(page)
        check_axe(page, f"watch ({name})")
        no_horizontal_scroll(page)
        shot(page, f"watch-{name}")

        row.locator("a").click()
        page.wait_for_selector("#game:not([hidden]) #board .cell")
        assert page.url.endswith(f"#/game/{game['id']}")
        # A spectator: nothing to click on the board, no resign button.
        assert page.locator("#actions button", has_text="Resign").count() == 0
        page.go_back()
        page.wait_for_selector(f"#live-games li[data-game-id='{game['id']}']")
        call(second, "POST", f"/api/games/{game['id']}/leave")  # resigns: the game is over
        page.locator(f"#live-games li[data-game-id='{game['id']}']").wait_for(
            state="detached", timeout=10_000
        )
        if name == "phone":
            open_game = call(first, "POST", "/api/games", {"boardType": "hex8", "maxPlayers": 2})
            page.click("header nav a:has-text('Play')")
            listed = page.locator(f"#lobby li[data-game-id='{open_game['game']['id']}']")
            listed.wait_for(timeout=10_000)
            listed.scroll_into_view_if_needed()
            no_horizontal_scroll(page)
            check_axe(page, "home (phone)")
            shot(page, "lobby-home-phone")
            call(first, "POST", f"/api/games/{open_game['game']['id']}/leave")
        no_errors(viewer)
    no_errors(first, second)


def test_leaderboard_filter_by_board_and_players(platform: str, browser: Browser) -> None:
    tab = open_tab(browser)
    register(tab, platform)
    page = tab.page
    page.click("header nav a:has-text('Leaderboard')")
    page.wait_for_selector("#leaderboard:not([hidden]) #ladder tr")
    assert page.locator("#ladder-wins-head").is_hidden()
    page.select_option("#ladder-filter select[name=board]", "hex8")
    page.wait_for_function("() => location.hash === '#/leaderboard?board=hex8'")
    page.select_option("#ladder-filter select[name=players]", "2")
    page.wait_for_function("() => location.hash === '#/leaderboard?board=hex8&players=2'")
    page.wait_for_selector("#ladder-wins-head:not([hidden])")
    page.wait_for_function(
        "() => document.getElementById('ladder-kind').textContent.includes('Hex 61, 2 players')"
    )
    check_axe(page, "leaderboard (filtered)")
    page.select_option("#ladder-filter select[name=board]", "square19")
    page.wait_for_selector("#ladder td:has-text('No rated games of this kind yet.')")
    # The filter lives in the address: a reload keeps it, and back goes to the previous one.
    page.reload()
    page.wait_for_selector("#ladder td:has-text('No rated games of this kind yet.')")
    assert page.locator("#ladder-filter select[name=board]").input_value() == "square19"
    shot(page, "leaderboard-filter-desktop")
    page.go_back()
    page.wait_for_function("() => location.hash === '#/leaderboard?board=hex8&players=2'")
    page.wait_for_function(
        "() => document.querySelector('#ladder-filter select[name=board]').value === 'hex8'"
    )
    no_errors(tab)


def test_a_signed_out_visitor_sees_the_watch_list_in_dark_mode(
    platform: str, browser: Browser
) -> None:
    first, second = open_tab(browser), open_tab(browser)
    register(first, platform)
    register(second, platform)
    game = call(first, "POST", "/api/games", {"boardType": "hex8", "maxPlayers": 2})["game"]
    call(second, "POST", f"/api/games/{game['id']}/join")
    visitor = open_tab(browser, PHONE, color_scheme="dark")
    page = visitor.page
    page.goto(f"{platform}/#/watch")
    row = page.locator(f"#live-games li[data-game-id='{game['id']}']")
    row.wait_for()
    assert page.locator("#live-note").is_visible()
    assert not [f for f in visitor.frames if f.get("t") == "lobby"]  # no socket without a session
    check_axe(page, "watch (signed out, dark)")
    shot(page, "watch-signed-out-dark-phone")
    row.locator("a").click()
    page.wait_for_selector("#auth:not([hidden])")
    assert "sign in" in page.locator("#auth-reason").inner_text().lower()
    call(second, "POST", f"/api/games/{game['id']}/leave")
    no_errors(first, second, visitor)
