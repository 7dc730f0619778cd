"""uvicorn with a graceful WebSocket shutdown: open sockets are closed with code 1001 (going
away) before uvicorn stops, instead of uvicorn's own 1012 after the fact."""

from __future__ import annotations

import logging
import socket

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        hub = getattr(getattr(self._app.state, "ctx", None), "hub", None)
        if hub is not None:
            count = len(hub.connections)
            await hub.close_all()
            if count:
                log.info("closed websockets for shutdown", extra={"count": count})
        await super().shutdown(sockets)


def run(app: FastAPI, host: str, port: int, **options: object) -> None:
    config = uvicorn.Config(app, host=host, port=port, **options)  # type: ignore[arg-type]
    GracefulServer(config, app).run()
