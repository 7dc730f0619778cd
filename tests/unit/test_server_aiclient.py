"""AI seat moves: service answer checked for legality, local AI fallback, last-resort move."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ringrift.rules import GameState, Move, legal_moves, new_game
from ringrift.server.aiclient import AIClient
from ringrift.server.metrics import Metrics


def _client(
    handler: Any, local: Any = False, base_url: str = "http://ai"
) -> tuple[AIClient, Metrics, httpx.AsyncClient]:
    metrics = Metrics()
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = AIClient(
        base_url,
        timeout_seconds=1.0,
        fallback_max_level=2,
        metrics=metrics,
        http=http,
        local_chooser=local,
    )
    return client, metrics, http


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


async def test_service_move_is_used_when_legal() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        seen.update(body)
        state = GameState.from_json(body["game_state"])
        return httpx.Response(200, json={"move": legal_moves(state)[-1].to_json()})

    client, metrics, http = _client(handler)
    state = new_game("square8", 2)
    result = await client.choose(state, 1, 7, seed=42)
    await http.aclose()
    assert result.source == "service" and result.move == legal_moves(state)[-1]
    assert seen["player_number"] == 1 and seen["difficulty"] == 7 and seen["seed"] == 42
    assert result.state.move_count == 1
    assert _sample(metrics, "ringrift_ai_moves_total", source="service") == 1


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(503, json={"error": "busy"}), "http_error"),
        (httpx.Response(200, json={"move": {"type": "nonsense"}}), "bad_response"),
        (httpx.Response(200, content=b"not json"), "bad_response"),
        (
            httpx.Response(
                200, json={"move": {"type": "place_ring", "player": 1, "to": {"x": 50, "y": 50}}}
            ),
            "bad_response",
        ),
    ],
)
async def test_bad_service_answers_fall_back_to_local(
    response: httpx.Response, reason: str
) -> None:
    calls: list[tuple[int, int | None]] = []

    def local(state: GameState, level: int, *, seed: int | None = None) -> Move:
        calls.append((level, seed))
        return legal_moves(state)[1]

    client, metrics, http = _client(lambda _request: response, local=local)
    state = new_game("square8", 2)
    result = await client.choose(state, 1, 9, seed=3)
    await http.aclose()
    assert result.source == "local" and result.move == legal_moves(state)[1]
    assert calls == [(2, 3)]  # reduced level, same seed
    assert result.fallback_reason in {reason, "illegal_move"}
    assert _sample(metrics, "ringrift_ai_fallback_total", reason=result.fallback_reason) == 1


async def test_illegal_service_move_and_broken_local_ai_end_with_first_legal_move() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        # Well-formed but not legal now: a movement in the placement phase.
        return httpx.Response(
            200,
            json={
                "move": {
                    "type": "move_stack",
                    "player": 1,
                    "from": {"x": 0, "y": 0},
                    "to": {"x": 0, "y": 1},
                }
            },
        )

    def broken(_state: GameState, _level: int, *, seed: int | None = None) -> Move:
        raise RuntimeError("search exploded")

    client, metrics, http = _client(handler, local=broken)
    state = new_game("hex8", 3)
    result = await client.choose(state, 1, 4, seed=None)
    await http.aclose()
    assert result.source == "fallback" and result.move == legal_moves(state)[0]
    assert result.fallback_reason in {"illegal_move", "bad_response"}
    assert _sample(metrics, "ringrift_ai_moves_total", source="fallback") == 1


async def test_unreachable_or_unconfigured_service() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, _metrics, http = _client(refuse)
    result = await client.choose(new_game("square8", 2), 1, 1, seed=None)
    assert result.source == "fallback" and result.fallback_reason == "unreachable"
    disabled, _m, http2 = _client(refuse, base_url="")
    assert not disabled.enabled
    assert (await disabled.choose(new_game("square8", 2), 1, 1, None)).fallback_reason == (
        "not_configured"
    )
    await http.aclose()
    await http2.aclose()


async def test_a_clock_cap_reaches_the_service_and_the_local_fallback() -> None:
    """An AI seat plays within its clock: the cap goes to the service as ``time_budget_s``
    and to the in-process AI as ``budget_s`` (never above the level's own budget)."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        seen.append(json.loads(request.content))
        return httpx.Response(503, json={"error": "busy"})

    budgets: list[float | None] = []

    def local(
        state: GameState, level: int, *, seed: int | None = None, budget_s: float | None = None
    ) -> Move:
        budgets.append(budget_s)
        return legal_moves(state)[0]

    client, _metrics, http = _client(handler, local=local)
    state = new_game("square8", 2)
    capped = await client.choose(state, 1, 7, seed=1, budget_s=0.0123)
    roomy = await client.choose(state, 1, 2, seed=1, budget_s=500.0)
    plain = await client.choose(state, 1, 2, seed=1)
    await http.aclose()
    assert capped.source == roomy.source == plain.source == "local"
    assert seen[0]["time_budget_s"] == 0.012 and "time_budget_s" not in seen[2]
    from ringrift.ai import level_budget

    assert budgets == [0.0123, level_budget(2), None]
