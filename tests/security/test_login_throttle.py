"""Login throttling: an attacker cannot lock the owner out, cannot spray passwords across
accounts, cannot escape the limits by forging X-Forwarded-For, and cannot tell known emails
from unknown ones by the answers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from realtime_support import Process, app_process

PASSWORD = "violet-anchor-harbor-71"


@pytest.fixture(scope="module")
def behind_proxy(pg_database: str) -> Iterator[Process]:
    """An app that believes X-Forwarded-For from 127.0.0.1 (the test client is its proxy)."""
    process = app_process(pg_database, trusted_proxies="127.0.0.1").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def direct(pg_database: str) -> Iterator[Process]:
    """An app with the default settings: no proxy is trusted."""
    process = app_process(pg_database).start()
    yield process
    process.stop()


def _register(http: httpx.Client, address: str) -> dict[str, Any]:
    name = "v" + uuid.uuid4().hex[:10]
    email = f"{name}@example.com"
    response = http.post(
        "/api/auth/register",
        json={"email": email, "username": name, "password": PASSWORD},
        headers={"X-Forwarded-For": address},
    )
    assert response.status_code == 202, response.text
    signed_in = _login(http, email, PASSWORD, address)
    assert signed_in.status_code == 200, signed_in.text
    return {"email": email, "id": signed_in.json()["data"]["user"]["id"]}


def _login(http: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    return http.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def _codes(responses: list[httpx.Response]) -> list[str]:
    return [r.json()["error"]["code"] if r.status_code != 200 else "OK" for r in responses]


def test_wrong_passwords_do_not_lock_the_owner_out(behind_proxy: Process) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as http:
        victim = _register(http, "10.1.0.1")
        assert _login(http, victim["email"], PASSWORD, "10.1.0.1").status_code == 200

        # One attacker address: five guesses, then that address waits.
        guesses = [_login(http, victim["email"], f"guess-{i}", "10.66.0.1") for i in range(7)]
        assert _codes(guesses) == ["AUTH_INVALID_CREDENTIALS"] * 5 + ["AUTH_LOGIN_LOCKED_OUT"] * 2
        assert int(guesses[-1].headers["Retry-After"]) >= 1
        # Even the right password from the attacker's address waits.
        assert _login(http, victim["email"], PASSWORD, "10.66.0.1").status_code == 429

        # The owner logs in at once, from the known address and from a new one.
        assert _login(http, victim["email"], PASSWORD, "10.1.0.1").status_code == 200
        assert _login(http, victim["email"], PASSWORD, "10.1.0.2").status_code == 200


def test_distributed_guessing_slows_the_account_but_not_its_known_addresses(
    behind_proxy: Process,
) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as http:
        victim = _register(http, "10.2.0.1")
        assert _login(http, victim["email"], PASSWORD, "10.2.0.1").status_code == 200
        # 20 botnet addresses, one guess each: the account's failure budget is spent.
        for i in range(20):
            assert _login(http, victim["email"], "nope", f"10.77.{i}.1").status_code == 401
        # From an unknown address even the right password now waits...
        stranger = _login(http, victim["email"], PASSWORD, "10.88.0.1")
        assert stranger.status_code == 429
        assert stranger.json()["error"]["code"] == "AUTH_LOGIN_LOCKED_OUT"
        # ...but the owner's known address is not slowed down.
        assert _login(http, victim["email"], PASSWORD, "10.2.0.1").status_code == 200


def test_password_spraying_across_accounts_is_limited_per_address(behind_proxy: Process) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as http:
        emails = [f"spray-{uuid.uuid4().hex[:8]}@example.com" for _ in range(55)]
        responses = [_login(http, email, "Winter2026!", "10.99.0.1") for email in emails]
        codes = _codes(responses)
        assert codes[:50] == ["AUTH_INVALID_CREDENTIALS"] * 50
        assert set(codes[50:]) == {"AUTH_LOGIN_LOCKED_OUT"}
        # Other addresses are not affected.
        assert _login(http, emails[0], "x", "10.99.0.2").status_code == 401


def _wait_free(answer: tuple[int, str, str]) -> tuple[int, str, str]:
    return answer[0], answer[1], re.sub(r"\d+s\b", "Ns", answer[2])


def _seconds_left(message: str) -> int:
    found = re.search(r"(\d+)s\b", message)
    return int(found.group(1)) if found else 0


def test_known_and_unknown_emails_answer_alike(behind_proxy: Process) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as http:
        known = _register(http, "10.3.0.1")["email"]
        unknown = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
        seen = []
        for index, email in enumerate((known, unknown)):
            responses = [_login(http, email, "bad-guess", f"10.44.{index}.1") for _ in range(7)]
            seen.append(
                [
                    (r.status_code, r.json()["error"]["code"], r.json()["error"]["message"])
                    for r in responses
                ]
            )
        # Alike up to the clock: a lockout says how many seconds are left, and the two runs of
        # guesses may straddle a second.
        assert [_wait_free(a) for a in seen[0]] == [_wait_free(b) for b in seen[1]]
        for a, b in zip(seen[0], seen[1], strict=True):
            assert abs(_seconds_left(a[2]) - _seconds_left(b[2])) <= 1
        assert seen[0][0][1] == "AUTH_INVALID_CREDENTIALS"
        assert seen[0][-1][1] == "AUTH_LOGIN_LOCKED_OUT"


def test_forged_forwarded_for_is_ignored_without_a_configured_proxy(direct: Process) -> None:
    with httpx.Client(base_url=direct.url, timeout=10) as http:
        victim = _register(http, "203.0.113.9")
        # A new forged address for every guess does not reset the per-address budget.
        guesses = [_login(http, victim["email"], "nope", f"198.51.100.{i}") for i in range(6)]
        assert _codes(guesses) == ["AUTH_INVALID_CREDENTIALS"] * 5 + ["AUTH_LOGIN_LOCKED_OUT"]


def test_probing_emails_through_register_reveals_nothing(behind_proxy: Process) -> None:
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as http:
        taken = [_register(http, "10.5.0.1")["email"] for _ in range(3)]
        fresh = [f"f{uuid.uuid4().hex[:9]}@example.com" for _ in range(3)]
        probe_password = "quartz-meadow-lantern-58"
        answers = []
        for email in taken + fresh:
            name = "p" + uuid.uuid4().hex[:9]
            response = http.post(
                "/api/auth/register",
                json={"email": email, "username": name, "password": probe_password},
                headers={"X-Forwarded-For": "10.55.0.1"},
            )
            answers.append((response.status_code, response.json()))
        # Known and new addresses get the very same answer.
        assert {status for status, _ in answers} == {202}
        assert all(body == answers[0][1] for _, body in answers)
        # Telling them apart takes a login with the probe's password, under the login
        # throttles: the known accounts refuse it exactly like a wrong password.
        codes = _codes([_login(http, e, probe_password, "10.55.0.1") for e in fresh + taken])
        assert codes == ["OK"] * 3 + ["AUTH_INVALID_CREDENTIALS"] * 3
