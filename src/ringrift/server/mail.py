"""Outgoing account mail (verification links, password resets).

``SMTP_URL`` selects the transport:

* ``smtp://[user:password@]host[:port]`` plain SMTP (port 25 by default), with ``?starttls=1``
  to upgrade the connection with STARTTLS before logging in (port 587 by default);
* ``smtps://[user:password@]host[:port]`` SMTP over implicit TLS (port 465 by default).

TLS always verifies the server certificate (against ``SMTP_CA_FILE`` when set). Without
``SMTP_URL`` each mail is written as one ``.eml`` file (mode 0600) to ``MAIL_OUTBOX_DIR``; with
neither it is dropped. Every outcome is logged (recipient domain only) and counted in
``ringrift_mail_total``.

Sending never blocks a request: :meth:`Mailer.send` queues the delivery as a background task
that runs the blocking ``smtplib`` session in a thread, so a slow or failing mail server
neither delays the answer nor shows in it (the reset route answers the same for every email).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ringrift.server.config import Settings
from ringrift.server.db.models import utcnow
from ringrift.server.metrics import Metrics

log = logging.getLogger("ringrift.server.mail")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``SMTP_URL``; a ``ValueError`` names the problem (never the password)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host")
    query = {k.lower(): v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"SMTP_URL has unknown parameters: {', '.join(sorted(unknown))}")
    flag = query.get("starttls", "")
    if flag not in _TRUE | _FALSE:
        raise ValueError("SMTP_URL starttls must be 1 or 0")
    starttls = flag in _TRUE
    implicit = scheme == "smtps"
    if implicit and starttls:
        raise ValueError("SMTP_URL: smtps:// already uses TLS; drop starttls")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError("SMTP_URL has an invalid port") from error
    default_port = 465 if implicit else (587 if starttls else 25)
    return SmtpTarget(
        host=parts.hostname,
        port=port or default_port,
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "?"


class Mailer:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.target = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        self.outbox = Path(settings.mail_outbox_dir) if settings.mail_outbox_dir else None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def transport(self) -> str:
        if self.target is not None:
            return "smtp"
        return "outbox" if self.outbox is not None else "none"

    def build(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(domain="ringrift")
        message.set_content(body)
        return message

    def send(self, to: str, subject: str, body: str) -> None:
        """Queue one mail; returns at once and never raises (outcomes go to log and metrics)."""
        message = self.build(to, subject, body)
        task = asyncio.get_running_loop().create_task(self._deliver(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def background(self, work: Coroutine[object, object, None], what: str) -> None:
        """Run account work that sends mail after the response (errors are logged)."""

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("background account work failed", extra={"work": what})

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for queued mails (shutdown, tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # Background work queues mails of its own: wait until nothing is left.
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(list(self._tasks), timeout=deadline - loop.time())

    async def _deliver(self, message: EmailMessage) -> None:
        domain = _domain(str(message["To"]))
        started = time.perf_counter()
        try:
            if self.target is not None:
                await asyncio.to_thread(self._send_smtp, self.target, message)
                result, where = "sent", f"{self.target.host}:{self.target.port}"
            elif self.outbox is not None:
                path = await asyncio.to_thread(self._write_outbox, self.outbox, message)
                result, where = "outbox", str(path)
            else:
                result, where = "dropped", "no SMTP_URL or MAIL_OUTBOX_DIR configured"
        except Exception as error:
            self.metrics.mail.labels(result="failed").inc()
            log.error(
                "mail delivery failed",
                extra={
                    "toDomain": domain,
                    "subject": str(message["Subject"]),
                    "error": f"{type(error).__name__}: {str(error)[:200]}",
                },
            )
            return
        self.metrics.mail.labels(result=result).inc()
        log.log(
            logging.WARNING if result == "dropped" else logging.INFO,
            "mail %s",
            result,
            extra={
                "toDomain": domain,
                "subject": str(message["Subject"]),
                "where": where,
                "durationMs": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.smtp_ca_file or None)

    def _send_smtp(self, target: SmtpTarget, message: EmailMessage) -> None:
        timeout = self.settings.smtp_timeout_seconds
        client: smtplib.SMTP
        if target.implicit_tls:
            client = smtplib.SMTP_SSL(
                target.host, target.port, timeout=timeout, context=self._tls_context()
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with client:
            client.ehlo()
            if target.starttls:
                client.starttls(context=self._tls_context())
                client.ehlo()
            if target.username is not None:
                client.login(target.username, target.password or "")
            client.send_message(message)

    @staticmethod
    def _write_outbox(directory: Path, message: EmailMessage) -> Path:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}.eml"
        path = directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with contextlib.closing(os.fdopen(fd, "wb")) as handle:
            handle.write(message.as_bytes())
        return path
