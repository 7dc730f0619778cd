"""Invite tokens: unguessable, compared in constant time, and only the exact token of the
game lets an unseated user in (property tests over arbitrary strings)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringrift.server.db.models import Game, User
from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.services import invites
from ringrift.server.wsinput import FrameError, invite_of

TOKEN = invites.new_token()


def _game(private: bool = True, token: str | None = TOKEN) -> Game:
    return Game(id="g", is_private=private, invite_token=token)


def _user() -> User:
    return User(id="u", username="u")


def test_tokens_are_long_and_distinct() -> None:
    tokens = {invites.new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) >= 32 for t in tokens)  # 192 bits of url-safe base64


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=140))
def test_only_the_exact_token_opens_a_private_game(given_token: str) -> None:
    if given_token == TOKEN:
        invites.check_access(_game(), False, _user(), given_token)
        return
    with pytest.raises(ApiError) as refused:
        invites.check_access(_game(), False, _user(), given_token)
    assert refused.value.code == ErrorCode.GAME_INVITE_INVALID
    assert refused.value.status == 403


@given(st.one_of(st.none(), st.text(max_size=40)))
def test_public_games_and_seated_players_need_no_token(given_token: str | None) -> None:
    invites.check_access(_game(private=False, token=None), False, None, given_token)
    invites.check_access(_game(), True, _user(), given_token)


def test_missing_token_anonymous_and_tokenless_games() -> None:
    with pytest.raises(ApiError) as missing:
        invites.check_access(_game(), False, _user(), None)
    assert missing.value.code == ErrorCode.RESOURCE_ACCESS_DENIED
    with pytest.raises(ApiError) as anonymous:
        invites.check_access(_game(), False, None, TOKEN)
    assert anonymous.value.code == ErrorCode.AUTH_REQUIRED
    with pytest.raises(ApiError) as none:
        invites.check_access(_game(token=None), False, _user(), TOKEN)
    assert none.value.code == ErrorCode.GAME_INVITE_INVALID
    assert not invites.matches(None, "") and not invites.matches("", "")


@given(
    st.one_of(
        st.integers(),
        st.booleans(),
        st.lists(st.text(max_size=3), max_size=2),
        st.text(min_size=129, max_size=200),
        st.just(""),
    )
)
def test_socket_invite_fields_that_are_not_short_strings_are_refused(value: object) -> None:
    with pytest.raises(FrameError) as refused:
        invite_of({"invite": value})
    assert refused.value.code == ErrorCode.VALIDATION_FAILED


@given(st.text(min_size=1, max_size=128))
def test_socket_invite_strings_are_taken_as_given(value: str) -> None:
    assert invite_of({"invite": value}) == value
    assert invite_of({}) is None
