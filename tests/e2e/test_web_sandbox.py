"""The sandbox in a real browser against ``ringrift up``: an anonymous visitor plays a few
moves on the board against level 1, asks for a hint (outlined on the board) and the evaluation,
undoes a move; axe-core on the page; screenshots at phone and desktop; the sound toggle; the
computer analysis of a finished game."""

from __future__ import annotations

from playwright.sync_api import Browser, Page
from web_support import (
    DESKTOP,
    PHONE,
    check_axe,
    create_game,
    no_horizontal_scroll,
    open_tab,
    play_one_move,
    register,
    shot,
    vs_ai,
    wait_my_move,
)

ROLES = ["target", "candidate", "decision-on", "decision", "place", "source"]
CLICKABLE = ", ".join(f"#sb-board .cell[data-role='{r}']" for r in ROLES)
MY_TURN = (
    "() => document.querySelector('#sb-turn').classList.contains('mine')"
    " && !document.querySelector('#sb-turn').textContent.includes('checked')"
)


def start(page: Page, url: str, board: str = "square8", players: str = "2") -> None:
    page.goto(url + "/")
    # The anonymous landing page offers the sandbox.
    page.get_by_role("link", name="Try against the AI (no account needed)").first.click()
    page.wait_for_selector("#sb-setup")
    page.select_option("#sb-setup select[name=boardType]", board)
    page.select_option("#sb-setup select[name=players]", players)
    page.select_option("#sb-setup select[name=level]", "1")
    page.get_by_role("button", name="Start").click()
    page.wait_for_selector("#sb-board .cell")
    page.wait_for_function(MY_TURN, timeout=30_000)


def play_one(page: Page) -> None:
    """One move of ours made by clicking the board (and the inline choice when one opens)."""
    before = page.locator("#sb-moves li").count()
    for _ in range(6):
        cells = page.locator(CLICKABLE)
        if cells.count() == 0:
            break
        cells.first.click()
        choice = page.locator("#sb-choice:not([hidden]) button:not(.secondary)")
        if choice.count():
            choice.first.click()
        page.wait_for_timeout(50)
        if page.locator("#sb-moves li").count() > before:
            break
    page.wait_for_function(
        f"() => document.querySelectorAll('#sb-moves li').length > {before}", timeout=30_000
    )


def wait_turn_or_end(page: Page) -> bool:
    page.wait_for_function(
        MY_TURN + " || document.querySelector('#sb-turn').textContent.startsWith('Game over')",
        timeout=60_000,
    )
    return not page.locator("#sb-turn").inner_text().startswith("Game over")


