"""Chat rules that need no server: body cleaning, channel visibility, the join frame's chat
field and the bus form of chat events."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringrift.server.db.vocab import ChatChannel
from ringrift.server.events import ChatEvent, event_from_json
from ringrift.server.services.chat import (
    MAX_BODY,
    ChatBodyError,
    can_read,
    clean_body,
    readable,
)
from ringrift.server.wsinput import FrameError, chat_after_of

FORBIDDEN = {"Cc", "Cs", "Zl", "Zp"}


@given(st.text(max_size=MAX_BODY + 40))
def test_clean_body_accepts_exactly_the_allowed_bodies(raw: str) -> None:
    trimmed = raw.strip()
    allowed = 1 <= len(trimmed) <= MAX_BODY and not any(
        unicodedata.category(ch) in FORBIDDEN for ch in trimmed
    )
    if allowed:
        assert clean_body(raw) == trimmed
    else:
        with pytest.raises(ChatBodyError):
            clean_body(raw)


@given(st.one_of(st.none(), st.integers(), st.lists(st.text()), st.binary()))
def test_clean_body_rejects_non_strings(raw: object) -> None:
    with pytest.raises(ChatBodyError):
        clean_body(raw)


def test_html_is_kept_verbatim_and_limits_are_exact() -> None:
    payload = "<img src=x onerror=alert(1)>"
    assert clean_body(f"  {payload}\u00a0") == payload
    assert clean_body("é" * MAX_BODY) == "é" * MAX_BODY
    for bad in ("", "   ", "a" * (MAX_BODY + 1), "a\nb", "tab\there", "\u2028", "x\x7f"):
        with pytest.raises(ChatBodyError):
            clean_body(bad)


@pytest.mark.parametrize(
    ("seat", "status", "channels"),
    [
        (1, "waiting", {ChatChannel.PLAYERS}),
        (1, "active", {ChatChannel.PLAYERS}),
        (2, "completed", {ChatChannel.PLAYERS, ChatChannel.SPECTATORS}),
        (2, "cancelled", {ChatChannel.PLAYERS, ChatChannel.SPECTATORS}),
        (None, "active", {ChatChannel.SPECTATORS}),
        (None, "completed", {ChatChannel.SPECTATORS}),
        (1, None, {ChatChannel.PLAYERS}),
    ],
)
def test_who_reads_which_channel(seat: int | None, status: str | None, channels: set[str]) -> None:
    assert set(readable(seat, status)) == channels
    assert not can_read("lobby", None, "active")


@given(
    st.dictionaries(
        st.sampled_from(["players", "spectators"]), st.integers(min_value=0, max_value=2**31)
    )
)
def test_chat_after_accepts_seqs_per_channel(value: dict[str, int]) -> None:
    assert chat_after_of({"chat": value}) == value


@given(
    st.one_of(
        st.dictionaries(
            st.text().filter(lambda k: k not in ("players", "spectators")),
            st.integers(),
            min_size=1,
        ),
        st.dictionaries(
            st.just("players"),
            st.one_of(st.integers(max_value=-1), st.text(), st.booleans(), st.floats()),
            min_size=1,
        ),
        st.lists(st.integers()),
        st.text(),
        st.integers(),
    )
)
def test_chat_after_rejects_anything_else(value: object) -> None:
    with pytest.raises(FrameError):
        chat_after_of({"chat": value})


def test_chat_events_survive_the_bus_form() -> None:
    event = ChatEvent("g1", "players", 7, {"id": "m", "seq": 7, "body": "<b>x</b>"}, True)
    assert event_from_json(event.to_json()) == event
    broken = {**event.to_json(), "message": "not an object"}
    assert event_from_json(broken) is None
