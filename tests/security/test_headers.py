"""Security headers on the web client and the API, and redirects that ignore a forged Host."""

from __future__ import annotations

import httpx
import pytest
from realtime_support import Process


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/users/me", "/health", "/nowhere"])
def test_security_headers(live_app: Process, path: str) -> None:
    response = httpx.get(f"{live_app.url}{path}", timeout=10)
    csp = response.headers["content-security-policy"]
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in csp.split(";") if part.strip()
    )
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert "unsafe-inline" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_web_page_has_no_inline_script(live_app: Process) -> None:
    page = httpx.get(f"{live_app.url}/", timeout=10).text
    for tag in page.split("<script")[1:]:
        head, _, rest = tag.partition(">")
        assert "src=" in head, "inline <script> would be blocked by the CSP"
        assert rest.lstrip().startswith("</script>")
    assert " onclick=" not in page and " onload=" not in page


def test_trailing_slash_redirect_does_not_reflect_host(live_app: Process) -> None:
    response = httpx.get(
        f"{live_app.url}/api/games/",
        headers={"Host": "evil.example"},
        follow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (307, 308), response.text
    location = response.headers["location"]
    assert "evil.example" not in location
    assert location.startswith("/api/games")
