"""The game chat panel in a real browser against ``ringrift up``: two players chat (one on a
phone), an HTML payload stays text, the spectator channel, mute, counter and unread count,
axe-core and screenshots at both viewports."""

from __future__ import annotations

from playwright.sync_api import Browser
from web_support import (
    PHONE,
    Tab,
    check_axe,
    create_game,
    no_horizontal_scroll,
    open_tab,
    register,
    shot,
)

XSS = '<img src=x onerror="window.__xss = 1">'


def say(tab: Tab, text: str) -> None:
    """Type into the chat box with the keyboard and send with Enter."""
    page = tab.page
    page.focus("#chat-input")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('chat-input').value === ''")


def bodies(tab: Tab) -> list[str]:
    return tab.page.locator("#chat .chat-list li .chat-body").all_inner_texts()


def test_two_players_chat_and_html_stays_text(platform: str, browser: Browser) -> None:
    owner, guest = open_tab(browser), open_tab(browser, PHONE)
    register(owner, platform)
    register(guest, platform)
    game_id = create_game(owner, {"boardType": "square8", "isRated": False})
    guest.page.goto(f"{platform}/#/game/{game_id}")
    guest.page.locator("#actions button", has_text="Join").click()
    for tab in (owner, guest):
        tab.page.wait_for_selector("#chat:not([hidden]) #chat-input")

    # The length counter follows the typing.
    owner.page.focus("#chat-input")
    owner.page.keyboard.type("hello")
    assert owner.page.locator("#chat-count").inner_text() == "5/300"
    owner.page.keyboard.press("Enter")
    guest.page.wait_for_function(
        "() => [...document.querySelectorAll('#chat .chat-body')]"
        ".some(e => e.textContent === 'hello')"
    )
    say(owner, XSS)
    guest.page.wait_for_function(
        "(t) => [...document.querySelectorAll('#chat .chat-body')].some(e => e.textContent === t)",
        arg=XSS,
    )
    for tab in (owner, guest):
        assert bodies(tab) == ["hello", XSS]
        assert tab.page.locator("#chat img").count() == 0
        assert tab.page.evaluate("window.__xss") is None
    # New messages are announced politely to screen readers.
    live = guest.page.locator("#chat [aria-live=polite]")
    assert XSS in live.inner_text()

    say(guest, "good luck, have fun")
    owner.page.wait_for_function(
        "() => [...document.querySelectorAll('#chat .chat-body')]"
        ".some(e => e.textContent === 'good luck, have fun')"
    )
    frames = [f["d"] for f in guest.frames if f.get("t") == "chat"]
    assert frames == [
        {"gameId": game_id, "channel": "players", "body": "good luck, have fun", "ack": "chat:1"}
    ]

    # A spectator sees only the spectator channel; players do not see it during the game.
    watcher = open_tab(browser)
    register(watcher, platform)
    watcher.page.goto(f"{platform}/#/game/{game_id}")
    watcher.page.wait_for_selector("#chat:not([hidden]) #chat-input")
    assert watcher.page.locator("#chat .chat-tabs").is_hidden()
    say(watcher, "watching from the stands")
    watcher.page.wait_for_selector("#chat .chat-body:has-text('watching from the stands')")
    assert "watching" not in owner.page.locator("#chat").inner_text()

    # Mute: the channel's messages are hidden and the choice survives a reload.
    guest.page.click("#chat .chat-mute")
    assert guest.page.locator("#chat .chat-list").is_hidden()
    assert guest.page.locator("#chat .chat-mute").get_attribute("aria-pressed") == "true"
    guest.page.reload()
    guest.page.wait_for_selector("#chat:not([hidden]) .chat-mute[aria-pressed=true]")
    guest.page.click("#chat .chat-mute")
    guest.page.wait_for_selector("#chat .chat-list li .chat-body")
    assert bodies(guest) == ["hello", XSS, "good luck, have fun"]  # caught up after the reload

    # Unread: a message that arrives while the panel is off screen (below the board on a
    # phone) is counted in the heading until the panel is seen.
    guest.page.evaluate("window.scrollTo(0, 0)")
    guest.page.wait_for_timeout(300)
    say(owner, "are you there?")
    guest.page.wait_for_selector("#chat-title:has-text('1 unread')")
    guest.page.locator("#chat .chat-list").scroll_into_view_if_needed()
    guest.page.wait_for_function(
        "() => document.getElementById('chat-title').textContent === 'Chat'"
    )

    owner.page.locator("#chat").scroll_into_view_if_needed()
    guest.page.locator("#chat").scroll_into_view_if_needed()
    shot(owner.page, "chat-desktop")
    shot(guest.page, "chat-phone")
    no_horizontal_scroll(guest.page)
    check_axe(owner.page, "chat (desktop)")
    check_axe(guest.page, "chat (phone)")
    check_axe(watcher.page, "chat (spectator)")
    for tab in (owner, guest, watcher):
        assert tab.errors == [], tab.errors
