"""Game clocks in a real browser against ``ringrift up``: the clock counts down on the page,
turns to the low-time style, and when the player lets it run out the server's flag sweep ends
the game and the page says "lost on time" without a reload; the clock formatting and the
new-game form's time control; axe-core and screenshots at both viewports."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page
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
    vs_ai,
)


def _clock_ms(page: Page, seat: int) -> float:
    text = page.locator(f"#clocks .clock[data-seat='{seat}'] .time").inner_text()
    if ":" in text:
        minutes, seconds = text.split(":")[-2:]
        return (int(minutes) * 60 + int(seconds)) * 1000
    return float(text) * 1000


def _lets_time_run_out(tab: Tab, platform: str, name: str) -> None:
    page = tab.page
    register(tab, platform)
    game_id = create_game(tab, {**vs_ai(rings=None), "timeControl": {"initialSeconds": 6}})
    assert game_id
    mine = page.locator("#clocks .clock[data-seat='1']")
    mine.wait_for()
    assert page.locator("#clocks .clock").count() == 2
    assert "running" in (mine.get_attribute("class") or "")
    assert "Your clock" in (mine.get_attribute("aria-label") or "")
    first = _clock_ms(page, 1)
    page.wait_for_timeout(1200)
    second = _clock_ms(page, 1)
    assert 500 <= first - second <= 2500, (first, second)  # it counts down on its own
    assert _clock_ms(page, 2) == 6000  # the AI's clock waits
    page.wait_for_function("() => document.querySelector('#clocks .clock.running.low')")
    shot(page, f"clock-low-{name}")
    # Nobody moves: the server's sweep adjudicates the flag and the page learns it by socket.
    page.wait_for_selector("#result:not([hidden])", timeout=15_000)
    assert page.locator("#result-title").inner_text() == "You lost"
    assert page.locator("#result-reason").inner_text() == "You lost on time."
    seat = page.locator("#seats .seat", has=page.locator(".you"))
    assert "lost on time" in seat.inner_text()
    assert page.locator("#movelist li").last.inner_text().strip() == "You ran out of time."
    assert _clock_ms(page, 1) == 0
    assert page.locator("#clocks .clock.running").count() == 0
    shot(page, f"clock-lost-{name}")
    check_axe(page, f"lost on time ({name})")
    no_horizontal_scroll(page)
    assert tab.errors == [], tab.errors


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_the_clock_runs_out_and_the_page_says_lost_on_time(
    platform: str, browser: Browser, name: str, viewport: dict[str, int]
) -> None:
    _lets_time_run_out(open_tab(browser, viewport), platform, name)


def test_dark_mode_clock(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP, color_scheme="dark")
    page = tab.page
    register(tab, platform)
    create_game(tab, {**vs_ai(rings=None), "timeControl": {"initialSeconds": 8}})
    page.wait_for_function("() => document.querySelector('#clocks .clock.running.low')")
    shot(page, "clock-low-dark")
    check_axe(page, "clock in dark mode")
    assert tab.errors == [], tab.errors


def test_clock_formatting_and_offset(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    page.goto(platform + "/")
    r = page.evaluate(
        """async () => {
          const { formatClock, spokenClock, ClockView } = await import('/static/js/views/clock.js');
          const box = document.createElement('div');
          document.body.append(box);
          const said = [];
          const view = new ClockView(
            box, {seatName: (n) => 'P' + n, announce: (t) => said.push(t)});
          // The server's clock is 60 s ahead of this page's: the countdown must not jump.
          const server = Date.now() + 60000;
          view.update({remainingMs: [5000, 30000], running: 1, serverTime: server - 1000},
                      server, 1);
          const left = view.remaining(1), other = view.remaining(2);
          const text = box.querySelector('[data-seat="1"] .time').textContent;
          const low = box.querySelector('[data-seat="1"]').classList.contains('low');
          view.update({remainingMs: [4000, 30000], running: null, serverTime: server}, server, 1);
          view.dispose();
          return {
            f: [formatClock(0), formatClock(9440), formatClock(10000), formatClock(65000),
                formatClock(3723000), formatClock(2 * 86400000 + 5 * 3600000), formatClock(-5)],
            spoken: [spokenClock(61000), spokenClock(1000), spokenClock(3600000)],
            left, other, text, low, said,
            stopped: box.querySelectorAll('.running').length,
          };
        }"""
    )
    assert r["f"] == ["0.0", "9.4", "0:10", "1:05", "1:02:03", "2d 5h", "0.0"]
    assert r["spoken"] == ["1 minute 1 second", "1 second", "1 hour"]
    assert 3800 <= r["left"] <= 4000 and r["other"] == 30000
    assert r["text"].startswith(("3.", "4.")) and r["low"] is True
    assert r["said"] == ["Less than ten seconds left on your clock."]
    assert r["stopped"] == 0
    assert tab.errors == [], tab.errors


def test_new_game_form_offers_the_presets(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    register(tab, platform)
    select = page.locator("#new-tc")
    page.wait_for_function("() => document.querySelectorAll('#new-tc option').length > 5")
    labels = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert labels[:3] == ["untimed", "1+0", "3+2"] and "1 day" in labels
    assert select.input_value() == "untimed"  # against AI only
    page.select_option("#new-game select[name=aiCount]", "0")
    assert select.input_value() == "10+5"  # people can join: untimed is not offered
    assert select.locator("option[value=untimed]").is_disabled()
    page.select_option("#new-tc", "3+2")
    page.click("#new-game button")
    page.wait_for_selector("#game:not([hidden]) #game-tc:not([hidden])")
    assert "3+2" in page.locator("#game-tc").inner_text()
    check_axe(page, "timed game waiting for an opponent")
    assert tab.errors == [], tab.errors
