"""One client span per SQL statement, hung on SQLAlchemy's cursor events.

The events fire on the sync engine underneath the async one; SQLAlchemy runs them in a
greenlet that carries the caller's context, so the span becomes a child of the HTTP request
or WebSocket frame that issued the statement. Statements run outside any span (background
sweeps) are not traced (``Tracing.start_child``).
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry.trace import Span
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ringrift.server.tracing import SpanKind, Tracing, mark_error

# The statement text is kept (parameters are never in it: they are bound separately), cut to
# a size that a trace backend stores without complaint.
MAX_STATEMENT_CHARS: Final = 2000
_SPAN_KEY: Final = "_ringrift_span"


def _operation(statement: str) -> str:
    """The SQL verb (``SELECT``, ``INSERT`` ...) that names the span: the first word, or for a
    statement with a common table expression (``WITH x AS (...) INSERT ...``) the verb of the
    statement after the last one, which is the verb of PostgreSQL's command tag."""
    words = statement.lstrip().split(None, 1)
    if not words:
        return "SQL"
    verb = words[0].upper()
    if verb == "WITH":
        return _after_ctes(statement) or verb
    return verb


def _after_ctes(statement: str) -> str | None:
    """The verb after ``WITH a AS (...), b AS (...)``: the first word found at parenthesis
    depth 0 once a parenthesised body has closed and no comma follows it."""
    depth = 0
    closed = False
    word = ""
    for char in statement:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            closed = depth == 0
        elif depth == 0 and closed:
            if char == ",":
                closed = False
            elif char.isalpha():
                word += char
            elif word:
                break
    return word.upper() if word.upper() in _MAIN_VERBS else None


_MAIN_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def statement_span(tracing: Tracing, system: str, namespace: str, statement: str) -> Span | None:
    """A started client span for one statement (None outside a traced request); the caller
    ends it."""
    operation = _operation(statement)
    return tracing.start_child(
        f"{operation} {namespace}" if namespace else operation,
        SpanKind.CLIENT,
        {
            "db.system.name": system,
            "db.namespace": namespace,
            "db.operation.name": operation,
            "db.query.text": statement[:MAX_STATEMENT_CHARS],
        },
    )


def instrument_engine(engine: Engine, tracing: Tracing, system: str, namespace: str) -> None:
    """Trace every statement ``engine`` runs (nothing is attached while tracing is off)."""
    if not tracing.enabled:
        return

    @event.listens_for(engine, "before_cursor_execute")
    def _before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = statement_span(tracing, system, namespace, statement)
        if span is not None and context is not None:
            setattr(context, _SPAN_KEY, span)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN_KEY, None)

    @event.listens_for(engine, "handle_error")
    def _error(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN_KEY, None) if context is not None else None
        if span is None:
            return
        error = exception_context.original_exception
        span.record_exception(error)
        mark_error(span, type(error).__name__)
        span.end()
        setattr(context, _SPAN_KEY, None)
