"""Hypothesis against the sandbox and analysis routes: whatever a client sends (junk bodies,
mutated positions, moves of the wrong shape) is answered 200 or a 4xx with an error code, never
a 5xx; and a refused move changes nothing (the same position still plays)."""

from __future__ import annotations

import copy
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_support import LiveServer, make_settings

from ringrift.rules import apply_move, legal_moves, new_game
from ringrift.server.app import create_app

json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _position(board: str, plies: int) -> dict[str, Any]:
    state = new_game(board, 2)
    rng = random.Random(plies)
    for _ in range(plies):
        if state.game_status != "active":
            break
        state = apply_move(state, rng.choice(legal_moves(state)))
    return state.to_json(include_history=False)


BASES = [_position("square8", 0), _position("square8", 9), _position("hex8", 5)]


@pytest.fixture(scope="module")
def http(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    target = tmp_path_factory.mktemp("fuzz") / "ringrift.db"
    shutil.copyfile(sqlite_template, target)
    app = create_app(
        make_settings(
            f"sqlite+aiosqlite:///{target}",
            rate_limit_sandbox=0,
            rate_limit_analysis=0,
            ai_fallback_max_level=1,
        )
    )
    server = LiveServer(app).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """Replace the value at a path of keys/indexes chosen from the document (best effort)."""
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            node = node[sorted(node)[step % len(node)]]
        elif isinstance(node, list) and node:
            node = node[step % len(node)]
        else:
            return out
    last = path[-1]
    if isinstance(node, dict) and node:
        node[sorted(node)[last % len(node)]] = value
    elif isinstance(node, list) and node:
        node[last % len(node)] = value
    return out


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(
    route=st.sampled_from(
        ["/api/sandbox/new", "/api/sandbox/move", "/api/sandbox/ai", "/api/analysis"]
    ),
    body=json_value,
)
def test_junk_bodies_get_4xx(http: httpx.Client, route: str, body: Any) -> None:
    _check(http.post(route, json=body))


@FUZZ
@given(
    base=st.sampled_from(range(len(BASES))),
    path=st.lists(st.integers(0, 50), min_size=1, max_size=4),
    value=json_value,
    seat=st.integers(-2, 6),
    level=st.integers(-1, 12),
)
def test_mutated_positions_never_break_the_sandbox(
    http: httpx.Client, base: int, path: list[int], value: Any, seat: int, level: int
) -> None:
    state = _mutate(BASES[base], path, value)
    moves = [{"type": "no_line_action", "player": 1}, {"type": "place_ring", "player": 1}]
    for route, body in (
        ("/api/sandbox/move", {"state": state, "move": moves[path[0] % 2], "seat": seat}),
        ("/api/sandbox/ai", {"state": state, "seat": seat, "level": level}),
        ("/api/analysis", {"state": state, "level": max(1, min(level, 2))}),
    ):
        _check(http.post(route, json=body))


@FUZZ
@given(
    move=json_value
    | st.fixed_dictionaries({"type": st.text(max_size=20), "player": json_leaf, "to": json_value})
)
def test_refused_moves_change_nothing(http: httpx.Client, move: Any) -> None:
    start = http.post("/api/sandbox/new", json={"boardType": "square8"}).json()["data"]
    snapshot = copy.deepcopy(start["state"])
    response = http.post(
        "/api/sandbox/move", json={"state": start["state"], "move": move, "seat": 1}
    )
    _check(response)
    assert start["state"] == snapshot
    if response.status_code != 200:
        again = http.post(
            "/api/sandbox/move",
            json={"state": start["state"], "move": start["legalMoves"][0], "seat": 1},
        )
        assert again.status_code == 200
