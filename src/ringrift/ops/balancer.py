"""The load balancer of an ``--lb`` stack: a real HAProxy (Debian ``haproxy``) in front of the
app instances, the one URL clients use.

``ringrift stack up --lb`` adds it as the stack service ``lb``; this module writes its
configuration (``RUN_DIR/haproxy.cfg``, the ports are only known at start-up), builds its
command line (foreground, ``-db``, logging to stdout, so the stack's log file gets it) and
reads what HAProxy thinks of each app through its admin socket (``show stat``), which is how
the ``lb-instance-loss`` drill measures how fast a dead app is taken out and a restarted one
put back. A second frontend on its own port serves HAProxy's built-in Prometheus exporter
(``METRICS_PATH``), so that Prometheus sees the same server states as the drill: an app that
still answers ``/metrics`` but fails ``/ready`` is out of the rotation, and only the balancer
can tell.

The settings are those of ``docs/operations.md`` ("Load balancer"): health checks on
``/ready`` every second (down after 2 failures, up after 2 successes), a tunnel timeout long
enough for an idle WebSocket, and retries of connection failures only (a request that reached
an app is never sent twice).
"""

from __future__ import annotations

import enum
import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ringrift.ops.services import MissingBinaryError, ServiceError

HOST = "127.0.0.1"
CONFIG_FILE = "haproxy.cfg"
SOCKET_FILE = "haproxy.sock"
BACKEND = "apps"
# HAProxy answers this path itself (monitor-uri): "the balancer runs", whatever the apps do.
ALIVE_PATH = "/haproxy/alive"
# What a live balancer process has on its command line (pid checks of the stack).
MARKER = CONFIG_FILE
# Response header naming the app that served a request (the drill checks where sockets land).
SERVED_BY_HEADER = "X-RingRift-Served-By"
# HAProxy's own Prometheus exporter (compiled into Debian's haproxy and the haproxy:2.6
# image), served by a frontend of its own: never on the public port, where /metrics would
# both leak the balancer's internals and shadow the apps' own /metrics.
METRICS_FRONTEND = "metrics"
METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class Timings:
    """Health-check and timeout settings; the defaults suit the local stack and drills."""

    check_interval_ms: int = 1000
    fall: int = 2
    rise: int = 2
    connect_timeout_ms: int = 2000
    # A request (or a response) that stalls this long is abandoned.
    client_timeout_s: int = 60
    server_timeout_s: int = 60
    # An upgraded WebSocket is idle between moves for as long as a player thinks.
    tunnel_timeout_s: int = 3600
    retries: int = 3


class ServerState(enum.Enum):
    """A backend server's state as HAProxy reports it (the ``status`` column of show stat)."""

    UP = "UP"
    DOWN = "DOWN"
    MAINT = "MAINT"
    OTHER = "OTHER"

    @classmethod
    def parse(cls, text: str) -> ServerState:
        """``UP``, ``UP 1/2`` (going down) count as up; ``DOWN 1/2`` (going up) as down."""
        word = text.split(" ", 1)[0].upper()
        return cls(word) if word in cls.__members__ else cls.OTHER


class BalancerError(ServiceError):
    """HAProxy is missing, its configuration is invalid or its socket does not answer."""


def binary() -> str:
    path = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if path is None:
        raise MissingBinaryError("haproxy", "haproxy")
    return path


def render_config(
    listen_port: int,
    apps: Mapping[str, int],
    socket_path: Path,
    metrics_port: int,
    timings: Timings = Timings(),
    listen_host: str = HOST,
) -> str:
    """The HAProxy configuration for apps ``{name: port}`` on this host, with the Prometheus
    exporter on ``metrics_port``."""
    t = timings
    servers = "\n".join(
        f"    server {name} {HOST}:{port} check inter {t.check_interval_ms} "
        f"fall {t.fall} rise {t.rise}"
        for name, port in apps.items()
    )
    return f"""# Written by `ringrift stack up --lb`; rewritten at every start of the stack.
global
    log stdout format raw local0 info
    stats socket {socket_path} mode 600 level admin

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect {t.connect_timeout_ms}ms
    timeout client {t.client_timeout_s}s
    timeout server {t.server_timeout_s}s
    timeout http-request 10s
    timeout tunnel {t.tunnel_timeout_s}s
    timeout client-fin 10s
    # Only failures before the request left HAProxy are retried, on another app (redispatch):
    # a move that reached an app is never submitted twice.
    retries {t.retries}
    retry-on conn-failure
    option redispatch 1

frontend ringrift
    bind {listen_host}:{listen_port}
    monitor-uri {ALIVE_PATH}
    # The apps believe X-Forwarded-For from this balancer only (TRUSTED_PROXIES).
    option forwardfor
    default_backend {BACKEND}

# Prometheus scrapes the balancer here: per-server health-check states and per-backend counts
# of active servers (haproxy_server_status, haproxy_backend_active_servers).
frontend {METRICS_FRONTEND}
    bind {listen_host}:{metrics_port}
    # Scrapes every few seconds would drown the request log.
    http-request set-log-level silent
    http-request use-service prometheus-exporter if {{ path {METRICS_PATH} }}

backend {BACKEND}
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    http-response set-header {SERVED_BY_HEADER} %s
{servers}
"""


def write_config(
    run_dir: Path,
    listen_port: int,
    apps: Mapping[str, int],
    metrics_port: int,
    timings: Timings = Timings(),
) -> Path:
    """Write ``run_dir/haproxy.cfg`` atomically; returns its path."""
    target = run_dir / CONFIG_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render_config(listen_port, apps, run_dir / SOCKET_FILE, metrics_port, timings))
    os.replace(tmp, target)
    return target


def check_config(path: Path) -> None:
    """``haproxy -c``: raise :class:`BalancerError` with HAProxy's words when it is invalid."""
    result = subprocess.run(
        [binary(), "-c", "-q", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise BalancerError(f"{path} is not a valid HAProxy configuration:\n{result.stderr}")


def argv(config_path: Path) -> list[str]:
    """Foreground (``-db``), one process: the stack tracks and signals it by pid."""
    return [binary(), "-f", str(config_path), "-db"]


def server_states(socket_path: Path, timeout: float = 1.0) -> dict[str, ServerState]:
    """What HAProxy thinks of each app now: ``{app name: state}`` from ``show stat``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as error:
        raise BalancerError(f"HAProxy socket {socket_path} does not answer: {error}") from error
    lines = b"".join(chunks).decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        raise BalancerError(f"unexpected answer to show stat: {lines[:1]}")
    columns = lines[0][2:].split(",")
    proxy, server, status = (columns.index(c) for c in ("pxname", "svname", "status"))
    states = {}
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) <= status or fields[proxy] != BACKEND:
            continue
        if fields[server] in ("FRONTEND", "BACKEND"):
            continue
        states[fields[server]] = ServerState.parse(fields[status])
    return states
