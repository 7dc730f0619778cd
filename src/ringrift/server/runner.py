"""uvicorn with a graceful WebSocket shutdown: open sockets are closed with code 1001 (going
away) before uvicorn stops, instead of uvicorn's own 1012 after the fact. ``serve --workers N``
runs N such servers as processes sharing the port (``SO_REUSEPORT``) under ``supervise``."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import time

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

# A connection must deliver a complete request head within this time (slowloris: clients that
# open connections and send headers byte by byte, or nothing, never held a slot limit before).
HEADER_TIMEOUT_SECONDS = 10.0
# Idle keep-alive connections are closed after this (uvicorn's own timer).
KEEP_ALIVE_SECONDS = 5
# No permessage-deflate on sockets: a move frame is a few hundred bytes, so compressing every
# frame cost CPU on the app's single event loop (the move path's bottleneck) and saved little;
# full positions are sent only on join and resync. `bench ws`, 50 games: 169 human moves/s
# without it against 152-166 with it.
WS_DEFLATE = False


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a deadline for each request head."""

    header_timeout = HEADER_TIMEOUT_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request head (on a kept-alive connection) gets its own deadline once its
        # first byte arrives; until then uvicorn's keep-alive timer applies.

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


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
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=HeaderTimeoutProtocol,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        ws_per_message_deflate=WS_DEFLATE,
        **options,  # type: ignore[arg-type]
    )
    GracefulServer(config, app).run()


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (``SO_REUSEPORT``): the kernel
    spreads new connections over every worker that listens on the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_on_socket(app: FastAPI, sock: socket.socket, **options: object) -> None:
    """One worker of ``serve --workers N``: the graceful server on a shared port."""
    config = uvicorn.Config(
        app,
        http=HeaderTimeoutProtocol,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        ws_per_message_deflate=WS_DEFLATE,
        **options,  # type: ignore[arg-type]
    )
    GracefulServer(config, app).run(sockets=[sock])


# A worker that dies within this many seconds of its start is a configuration problem: the
# supervisor stops instead of restarting it forever.
EARLY_EXIT_SECONDS = 5.0


def supervise(command: list[str], workers: int, env: dict[str, str]) -> int:
    """Run ``workers`` copies of ``command`` (each a complete ``ringrift serve --reuse-port``),
    restart one that exits, and on SIGTERM/SIGINT stop them all: each worker closes its own
    sockets with 1001 and clients reconnect to a worker that is still there."""
    started: dict[int, float] = {}
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def spawn() -> subprocess.Popen[bytes]:
        child = subprocess.Popen(command, env=env)
        started[child.pid] = time.monotonic()
        return child

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children.extend(spawn() for _ in range(workers))
    code = 0
    while not stopping:
        for index, child in enumerate(children):
            status = child.poll()
            if status is None or stopping:
                continue
            if time.monotonic() - started[child.pid] < EARLY_EXIT_SECONDS:
                log.error("worker failed at start-up; stopping", extra={"exitCode": status})
                code = status or 1
                stop(signal.SIGTERM, None)
                break
            log.warning("worker exited; starting another", extra={"exitCode": status})
            children[index] = spawn()
        time.sleep(0.2)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return code
