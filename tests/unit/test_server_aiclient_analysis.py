"""The AI client's analysis: the service's answer is used only when every move in it is legal;
otherwise (or when the service is down) the in-process analysis answers at a capped level."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ringrift.ai.analysis import analyze
from ringrift.rules import GameState, new_game
from ringrift.server.aiclient import AIClient
from ringrift.server.metrics import Metrics


def _client(handler: Any, base_url: str = "http://ai") -> tuple[AIClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = AIClient(
        base_url, timeout_seconds=2.0, fallback_max_level=2, metrics=Metrics(), http=http
    )
    return client, http


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    state = GameState.from_json(body["game_state"])
    return analyze(state, body["level"], top=body["top"], node_limit=5000).to_json()


async def test_service_analysis_is_used_when_legal() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, json=_answer(body))

    client, http = _client(handler)
    result = await client.analyze(new_game("square8", 2), 6, 2)
    await http.aclose()
    assert result.source == "service" and result.fallback_reason is None
    assert seen[0]["level"] == 6 and seen[0]["top"] == 2
    assert "moveHistory" not in seen[0]["game_state"]
    assert len(result.doc["top_moves"]) == 2


async def test_illegal_or_malformed_answers_fall_back_in_process() -> None:
    answers: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        doc = _answer(json.loads(request.content))
        answers.append(doc)
        if len(answers) == 1:
            doc["top_moves"][0]["move"] = {
                "type": "place_ring",
                "player": 1,
                "to": {"x": 9, "y": 9},
            }
        elif len(answers) == 2:
            doc["seats"] = []
        else:
            return httpx.Response(503, json={"error": {"code": "busy"}})
        return httpx.Response(200, json=doc)

    client, http = _client(handler)
    for expected in ("bad_response", "bad_response", "http_error"):
        result = await client.analyze(new_game("square8", 2), 8, 3)
        assert result.source == "local" and result.fallback_reason == expected
        assert result.doc["level"] == 2  # capped like the move fallback
    await http.aclose()


async def test_not_configured_analyses_locally() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # never called
        raise AssertionError(request.url)

    client, http = _client(handler, base_url="")
    result = await client.analyze(new_game("hex8", 3), 1, 1)
    await http.aclose()
    assert result.source == "local" and result.fallback_reason == "not_configured"
    assert len(result.doc["seats"]) == 3
