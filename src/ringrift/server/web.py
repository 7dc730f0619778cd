"""The web client: static files shipped in the package, the page itself at ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# The client is a set of ES modules that import each other: a browser must never mix modules
# of two releases, so every load revalidates (a 304 from the ETag when nothing changed).
REVALIDATE = "no-cache"


class _RevalidatedFiles(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = REVALIDATE
        return response


def mount_web(app: FastAPI) -> None:
    """Serve ``/`` (the single-page client, also at the mail-link paths ``/verify-email`` and
    ``/reset-password``) and ``/static/*`` (its modules and styles)."""
    app.mount("/static", _RevalidatedFiles(directory=WEB_DIR), name="static")

    async def index() -> FileResponse:
        return FileResponse(
            WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": REVALIDATE}
        )

    # The page, and the pages the account mails link to (the client reads ?token= there).
    for path in ("/", "/verify-email", "/reset-password"):
        app.add_api_route(path, index, methods=["GET"], include_in_schema=False)
