"""A statement's span is named by its SQL verb, including a statement led by a common table
expression, whose verb is PostgreSQL's command tag (the move's write: ``WITH ... INSERT``)."""

from __future__ import annotations

import pytest

from ringrift.server.db.spans import _operation
from ringrift.server.services.pgmoves import _ADVANCE


@pytest.mark.parametrize(
    ("statement", "verb"),
    [
        ("select 1", "SELECT"),
        ("  UPDATE games SET version = 2", "UPDATE"),
        ("WITH a AS (SELECT (1)) SELECT * FROM a", "SELECT"),
        (
            "WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING id) INSERT INTO u SELECT 1",
            "INSERT",
        ),
        ("WITH a AS (UPDATE t SET x = 1 RETURNING id) DELETE FROM u", "DELETE"),
        ("WITH a AS (SELECT 1)", "WITH"),  # no statement after the expressions
        ("", "SQL"),
    ],
)
def test_operation(statement: str, verb: str) -> None:
    assert _operation(statement) == verb


def test_the_move_write_is_an_insert() -> None:
    assert {_operation(sql) for sql in _ADVANCE.values()} == {"INSERT"}
