"""Structured JSON logging with the current request id attached to every record, and the
trace and span ids while a span is active (so a log line leads to its trace and back)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from ringrift.server.tracing import current_trace_ids

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ringrift_request_id", default=None
)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Query-string values in log lines (uvicorn logs the WebSocket handshake with its full URL, and
# clients have put access tokens there): ``?token=eyJ...`` -> ``?token=[redacted]``.
_QUERY_VALUE = re.compile(r"([?&][^=&\s\"'#]{1,64}=)[^&\s\"'#]+")


def scrub_query_strings(text: str) -> str:
    """Replace every query-string value in ``text`` by ``[redacted]``."""
    return _QUERY_VALUE.sub(r"\1[redacted]", text)


# Attributes every LogRecord has; anything else came in via ``extra=`` and is emitted as a field.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """Use the caller's X-Request-ID when it is sane, otherwise mint one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub_query_strings(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        ids = current_trace_ids()
        if ids is not None:
            entry["traceId"], entry["spanId"] = ids
        for key, value in record.__dict__.items():
            if key in _RESERVED or key == "request_id" or key.startswith("_"):
                continue
            entry[key] = scrub_query_strings(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO") -> None:
    """Send every log record (ours, uvicorn's, SQLAlchemy's) to stderr as one JSON line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our own middleware writes one access line per request with the request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
