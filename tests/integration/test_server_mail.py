"""The mail transport against a real local SMTP server: plain, STARTTLS with a login, implicit
TLS, certificate checks, the outbox and failure accounting."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smtp_support import MailSink, make_certificate

from ringrift.server.config import Settings
from ringrift.server.mail import Mailer, parse_smtp_url
from ringrift.server.metrics import Metrics


def _mailer(**values: Any) -> Mailer:
    return Mailer(Settings(_env_file=None, **values), Metrics())  # type: ignore[call-arg]


def _count(mailer: Mailer, result: str) -> float:
    value = mailer.metrics.registry.get_sample_value("ringrift_mail_total", {"result": result})
    return value or 0.0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def sinks() -> Iterator[list[MailSink]]:
    started: list[MailSink] = []
    yield started
    for sink in started:
        sink.stop()


def test_smtp_url_parsing() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.starttls, plain.implicit_tls) == (
        "mail.example.com",
        25,
        False,
        False,
    )
    submission = parse_smtp_url("smtp://us%40er:p%3Ass@mx:2525?starttls=1")
    assert (submission.port, submission.starttls) == (2525, True)
    assert (submission.username, submission.password) == ("us@er", "p:ss")
    assert parse_smtp_url("smtp://mx?starttls=1").port == 587
    assert parse_smtp_url("smtps://mx").port == 465 and parse_smtp_url("smtps://mx").implicit_tls
    for bad, reason in [
        ("http://mx", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://mx?starttls=maybe", "starttls"),
        ("smtp://mx?tls=1", "unknown parameters"),
        ("smtps://mx?starttls=1", "already uses TLS"),
        ("smtp://mx:99999", "invalid port"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_smtp_url(bad)
    # A bad URL stops the app at start-up, not at the first mail.
    with pytest.raises(ValueError):
        _mailer(smtp_url="ftp://mx")


async def test_plain_smtp_delivers(sinks: list[MailSink]) -> None:
    sink = MailSink().start()
    sinks.append(sink)
    mailer = _mailer(smtp_url=sink.url(), mail_from="Games <games@example.org>")
    mailer.send("pat@example.com", "Hello", "Body line\n")
    await mailer.drain()
    received = await sink.wait_for("pat@example.com")
    assert received.message["From"] == "Games <games@example.org>"
    assert received.message["Subject"] == "Hello" and received.body.strip() == "Body line"
    assert received.tls is False
    assert _count(mailer, "sent") == 1


async def test_starttls_with_login(sinks: list[MailSink], certificate: tuple[Path, Path]) -> None:
    sink = MailSink(tls="starttls", certificate=certificate, credentials=("mailer", "s3cr:t"))
    sinks.append(sink.start())
    url = f"smtp://mailer:s3cr%3At@127.0.0.1:{sink.port}?starttls=1"
    mailer = _mailer(smtp_url=url, smtp_ca_file=str(certificate[0]))
    mailer.send("quin@example.com", "Secure", "over TLS\n")
    await mailer.drain()
    received = await sink.wait_for("quin@example.com")
    assert received.tls is True and received.login == "mailer"

    # Without STARTTLS the server refuses the mail (it requires TLS); the failure is
    # counted, not raised.
    plain = _mailer(smtp_url=f"smtp://mailer:s3cr%3At@127.0.0.1:{sink.port}")
    plain.send("quin@example.com", "Clear", "no\n")
    await plain.drain()
    assert _count(plain, "failed") == 1 and len(sink.to("quin@example.com")) == 1


async def test_starttls_is_never_downgraded(sinks: list[MailSink]) -> None:
    sink = MailSink().start()  # offers no STARTTLS
    sinks.append(sink)
    mailer = _mailer(smtp_url=sink.url(query="starttls=1"))
    mailer.send("uma@example.com", "Must be encrypted", "secret\n")
    await mailer.drain()
    assert _count(mailer, "failed") == 1 and sink.to("uma@example.com") == []


async def test_implicit_tls_verifies_the_certificate(
    sinks: list[MailSink], certificate: tuple[Path, Path]
) -> None:
    sink = MailSink(tls="implicit", certificate=certificate)
    sinks.append(sink.start())
    trusted = _mailer(smtp_url=sink.url("smtps"), smtp_ca_file=str(certificate[0]))
    trusted.send("rui@example.com", "TLS", "implicit\n")
    await trusted.drain()
    assert (await sink.wait_for("rui@example.com")).tls is True

    # The self-signed certificate is not in the system store: refused, counted.
    untrusted = _mailer(smtp_url=sink.url("smtps"))
    untrusted.send("rui@example.com", "TLS", "must not arrive\n")
    await untrusted.drain()
    assert _count(untrusted, "failed") == 1 and len(sink.to("rui@example.com")) == 1


async def test_outbox_files_are_private(tmp_path: Path) -> None:
    outbox = tmp_path / "mail"
    mailer = _mailer(mail_outbox_dir=str(outbox))
    mailer.send("sam@example.com", "One", "first\n")
    mailer.send("sam@example.com", "Two", "second\n")
    await mailer.drain()
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2 and _count(mailer, "outbox") == 2
    assert stat.S_IMODE(os.stat(outbox).st_mode) == 0o700
    assert all(stat.S_IMODE(os.stat(f).st_mode) == 0o600 for f in files)
    assert {"Subject: One", "Subject: Two"} <= {
        line for f in files for line in f.read_text().splitlines()
    }


async def test_no_transport_drops_and_counts() -> None:
    mailer = _mailer()
    assert mailer.transport == "none"
    mailer.send("tom@example.com", "Nowhere", "dropped\n")
    await mailer.drain()
    assert _count(mailer, "dropped") == 1
