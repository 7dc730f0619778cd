"""``bench ws`` reads the app's ack latency from two readings of its cumulative histogram."""

from __future__ import annotations

from ringrift.ops.bench.ws import server_quantiles


def test_quantiles_come_from_the_moves_between_the_readings() -> None:
    before = {0.005: 100.0, 0.025: 100.0, 0.1: 100.0, float("inf"): 100.0}
    # 100 moves in this round: 60 within 5 ms, 30 more within 25 ms, 10 more within 100 ms.
    after = {0.005: 160.0, 0.025: 190.0, 0.1: 200.0, float("inf"): 200.0}
    assert server_quantiles(before, after) == {"n": 100, "p50AtMost": 5.0, "p95AtMost": 100.0}


def test_a_round_without_moves_has_no_quantiles() -> None:
    reading = {0.005: 7.0, float("inf"): 7.0}
    assert server_quantiles(reading, reading) == {"n": 0, "p50AtMost": None, "p95AtMost": None}
    assert server_quantiles({}, {}) == {"n": 0, "p50AtMost": None, "p95AtMost": None}
