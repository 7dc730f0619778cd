"""Presence in the browser (Debian's Chromium through Playwright) against ``ringrift up`` run
with a short abandonment grace: the online dots, "Opponent left" with its countdown and the
"Claim victory" button after a player closes the page, and "Abort" before everyone moved; at
the phone and desktop sizes, with axe-core and screenshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from up_support import running_up
from web_support import (
    DESKTOP,
    PHONE,
    Tab,
    check_axe,
    create_game,
    no_horizontal_scroll,
    open_tab,
    register,
    shot,
)

GRACE_SECONDS = 4
TIMED = {
    "boardType": "square8",
    "isRated": False,
    "timeControl": {"initialSeconds": 600, "incrementSeconds": 0},
}
PRESENCE_ENV = {
    "PRESENCE_GRACE_SECONDS": str(GRACE_SECONDS),
    "PRESENCE_HEARTBEAT_SECONDS": "1",
    "PRESENCE_SWEEP_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    saved = {k: os.environ.get(k) for k in PRESENCE_ENV}
    os.environ.update(PRESENCE_ENV)
    try:
        with running_up(tmp_path_factory.mktemp("presence") / "data") as up:
            yield up.url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _seated_pair(
    platform: str, browser: Browser, owner_view: dict[str, int], **owner_kw: Any
) -> tuple[Tab, Tab]:
    """Two players in a started Fischer game: the owner created it, the guest joined it."""
    owner, guest = open_tab(browser, owner_view, **owner_kw), open_tab(browser, DESKTOP)
    owner_name, guest_name = register(owner, platform), register(guest, platform)
    game_id = create_game(owner, TIMED)
    guest.page.goto(f"{platform}/#/game/{game_id}")
    guest.page.locator("#actions button", has_text="Join").click()
    both_online = """() => document.querySelectorAll('#seats .presence-dot.online').length === 2
        && !document.querySelector('#seats .presence-dot.offline')"""
    for tab in (owner, guest):
        # A seat not yet connected may show offline for a moment (someone looked before it
        # joined); both end up online.
        tab.page.wait_for_function(both_online, timeout=20_000)
    # The clocks were drawn before the guest sat down: they learn the guest's name too.
    for tab in (owner, guest):
        tab.page.wait_for_function(
            "(names) => [...document.querySelectorAll('#clocks .who')].map((e) => e.textContent)"
            ".join('|') === names",
            arg=f"{owner_name}|{guest_name}",
            timeout=10_000,
        )
    return owner, guest


def test_opponent_leaves_and_the_win_is_claimed(platform: str, browser: Browser) -> None:
    for view, label, scheme in ((DESKTOP, "desktop", "light"), (PHONE, "phone-dark", "dark")):
        owner, guest = _seated_pair(platform, browser, view, color_scheme=scheme)
        page = owner.page
        assert page.locator("#abort").is_visible()  # nobody moved yet: Abort, not Resign
        assert page.locator("#resign").count() == 0
        guest.page.close()
        page.wait_for_selector("#presence-banner:not([hidden])")
        banner = page.locator("#presence-banner")
        assert "Opponent left — you can claim the win in 0:0" in banner.inner_text()
        assert page.locator("#seats .presence-dot.offline").count() == 1
        assert page.locator("#seats .presence-dot.offline").get_attribute("aria-label") == "offline"
        shot(page, f"presence-opponent-left-{label}")
        check_axe(page, f"opponent left ({label})")
        no_horizontal_scroll(page)
        claim = page.locator("#claim-victory")
        claim.wait_for(timeout=(GRACE_SECONDS + 5) * 1000)
        assert "you can claim the win now" in banner.inner_text()
        shot(page, f"presence-claim-{label}")
        claim.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#result:not([hidden])")
        assert page.locator("#result-title").inner_text() == "You won"
        assert "because the opponent left the game" in page.locator("#result-reason").inner_text()
        assert page.locator("#presence-banner").is_hidden()
        shot(page, f"presence-claimed-result-{label}")
        check_axe(page, f"claimed result ({label})")
        assert owner.errors == [], owner.errors
        page.context.close()


def test_abort_before_everyone_moved(platform: str, browser: Browser) -> None:
    owner, guest = _seated_pair(platform, browser, PHONE)
    owner.page.locator("#abort").click()
    for tab in (owner, guest):
        tab.page.wait_for_selector("#result:not([hidden])")
        assert tab.page.locator("#result-title").inner_text() == "Game aborted"
        assert "no rating changed" in tab.page.locator("#result-reason").inner_text()
        assert tab.page.locator("#turn").inner_text() == "This game was aborted."
    shot(owner.page, "presence-aborted-phone")
    shot(guest.page, "presence-aborted-desktop")
    check_axe(owner.page, "aborted (phone)")
    for tab in (owner, guest):
        assert tab.errors == [], tab.errors
        tab.page.context.close()


def test_a_stale_game_read_does_not_bring_a_leaver_back(platform: str, browser: Browser) -> None:
    """The game JSON fetched while an opponent left (requested before their `presence` frame
    was sent) must not put them back online: the banner and the claim would never come."""
    tab = open_tab(browser, DESKTOP)
    tab.page.goto(platform)
    seen = tab.page.evaluate(
        """async () => {
            const { PresenceView } = await import("/static/js/views/presence.js");
            const view = new PresenceView("g1", { onChange() {}, onEnded() {}, onError() {} });
            const state = () => ({ ...view.seats.get(2) });
            const online = (seat) => ({ seat, online: true, since: null });
            view.adopt([online(1), online(2)], { asOf: 1000 });
            const d = { gameId: "g1", seat: 2, online: false, since: 2000, claimableAt: 62000 };
            view.handleFrame({ t: "presence", d: { ...d, serverTime: 2000 } });
            const left = state();
            view.adopt([{ seat: 2, online: true, since: null }], { asOf: 1500 });  // sent before
            const afterStale = state();
            view.adopt([{ seat: 2, online: false, since: 2000 }], { asOf: 2500 });  // sent after
            const afterFresh = state();
            view.adopt([{ seat: 2, online: true, since: null }], { asOf: 3000 });  // came back
            const back = state();
            view.close();
            return { left, afterStale, afterFresh, back };
        }"""
    )
    assert seen["left"]["online"] is False
    assert seen["afterStale"]["online"] is False and seen["afterStale"]["claimableAt"] == 62000
    # A newer read of the same absence keeps the countdown the frame gave.
    assert seen["afterFresh"]["online"] is False and seen["afterFresh"]["claimableAt"] == 62000
    assert seen["back"]["online"] is True and seen["back"]["claimableAt"] is None
    assert tab.errors == [], tab.errors
    tab.page.context.close()
