"""Invite links and rematches in the web client (Debian's Chromium through Playwright against
``ringrift up``): a private game's invite link brings a signed-out visitor through sign-up to
the game and its Join button; two players in two browser contexts finish a game, one offers a
rematch, the other accepts, and both land in the new game."""

from __future__ import annotations

import re

from playwright.sync_api import Browser
from web_support import (
    DESKTOP,
    PHONE,
    check_axe,
    create_game,
    no_errors,
    no_horizontal_scroll,
    open_tab,
    play_until_resign_is_offered,
    register,
    shot,
)


def test_an_invite_link_brings_a_visitor_into_a_private_game(
    platform: str, browser: Browser
) -> None:
    owner = open_tab(browser, DESKTOP)
    register(owner, platform)
    parsed = owner.page.evaluate(
        """async () => {
          const m = await import('/static/js/views/invite.js');
          return [
            m.inviteFromHash('#/game/abc?invite=T-0_k'), m.inviteFromHash('#/game/abc'),
            m.inviteFromHash('#/game/abc?invite=' + 'x'.repeat(129)),
            m.withInvite('/api/games/abc', 'a+b/c'), m.withInvite('/api/x?y=1', 't'),
            m.withInvite('/api/games/abc', null),
          ];
        }"""
    )
    assert parsed == [
        "T-0_k",
        None,
        None,
        "/api/games/abc?invite=a%2Bb%2Fc",
        "/api/x?y=1&invite=t",
        "/api/games/abc",
    ]
    game_id = create_game(owner, {"boardType": "square8", "isRated": False, "isPrivate": True})
    page = owner.page
    page.wait_for_selector("#invite:not([hidden]) #invite-copy")
    link = page.input_value("#invite-link")
    assert re.search(rf"#/game/{game_id}\?invite=[\w-]{{22,}}$", link), link
    check_axe(page, "private game waiting")
    shot(page, "invite-desktop")
    page.set_viewport_size(PHONE)
    no_horizontal_scroll(page)
    shot(page, "invite-phone")
    page.emulate_media(color_scheme="dark")
    check_axe(page, "private game waiting, dark")
    shot(page, "invite-phone-dark")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(DESKTOP)
    # The copy button puts the link on the clipboard (or says how to copy it by hand).
    page.click("#invite-copy")
    page.wait_for_selector("#invite-copied:not(:empty)")

    # Without the token the game stays closed, even for a signed-in user.
    stranger = open_tab(browser)
    register(stranger, platform)
    stranger.page.goto(f"{platform}/#/game/{game_id}")
    stranger.page.wait_for_selector("#game-error:not([hidden])")
    assert "private" in stranger.page.locator("#game-error").inner_text().lower()

    visitor = open_tab(browser, PHONE)
    guest = visitor.page
    guest.goto(link)
    guest.locator("#auth-reason").wait_for()
    assert "sign in" in guest.locator("#auth-reason").inner_text().lower()
    register(visitor, platform, go=False)
    guest.wait_for_selector("#game:not([hidden]) #board .cell")
    assert "invite=" in guest.url
    assert guest.locator("#invite").is_hidden()  # not seated: no token to share
    check_axe(guest, "invited visitor")
    guest.click("#actions button:has-text('Join')")
    guest.wait_for_selector("#seats .seat .you")
    page.wait_for_function(
        "() => document.getElementById('turn').textContent.includes('Your turn')"
    )
    page.wait_for_selector("#invite", state="hidden")  # the game no longer waits
    no_errors(owner, visitor)
    assert stranger.errors == [] or all("403" in e for e in stranger.errors)


def test_rematch_offered_after_a_resignation_takes_both_players_to_the_new_game(
    platform: str, browser: Browser
) -> None:
    alice_tab, bob_tab = open_tab(browser, DESKTOP), open_tab(browser, PHONE)
    alice, bob = alice_tab.page, bob_tab.page
    register(alice_tab, platform)
    bob_name = register(bob_tab, platform)
    old_id = create_game(alice_tab, {"boardType": "square8", "isRated": False})
    bob.goto(f"{platform}/#/game/{old_id}")
    bob.click("#actions button:has-text('Join')")
    play_until_resign_is_offered(alice_tab, bob_tab)
    bob.click("#resign")
    bob.click("#resign-yes")
    for page in (alice, bob):
        page.wait_for_selector("#result:not([hidden]) #rematch:not([hidden])")
    assert alice.locator("#result-title").inner_text() == "You won"

    alice.click("#rematch-offer")
    alice.wait_for_selector("#rematch-text:has-text('waiting for')")
    assert bob_name in alice.locator("#rematch-text").inner_text()
    bob.wait_for_selector("#rematch-text:has-text('offers a rematch')")
    assert bob.locator("#rematch-accept").is_visible()
    assert bob.locator("#rematch-decline").is_visible()
    check_axe(bob, "rematch offer")
    check_axe(alice, "rematch offered")
    shot(bob, "rematch-offer-phone")
    shot(alice, "rematch-offered-desktop")
    no_horizontal_scroll(bob)

    bob.click("#rematch-accept")
    pattern = re.compile(rf"#/game/(?!{old_id})[\w-]+$")
    for page in (alice, bob):
        page.wait_for_url(pattern, timeout=30_000)
        page.wait_for_selector("#board .cell")
        page.wait_for_selector("#seats .seat .you")
    new_id = alice.url.rsplit("/", 1)[1]
    assert bob.url.rsplit("/", 1)[1] == new_id != old_id
    # Seats moved one on: Bob (seat 2 before) now moves first.
    bob.wait_for_function("() => document.getElementById('turn').textContent.includes('Your turn')")
    shot(bob, "rematch-started-phone")
    no_errors(alice_tab, bob_tab)
