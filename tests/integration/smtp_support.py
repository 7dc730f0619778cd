"""A real SMTP server for the account tests: aiosmtpd on a free local port (in its own
thread), optionally with STARTTLS or implicit TLS and a password, keeping every mail it
accepted so the tests can read them."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ringrift.ops.services import free_port

TOKEN_RE = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def token(self) -> str:
        match = TOKEN_RE.search(self.body)
        assert match, self.body
        return match.group(1)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.decode() if isinstance(auth, bytes) else None
        with self.sink.lock:
            self.sink.messages.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=message,
                    # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                    tls=session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
                    login=login,
                )
            )
        return "250 Message accepted for delivery"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI)."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class MailSink:
    def __init__(
        self,
        *,
        tls: str = "none",  # "none", "starttls" or "implicit"
        certificate: tuple[Path, Path] | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.credentials = credentials
        kwargs: dict[str, Any] = {}
        if tls != "none":
            assert certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(certificate[0]), str(certificate[1]))
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context, auth_require_tls=False)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            isinstance(data, LoginPassword)
            and self.credentials is not None
            and (data.login.decode(), data.password.decode()) == self.credentials
        ):
            return AuthResult(success=True, auth_data=data.login)
        return AuthResult(success=False, handled=False)

    def start(self) -> MailSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def url(self, scheme: str = "smtp", query: str = "") -> str:
        auth = ""
        if self.credentials is not None:
            auth = f"{self.credentials[0]}:{self.credentials[1]}@"
        return f"{scheme}://{auth}127.0.0.1:{self.port}{'?' + query if query else ''}"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> Received:
        """The ``count``-th mail to ``address`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no mail #{count} to {address} within {timeout}s: {self.messages}")