def test_anonymous_visitor_plays_asks_hint_and_evaluation(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    start(page, platform)
    assert page.evaluate("localStorage.getItem('accessToken')") is None
    check_axe(page, "sandbox (start)")
    for _ in range(3):
        play_one(page)
        if not wait_turn_or_end(page):
            break
    assert page.locator("#sb-moves li").count() >= 4  # ours and the AI's

    page.get_by_role("button", name="Hint").click()
    page.wait_for_selector("#sb-board .cell.hinted", timeout=30_000)
    assert "Hint from the AI" in page.locator("#sb-hint").inner_text()

    page.get_by_role("button", name="Evaluation").click()
    page.wait_for_selector("#sb-eval .eval-verdict", timeout=30_000)
    verdict = page.locator("#sb-eval .eval-verdict").inner_text()
    assert "even" in verdict or "better" in verdict or "winning" in verdict or "win" in verdict
    assert page.locator("#sb-eval .eval-bar").count() == 1
    check_axe(page, "sandbox (hint and evaluation)")
    shot(page, "sandbox-desktop")
    no_horizontal_scroll(page)

    # Undo goes back to the position before our last move.
    count = page.locator("#sb-moves li").count()
    page.get_by_role("button", name="Undo").click()
    page.wait_for_function(f"() => document.querySelectorAll('#sb-moves li').length < {count}")
    assert page.evaluate(MY_TURN)
    # Nothing needs an account: no request carried a token, no socket was opened.
    assert not any("/ws" in r for r in tab.requests)
    assert tab.errors == [], tab.errors


def test_sandbox_on_a_phone_with_three_players(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, PHONE)
    page = tab.page
    page.goto(platform + "/")
    page.wait_for_selector("#auth .try-ai a")
    shot(page, "landing-phone")
    page.goto(platform + "/#/sandbox")
    page.wait_for_selector("#sb-setup")
    check_axe(page, "sandbox setup (phone)")
    shot(page, "sandbox-setup-phone")
    start(page, platform, board="hex8", players="3")
    play_one(page)
    wait_turn_or_end(page)
    page.get_by_role("button", name="Evaluation").click()
    page.wait_for_selector("#sb-eval .eval-verdict", timeout=30_000)
    assert page.locator("#sb-eval .eval-seats li").count() == 3
    no_horizontal_scroll(page)
    check_axe(page, "sandbox (phone)")
    shot(page, "sandbox-phone")
    page.locator("#sb-eval").scroll_into_view_if_needed()
    shot(page, "sandbox-phone-evaluation")
    assert tab.errors == [], tab.errors


def test_sound_toggle_is_off_by_default_and_remembered(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    start(page, platform)
    toggle = page.locator("#sb-sound")
    assert toggle.get_attribute("aria-pressed") == "false"
    assert toggle.inner_text() == "Sound: off"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert page.evaluate("localStorage.getItem('ringrift.sound')") == "on"
    play_one(page)  # with sound on, moves play tones (Web Audio): no errors
    wait_turn_or_end(page)
    page.reload()
    page.wait_for_selector("#sb-setup")
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(MY_TURN, timeout=30_000)
    assert page.locator("#sb-sound").get_attribute("aria-pressed") == "true"
    check_axe(page, "sandbox (sound on)")
    assert tab.errors == [], tab.errors


def test_game_page_has_the_same_sound_toggle(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    register(tab, platform)
    # The home page offers the sandbox to signed-in players too.
    assert page.locator("#home .try-ai a").is_visible()
    create_game(tab, vs_ai())
    toggle = page.locator("#game-sound")
    toggle.wait_for()
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert toggle.inner_text() == "Sound: on"
    assert wait_my_move(page)
    play_one_move(tab)  # the move and the AI's reply play tones: no page errors
    wait_my_move(page)
    # An unrated game can be evaluated (GET /api/games/{id}/analysis).
    page.get_by_role("button", name="Evaluation").click()
    page.wait_for_selector("#game-eval .eval-verdict", timeout=30_000)
    assert page.locator("#game-eval h2").inner_text().startswith("Evaluation after move")
    check_axe(page, "game with the sound toggle and the evaluation")
    shot(page, "game-evaluation-desktop")
    assert tab.errors == [], tab.errors


def test_evaluation_words(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    tab.page.goto(platform + "/")
    said = tab.page.evaluate(
        """async () => {
          const { verdict } = await import('/static/js/views/evaluation.js');
          const name = (n) => (n === 1 ? 'You (Red)' : 'Blue (AI level 2)');
          const two = (a, over = false) => verdict({
            playerToMove: over ? null : 1,
            seats: [{player: 1, evaluation: a}, {player: 2, evaluation: -a}],
          }, name);
          return [two(0.1), two(-1), two(2), two(-9), two(1000), two(1000, true), two(0, true)];
        }"""
    )
    assert said == [
        "The position is about even.",
        "Blue (AI level 2) is slightly better.",
        "You (Red) are better.",
        "Blue (AI level 2) is clearly winning.",
        "You (Red) can force a win.",
        "You (Red) won.",
        "The game is over.",
    ]


def test_keyboard_only_move_in_the_sandbox(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    start(page, platform)
    # Start leaves the keyboard on the board: arrows move, Enter picks a cell and then the
    # first ring count in the inline choice.
    assert page.evaluate("() => document.activeElement.closest('#sb-board') !== null")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sb-choice:not([hidden]) button")
    assert page.evaluate("() => document.activeElement.closest('#sb-choice') !== null")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#sb-moves li').length >= 1")
    assert tab.errors == [], tab.errors


def test_sandbox_in_dark_mode(platform: str, browser: Browser) -> None:
    tab = open_tab(browser, DESKTOP, color_scheme="dark")
    page = tab.page
    start(page, platform)
    page.get_by_role("button", name="Evaluation").click()
    page.wait_for_selector("#sb-eval .eval-verdict", timeout=30_000)
    page.get_by_role("button", name="Hint").click()
    page.wait_for_selector("#sb-board .cell.hinted", timeout=30_000)
    check_axe(page, "sandbox (dark)")
    shot(page, "sandbox-dark-desktop")
    assert tab.errors == [], tab.errors


def test_computer_analysis_of_a_finished_game(platform: str, browser: Browser) -> None:
    """After a game, "Computer analysis" graphs every seat's chances turn by turn, marks and
    lists the turning points, and a turning point (or a click on the graph) opens the replay
    there; at a desktop and a phone viewport, checked with axe."""
    tab = open_tab(browser, DESKTOP)
    page = tab.page
    register(tab, platform)
    game_id = create_game(tab, vs_ai(rings=None))
    for _ in range(12):
        if not play_one_move(tab):
            break
    if page.locator("#result").is_hidden():
        page.click("#resign")
        page.click("#resign-yes")
        page.wait_for_selector("#result:not([hidden])")
    page.get_by_role("button", name="Review the game").click()
    page.get_by_role("button", name="Computer analysis").click()
    graph = page.locator("#game-curve svg.curve-graph")
    graph.wait_for(timeout=30_000)
    page.evaluate("document.querySelector('#game-curve').scrollIntoView({block: 'end'})")
    assert page.locator("#game-curve .curve-band").count() == 2  # one band per seat
    label = graph.get_attribute("aria-label") or ""
    assert "turns. At the end: Red 0%, Blue 100%." in label  # Red resigned (or lost)
    marks = page.locator("#game-curve .curve-mark").count()
    turns = page.locator("#game-curve .curve-turns button")
    assert turns.count() == marks
    check_axe(page, "computer analysis (desktop)")
    shot(page, "game-analysis-desktop")
    # A click near the start of the graph opens the replay at an early turn.
    box = graph.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#game .game.replaying")
    assert "position after move" in (page.locator("#board").get_attribute("aria-label") or "")
    if not marks:  # a game of random moves against level 1 need not have any
        assert page.get_by_text("No turning points").is_visible()
    else:
        turns.first.click()
        first = turns.first.inner_text().split(",")[0].removeprefix("Move ")
        page.wait_for_function(
            "(n) => document.querySelector('#board').getAttribute('aria-label')"
            ".endsWith('position after move ' + n)",
            arg=first,
        )
    assert tab.errors == [], tab.errors

    phone = open_tab(browser, PHONE)
    register(phone, platform)
    phone.page.goto(f"{platform}/#/game/{game_id}")
    phone.page.get_by_role("button", name="Review the game").click()
    phone.page.get_by_role("button", name="Computer analysis").click()
    phone.page.locator("#game-curve svg.curve-graph").wait_for(timeout=30_000)
    phone.page.locator("#game-curve").scroll_into_view_if_needed()
    no_horizontal_scroll(phone.page)
    check_axe(phone.page, "computer analysis (phone)")
    shot(phone.page, "game-analysis-phone")
    assert phone.errors == [], phone.errors
