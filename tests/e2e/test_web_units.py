"""Unit tests of the browser modules, run inside Chromium against the served files: the JSON
Merge Patch, the versioned model (order, gaps, old-style events, one move per version) and the
decision planner (lines and regions shown on the board)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from up_support import running_up
from web_support import BROWSER_ARGS, CHROMIUM, SCREENSHOTS


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    assert Path(CHROMIUM).exists()
    with running_up(tmp_path_factory.mktemp("units") / "data") as up, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        p = browser.new_page()
        p.goto(up.url + "/")
        yield p
        browser.close()


def test_merge_patch_follows_rfc_7386(page: Page) -> None:
    cases = page.evaluate(
        """async () => {
          const { mergePatch } = await import('/static/js/patch.js');
          const t = {a: 'b', c: {d: 'e', f: 'g'}, arr: [1, 2], keep: 1};
          const out = mergePatch(t, {a: 'z', c: {f: null, h: 1}, arr: [3], n: {m: null}});
          return {
            out, untouched: t,
            rfc: [
              mergePatch({a: 'b'}, {a: 'c'}), mergePatch({a: 'b'}, {b: 'c'}),
              mergePatch({a: 'b'}, {a: null}), mergePatch({a: 'b', b: 'c'}, {a: null}),
              mergePatch({a: ['b']}, {a: 'c'}), mergePatch({a: 'c'}, {a: ['b']}),
              mergePatch({a: {b: 'c'}}, {a: {b: 'd', c: null}}),
              mergePatch({a: [{b: 'c'}]}, {a: [1]}), mergePatch(['a', 'b'], ['c', 'd']),
              mergePatch({a: 'b'}, ['c']), mergePatch({a: 'foo'}, null),
              mergePatch({a: 'foo'}, 'bar'), mergePatch({e: null}, {a: 1}),
              mergePatch([1, 2], {a: 'b', c: null}), mergePatch({}, {a: {bb: {ccc: null}}}),
            ],
          };
        }"""
    )
    assert cases["out"] == {"a": "z", "c": {"d": "e", "h": 1}, "arr": [3], "keep": 1, "n": {}}
    assert cases["untouched"]["c"] == {"d": "e", "f": "g"}
    assert cases["rfc"] == [
        {"a": "c"},
        {"a": "b", "b": "c"},
        {},
        {"b": "c"},
        {"a": "c"},
        {"a": ["b"]},
        {"a": {"b": "d"}},
        {"a": [1]},
        ["c", "d"],
        ["c"],
        None,
        "bar",
        {"e": None, "a": 1},
        {"a": "b"},
        {"a": {"bb": {}}},
    ]


def model_js(script: str) -> str:
    """A page function that drives a fresh GameModel with ``script`` (the script is pasted in
    here, not compiled in the page: the page's CSP forbids eval and Function)."""
    return (
        """async () => {
  const { GameModel } = await import('/static/js/model.js');
  const sent = [];
  const m = new GameModel('g1', (t, d) => { sent.push({t, d}); return true; });
  const state = (n) => ({currentPlayer: 1, gameStatus: 'active', board: {stacks: {}}, n});
  const log = [];
  const S = (v, extra) => m.handleFrame({t: 'state', d: {gameId: 'g1', v, status: 'active',
    state: state(v), yourSeat: 1, ...extra}});
  const E = (v, extra) => m.handleFrame({t: 'event', d: {gameId: 'g1', v, move: {type: 'x'},
    ...extra}});
"""
        + script
        + """
  m.dispose();
  return {v: m.v, sent, log, state: m.state, history: m.history.length, error: m.error};
}"""
    )


def test_model_applies_events_in_order_and_rejoins_on_a_gap(page: Page) -> None:
    r = page.evaluate(
        model_js(
            """
        S(3);
        E(4, {by: 2, patch: {n: 4, board: {stacks: {'1,1': {h: 1}}}}});
        E(4, {patch: {n: 99}});
        E(3, {patch: {n: 98}});
        E(5, {patch: {board: {stacks: {'1,1': null}}}});
        log.push(JSON.stringify(m.state.board));
        E(7, {patch: {n: 7}});
        E(6, {gameId: 'other', patch: {n: 6}});
        """
        )
    )
    assert r["v"] == 5
    assert r["state"]["n"] == 4
    assert r["log"] == ['{"stacks":{}}']
    assert r["sent"] == [{"t": "join", "d": {"gameId": "g1", "v": 5}}]


def test_model_with_old_events_asks_for_a_full_state_unless_one_arrives(page: Page) -> None:
    r = page.evaluate(
        model_js(
            """
        S(0);
        E(1, {move: {type: 'place_ring'}, player: 1});
        log.push(m.playable.length, m.staleTo);
        E(2, {move: {type: 'no_line_action'}, player: 1});
        S(2, {legalMoves: [{type: 'no_territory_action'}]});
        log.push(m.staleTo, m.playable.length);
        await new Promise((ok) => setTimeout(ok, 400));
        E(3, {player: 2});
        await new Promise((ok) => setTimeout(ok, 400));
        """
        )
    )
    assert r["log"] == [0, 1, None, 1]
    assert r["history"] == 3
    # The state arrived in time for v2; for v3 nothing came, so a full state was requested.
    assert r["sent"] == [{"t": "join", "d": {"gameId": "g1"}}]


def test_model_submits_once_per_version_and_hides_conflicts(page: Page) -> None:
    r = page.evaluate(
        model_js(
            """
        const legal = [{type: 'no_line_action', player: 1}];
        S(4, {legalMoves: legal});
        log.push(m.submit(legal[0]), m.submit(legal[0]), m.playable.length);
        m.handleFrame({t: 'error', d: {code: 'GAME_VERSION_CONFLICT', message: 'stale', ack: 1}});
        log.push(m.error, m.submit(legal[0]));
        m.handleFrame({t: 'error', d: {code: 'GAME_INVALID_MOVE', message: 'no'}});
        log.push(m.error && m.error.code);
        S(5, {status: 'completed', winner: 1});
        log.push(m.error, m.submit(legal[0]));
        """
        )
    )
    assert r["log"] == [True, False, 0, None, False, "GAME_INVALID_MOVE", None, False]
    moves = [f for f in r["sent"] if f["t"] == "move"]
    move = {"type": "no_line_action", "player": 1}
    assert moves == [{"t": "move", "d": {"gameId": "g1", "move": move, "v": 4, "ack": 1}}]
    assert {"t": "join", "d": {"gameId": "g1"}} in r["sent"]


def test_line_and_territory_decisions_are_cells_with_a_sentence(page: Page) -> None:
    r = page.evaluate(
        """async () => {
          const { plan, click } = await import('/static/js/intent.js');
          const P = (x, y) => ({x, y});
          const line = [P(0, 0), P(1, 0), P(2, 0), P(3, 0), P(4, 0)];
          const opt = (cells) => ({type: 'choose_line_option', player: 1,
            formedLines: [{positions: line}], collapsedMarkers: cells});
          const lineMoves = [opt(line), opt(line.slice(0, 4)), opt(line.slice(1))];
          const st = {lineLength: 4, mustMoveFromStackKey: null};
          const p1 = plan(lineMoves, {}, st);
          const c1 = click(lineMoves, {}, '2,0', st);
          const p2 = plan(lineMoves, c1.sel, st);
          const region = [P(6, 6), P(7, 6), P(7, 7)];
          const terr = [
            {type: 'choose_territory_option', player: 1, disconnectedRegions: [{spaces: region}]},
            {type: 'skip_territory_processing', player: 1}];
          const p3 = plan(terr, {}, st);
          const c3 = click(terr, {}, '7,7', st);
          const el = (to) => ({type: 'eliminate_rings_from_stack', player: 1, to,
            eliminationContext: 'line'});
          const elim = [el(P(3, 3)), el(P(5, 1))];
          const p4 = plan(elim, {}, st);
          return {
            lineCells: [...p1.cells.keys()], lineHint: p1.hint, lineSel: c1.sel,
            options: p2.choice.options.map(o => [o.label, o.title]),
            regionCells: [...p3.cells.keys()], regionHint: p3.hint, regionClick: c3.submit.type,
            buttons: p3.buttons.map(b => b.label), elimCells: [...p4.cells.entries()],
            elimHint: p4.hint,
          };
        }"""
    )
    assert r["lineCells"] == ["0,0", "1,0", "2,0", "3,0", "4,0"]
    assert "line of 5 markers" in r["lineHint"]
    assert "choose_line_option" not in r["lineHint"]
    assert r["options"][0][0] == "Collapse all 5"
    assert r["options"][1][0] == "Collapse 0,0-3,0, free"  # cell labels on a real board
    assert r["regionCells"] == ["6,6", "7,6", "7,7"]
    assert "territory" in r["regionHint"]
    assert r["regionClick"] == "choose_territory_option"
    assert r["buttons"] == ["Leave the regions"]
    assert r["elimCells"] == [["3,3", "candidate"], ["5,1", "candidate"]]
    assert "top ring" in r["elimHint"]


def test_no_module_parses_data_as_html(page: Page) -> None:
    """Names, chat and every other text go in through textContent/DOM APIs only."""
    web = Path(__file__).resolve().parents[2] / "src" / "ringrift" / "web"
    for path in web.rglob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"
    # And a name that looks like markup stays text.
    text = page.evaluate(
        """async () => { const { h } = await import('/static/js/dom.js');
          const el = h('span', {text: '<img src=x onerror=alert(1)>'});
          return [el.textContent, el.children.length]; }"""
    )
    assert text == ["<img src=x onerror=alert(1)>", 0]


def test_replay_steps_skip_passes(page: Page) -> None:
    """Back/forward stop after each real move (passes are positions but not stops) and at now."""
    seen = page.evaluate(
        """async () => {
          const { stops, realMoves, navTarget } = await import('/static/js/views/movelist.js');
          const rec = (type) => ({ move: { type, player: 1 } });
          // v1 place, v2 a pass, v3 move, v4 a pass: now is v4.
          const history = [rec('place_ring'), rec('no_line_action'), rec('move_stack'),
                           rec('no_territory_action')];
          return {
            stops: stops(history, 4),
            real: [0, 1, 2, 3, 4].map((n) => realMoves(history, n)),
            prevFromNow: navTarget('prev', 4, history, 4),
            prevFromThree: navTarget('prev', 3, history, 4),
            nextFromOne: navTarget('next', 1, history, 4),
            nextFromNow: navTarget('next', 4, history, 4),
            first: navTarget('first', 3, history, 4),
            last: navTarget('last', 0, history, 4),
          };
        }"""
    )
    assert seen["stops"] == [0, 1, 3, 4]
    assert seen["real"] == [0, 1, 1, 2, 2]
    assert (seen["prevFromNow"], seen["prevFromThree"]) == (3, 1)
    assert (seen["nextFromOne"], seen["nextFromNow"]) == (3, 4)
    assert (seen["first"], seen["last"]) == (0, 4)


def test_result_in_words(page: Page) -> None:
    seen = page.evaluate(
        """async () => {
          const { resultTitle, resultReason } = await import('/static/js/views/result.js');
          const name = (n) => ['', 'Ann', 'Bob'][n];
          const game = (over) => ({ status: 'completed', endReason: 'normal', winner: 1,
                                    yourSeat: 1, state: { victoryReason: 'territory_control' },
                                    ...over });
          const cases = [
            game({}), game({ yourSeat: 2 }), game({ yourSeat: null }),
            game({ endReason: 'timeout', yourSeat: 2 }), game({ endReason: 'abandoned' }),
            game({ status: 'cancelled', endReason: 'aborted', winner: null }),
            game({ winner: null }),
          ];
          return cases.map((g) => [resultTitle(g, name), resultReason(g, name)]);
        }"""
    )
    assert seen == [
        ["You won", "You won by controlling enough territory."],
        ["You lost", "Ann won by controlling enough territory."],
        ["Ann won", "Ann won by controlling enough territory."],
        ["You lost", "You lost on time."],
        ["You won", "You won because the opponent left the game."],
        ["Game aborted", seen[5][1]],
        ["Nobody won", "The game is over."],
    ]
    assert "no rating changed" in seen[5][1]


def test_evaluation_shares_of_three_or_four_seats_add_up_to_100(page: Page) -> None:
    seen = page.evaluate(
        """async () => {
          const { seatShares } = await import('/static/js/views/evaluation.js');
          const seats = (...chances) =>
            chances.map((winChance, i) => ({ player: i + 1, winChance }));
          return [
            seatShares(seats(0.48, 0.52, 0.48)),
            seatShares(seats(0.5, 0.5, 0.5, 0.5)),
            seatShares(seats(1, 0, 0)),
            seatShares(seats(0, 0, 0)),
            seatShares(seats(0.9, 0.2, 0.1, 0.3)),
          ];
        }"""
    )
    assert seen[0] == [33, 35, 32]  # a tie of remainders goes to the first seat
    assert seen[1] == [25, 25, 25, 25]
    assert seen[2] == [100, 0, 0]
    assert seen[3] == [34, 33, 33]
    assert all(sum(shares) == 100 for shares in seen)
    assert seen[4][0] > seen[4][3] > seen[4][1] > seen[4][2]


def test_the_curve_view_draws_bands_marks_and_turning_point_buttons(page: Page) -> None:
    """`curveView` with three seats and two turning points: one band per seat, a numbered
    mark per turning point, and each listed turning point opens the replay at its version."""
    seen = page.evaluate(
        """async () => {
          const { curveView } = await import('/static/js/views/game_curve.js');
          const box = document.createElement('section');
          box.id = 'curve-unit';
          box.className = 'eval-box curve-box';
          box.style.maxWidth = '360px';
          document.body.append(box);
          const opened = [];
          const share = (a, b) => [a, b, 1 - a - b];
          const points = [[0, null, share(.33, .33)], [3, 1, share(.35, .33)],
            [5, 2, share(.6, .2)], [9, 3, share(.55, .25)], [12, 1, share(.2, .25)]]
            .map(([v, mover, shares]) => ({v, mover, shares}));
          curveView(box, {
            points,
            turningPoints: [{v: 5, mover: 2, seat: 1, before: .35, after: .6},
                            {v: 12, mover: 1, seat: 1, before: .55, after: .2}],
          }, {name: (n) => ['', 'Red', 'Blue', 'Green'][n], moveNumber: (v) => v + 1,
              open: (v) => opened.push(v)});
          const buttons = [...box.querySelectorAll('.curve-turns button')];
          buttons.forEach((b) => b.click());
          const out = {
            bands: box.querySelectorAll('.curve-band').length,
            marks: [...box.querySelectorAll('.curve-mark-label')].map((t) => t.textContent),
            labels: buttons.map((b) => b.textContent.trim()),
            opened,
            aria: box.querySelector('svg').getAttribute('aria-label'),
          };
          return out;
        }"""
    )
    page.locator("#curve-unit").screenshot(path=str(SCREENSHOTS / "curve-three-seats.png"))
    page.evaluate("document.querySelector('#curve-unit').remove()")
    assert seen["bands"] == 3
    assert seen["marks"] == ["1", "2"]
    assert seen["labels"] == [
        "Move 6, Blue's turn: Red 35% → 60%",
        "Move 13, Red's turn: Red 55% → 20%",
    ]
    assert seen["opened"] == [5, 12]
    assert seen["aria"].endswith("4 turns. At the end: Red 20%, Blue 25%, Green 55%.")
