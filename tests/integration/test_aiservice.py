"""The AI service over real HTTP: a `python -m ringrift.aiservice serve` subprocess."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringrift.rules import GameState, Move, apply_move, legal_moves, new_game

VECTORS = Path(__file__).resolve().parents[1] / "data" / "contract-v2"
SCALE = 0.05  # level 10 thinks for 0.25 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ringrift.aiservice",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--budget-scale",
            str(SCALE),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("service did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def client(service: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service, timeout=30) as c:
        yield c


def vector_states() -> list[dict[str, Any]]:
    """Active contract-vector states the engine loads, one per file at most."""
    found = []
    for path in sorted(VECTORS.glob("*.vectors.json")):
        for vector in json.loads(path.read_text())["vectors"]:
            raw = vector.get("input", {}).get("state")
            try:
                state = GameState.from_json(raw)
            except Exception:
                continue
            if state.game_status == "active" and legal_moves(state):
                found.append(raw)
                break
    return found


def midgame_json(board: str, players: int, plies: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    state = new_game(board, players)
    for _ in range(plies):
        nxt = apply_move(state, rng.choice(legal_moves(state)))
        if nxt.game_status != "active":
            break
        state = nxt
    return state.to_json()


def assert_legal(state_json: dict[str, Any], move_json: dict[str, Any]) -> None:
    state = GameState.from_json(state_json)
    apply_move(state, Move.from_json(move_json))


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["code"])


def test_health_ready_metrics(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    client.get("/health")
    text = client.get("/metrics").text
    assert 'ringrift_ai_requests_total{endpoint="/health",status="200"}' in text
    assert "ringrift_ai_request_seconds_bucket" in text
    assert "ringrift_ai_errors_total" in text or "# TYPE ringrift_ai_errors" in text


def test_contract_vector_states_get_legal_moves(client: httpx.Client) -> None:
    states = vector_states()
    assert len(states) >= 5
    for i, raw in enumerate(states):
        player = GameState.from_json(raw).current_player
        body = {"game_state": raw, "player_number": player, "difficulty": 1 + i % 10, "seed": i}
        response = client.post("/ai/move", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        assert set(data) >= {"move", "evaluation", "thinking_time_ms", "difficulty"}
        assert data["difficulty"] == 1 + i % 10
        assert_legal(raw, data["move"])


@pytest.mark.parametrize(("board", "players"), [("square8", 2), ("hex8", 3), ("square19", 4)])
def test_every_board_and_level(client: httpx.Client, board: str, players: int) -> None:
    raw = midgame_json(board, players, 40, 3)
    player = GameState.from_json(raw).current_player
    for level in (1, 4, 7, 10):
        response = client.post(
            "/ai/move", json={"game_state": raw, "player_number": player, "difficulty": level}
        )
        assert response.status_code == 200, response.text
        assert_legal(raw, response.json()["move"])
        # Within the level's scaled budget (250 ms at level 10, the largest), with 10 % plus
        # 150 ms of slack: at this scale one descheduling of the service on a loaded two-core
        # machine is as long as the margin (a fresh-clone run measured 294 ms). An unscaled or
        # ignored budget (5,000 ms) still fails by far. Budget adherence at real budgets is
        # measured by the arena ladder (README, "AI think-time budget").
        assert response.json()["thinking_time_ms"] <= 5000 * SCALE * 1.1 + 150


def test_same_seed_same_move_at_the_random_level(client: httpx.Client) -> None:
    # Time-budgeted levels depend on the clock; level 1 depends on the seed alone.
    raw = midgame_json("square8", 2, 50, 8)
    player = GameState.from_json(raw).current_player
    body = {"game_state": raw, "player_number": player, "difficulty": 1, "seed": 77}
    first = client.post("/ai/move", json=body).json()["move"]
    assert client.post("/ai/move", json=body).json()["move"] == first
    moves = {
        json.dumps(client.post("/ai/move", json={**body, "seed": s}).json()["move"])
        for s in range(8)
    }
    assert len(moves) > 1


def test_bad_requests(client: httpx.Client) -> None:
    raw = midgame_json("square8", 2, 30, 1)
    player = GameState.from_json(raw).current_player
    other = 2 if player == 1 else 1
    good = {"game_state": raw, "player_number": player, "difficulty": 3}

    def post(body: Any) -> httpx.Response:
        return client.post("/ai/move", json=body)

    unknown_board = copy.deepcopy(raw)
    unknown_board["board"]["type"] = "octagon"
    r = post({**good, "game_state": unknown_board})
    assert r.status_code == 400 and error_code(r) == "unknown_board"

    broken = copy.deepcopy(raw)
    broken["board"]["stacks"] = {"99,99": {"rings": [1]}}
    r = post({**good, "game_state": broken})
    assert r.status_code == 400 and error_code(r) == "invalid_state"

    r = post({**good, "game_state": {"hello": "world"}})
    assert r.status_code == 400 and error_code(r) == "invalid_state"

    r = post({**good, "player_number": other})
    assert r.status_code == 400 and error_code(r) == "wrong_player"

    r = post({**good, "player_number": 4})
    assert r.status_code in (400, 422) and error_code(r) == "wrong_player"

    for difficulty in (0, 11, -3, "hard", 2.5, None, True):
        r = post({**good, "difficulty": difficulty})
        assert r.status_code == 422, difficulty
        assert error_code(r) == "invalid_request"

    for missing in ("game_state", "player_number", "difficulty"):
        r = post({k: v for k, v in good.items() if k != missing})
        assert r.status_code == 422 and error_code(r) == "invalid_request"

    r = client.post("/ai/move", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and error_code(r) == "invalid_json"

    r = post([1, 2, 3])
    assert r.status_code == 422

    r = client.get("/ai/move")
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"
    r = client.get("/nowhere")
    assert r.status_code == 404 and error_code(r) == "not_found"

    # A finished game.
    rng = random.Random(2)
    state = new_game("square8", 2)
    while state.game_status == "active":
        state = apply_move(state, rng.choice(legal_moves(state)))
    r = post({**good, "game_state": state.to_json(), "player_number": state.current_player})
    assert r.status_code == 400 and error_code(r) == "game_over"

    # The service still works and counted the errors.
    assert post(good).status_code == 200
    assert 'ringrift_ai_errors_total{code="wrong_player"}' in client.get("/metrics").text


def test_concurrent_requests_do_not_block(service: str) -> None:
    raw = midgame_json("square8", 2, 30, 3)
    position = GameState.from_json(raw)
    # A position with a real choice, so every search uses its whole budget.
    assert len(legal_moves(position)) > 100
    body = {"game_state": raw, "player_number": position.current_player, "difficulty": 10}

    def search() -> tuple[int, float]:
        r = httpx.post(f"{service}/ai/move", json=body, timeout=30)
        return r.status_code, time.perf_counter()

    # Six searches on two workers keep the pool busy for three budgets in a row. A search on
    # the event loop would hold /health until the queue drained; a free loop answers at once.
    # Only the ordering is asserted, with a loose latency cap: on a busy 2-core CI machine the
    # service process gets a small share of the CPU and a tight wall-clock bound flakes.
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(search) for _ in range(6)]
        time.sleep(0.05)
        started = time.perf_counter()
        health = httpx.get(f"{service}/health", timeout=10)
        health_done = time.perf_counter()
        results = [f.result() for f in futures]
    assert health.status_code == 200
    assert all(code == 200 for code, _ in results)
    last_search_done = max(done for _, done in results)
    assert health_done < last_search_done, "/health waited for the searches to finish"
    assert health_done - started < 1.0, "the event loop must stay free while searches run"


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(st.binary(max_size=200), JSON_VALUE.map(lambda v: json.dumps(v).encode())))
def test_garbage_bodies_get_4xx(service: str, body: bytes) -> None:
    r = httpx.post(
        f"{service}/ai/move",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    assert "error" in r.json()


_VALID = midgame_json("hex8", 2, 35, 4)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.lists(st.sampled_from(sorted(_VALID)), min_size=1, max_size=1),
    replacement=JSON_VALUE,
    difficulty=st.one_of(st.integers(-1, 4), JSON_LEAF),
)
def test_mutated_states_never_give_5xx(
    service: str, path: list[str], replacement: Any, difficulty: Any
) -> None:
    state = copy.deepcopy(_VALID)
    state[path[0]] = replacement
    body = {"game_state": state, "player_number": _VALID["currentPlayer"], "difficulty": difficulty}
    r = httpx.post(f"{service}/ai/move", json=body, timeout=30)
    assert r.status_code < 500, (path, replacement, difficulty, r.text)
    if r.status_code == 200:
        assert_legal(state, r.json()["move"])
    else:
        assert "error" in r.json()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_search_process_outlives_the_service(sig: signal.Signals) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "ringrift.aiservice", "serve", "--port", str(port)),
            *("--workers", "2", "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert len(workers) >= 2
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=15)
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "orphaned worker processes"


def test_a_time_budget_caps_the_search(client: httpx.Client) -> None:
    """An AI seat plays within its game clock: ``time_budget_s`` below the level's budget
    (level 10 thinks 0.25 s here) shortens the search; a bad value is refused."""
    raw = midgame_json("square8", 2, 12, 2)  # 178 legal moves: level 10 uses its budget
    player = GameState.from_json(raw).current_player
    good = {"game_state": raw, "player_number": player, "difficulty": 10}
    capped = client.post("/ai/move", json={**good, "time_budget_s": 0.01})
    assert capped.status_code == 200, capped.text
    assert_legal(raw, capped.json()["move"])
    assert capped.json()["thinking_time_ms"] < 150
    roomy = client.post("/ai/move", json={**good, "time_budget_s": 60})  # the level's budget wins
    assert roomy.status_code == 200 and roomy.json()["thinking_time_ms"] >= 150
    for bad in (0, -1, "fast", 601):
        r = client.post("/ai/move", json={**good, "time_budget_s": bad})
        assert r.status_code == 422 and error_code(r) == "invalid_request", bad
