"""Redis with a replica and three Sentinels for the local stack (``stack up --redis-sentinel``).

The stack's ``redis`` service stays the initial primary; ``redis-replica`` replicates it and
``sentinel1..3`` monitor the pair under the master name ``ringrift`` with a quorum of two, so
any one process may die and the rest still elect and promote. Timeouts are much shorter than
Redis' defaults because a local stack serves drills, where waiting 30 s for a failover would
only slow every run down.

Every process gets its own configuration file under ``RUN_DIR/redis-ha/`` because Sentinel
rewrites both its own file (known replicas, peers, epochs) and, with ``CONFIG REWRITE``, the
file of a data node it turns into a replica. That is what lets a killed primary restart with
the stack's ordinary ``start`` and come back as a replica instead of a second primary.

:class:`SentinelQuery` is the operator's view: which port is the primary now, is the set
converged, and a forced failover to put the primary back where the stack expects it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

MASTER_NAME = "ringrift"
QUORUM = 2
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 6000
PRIMARY = "redis"
REPLICA = "redis-replica"
SENTINELS = ("sentinel1", "sentinel2", "sentinel3")
REPLICA_KIND = "redis-replica"
SENTINEL_KIND = "sentinel"
HA_DIR = "redis-ha"
QUERY_TIMEOUT_SECONDS = 1.0


class RedisHaError(RuntimeError):
    """The Sentinel set did not reach the expected state in time."""


def config_path(run_dir: Path, name: str) -> Path:
    return run_dir / HA_DIR / f"{name}.conf"


def _data_config(run_dir: Path, name: str, port: int, host: str, replica_of: int | None) -> str:
    data_dir = run_dir / HA_DIR / name
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"port {port}",
        f"bind {host}",
        f'dir "{data_dir}"',
        'save ""',
        "appendonly no",
        "protected-mode no",
        "daemonize no",
    ]
    if replica_of is not None:
        lines.append(f"replicaof {host} {replica_of}")
    return "\n".join(lines) + "\n"


def _sentinel_config(run_dir: Path, port: int, host: str, primary: int) -> str:
    return (
        "\n".join(
            [
                f"port {port}",
                f"bind {host}",
                f'dir "{run_dir / HA_DIR}"',
                "protected-mode no",
                "daemonize no",
                f"sentinel monitor {MASTER_NAME} {host} {primary} {QUORUM}",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
            ]
        )
        + "\n"
    )


def write_configs(run_dir: Path, ports: dict[str, int], host: str) -> None:
    """Fresh configuration files for the initial topology (``redis`` primary). Called by
    ``stack up`` only: a restart of one process keeps what Sentinel wrote since."""
    (run_dir / HA_DIR).mkdir(parents=True, exist_ok=True)
    primary = ports[PRIMARY]
    files = {
        PRIMARY: _data_config(run_dir, PRIMARY, primary, host, None),
        REPLICA: _data_config(run_dir, REPLICA, ports[REPLICA], host, primary),
    }
    for name in SENTINELS:
        files[name] = _sentinel_config(run_dir, ports[name], host, primary)
    for name, text in files.items():
        config_path(run_dir, name).write_text(text)


def argv(binary: str, run_dir: Path, name: str, kind: str) -> list[str]:
    """Command line of a Redis HA process: the server reads its own (rewritable) file."""
    command = [binary, str(config_path(run_dir, name))]
    return [*command, "--sentinel"] if kind == SENTINEL_KIND else command


def app_env(sentinel_ports: list[int], host: str) -> dict[str, str]:
    """What an app needs to find the primary through the Sentinels (and no fixed URL)."""
    return {
        "REDIS_URL": "",
        "REDIS_SENTINELS": ",".join(f"{host}:{port}" for port in sentinel_ports),
        "REDIS_SENTINEL_MASTER": MASTER_NAME,
    }


def client(host: str, port: int) -> redis.Redis:
    """A short-lived client that fails at once: redis-py would otherwise retry a refused
    connection with backoff for seconds, which distorts every timing a drill measures."""
    return redis.Redis(
        host=host,
        port=port,
        socket_timeout=QUERY_TIMEOUT_SECONDS,
        socket_connect_timeout=QUERY_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def replication(host: str, port: int) -> dict[str, Any] | None:
    """The data node's own ``INFO replication`` (role, link status); None when unreachable.
    Asking the node is faster than waiting for Sentinel's ten-second INFO refresh."""
    node = client(host, port)
    try:
        info: dict[str, Any] = node.info("replication")
    except redis.RedisError:
        return None
    finally:
        node.close()
    return info


def role(host: str, port: int) -> str | None:
    """``master`` or ``slave`` as the data node reports it; None when unreachable."""
    info = replication(host, port)
    return None if info is None else str(info.get("role"))


def replica_in_sync(host: str, port: int) -> bool:
    """Is the node a replica whose link to its primary is up?"""
    info = replication(host, port)
    return (
        info is not None
        and info.get("role") == "slave"
        and (info.get("master_link_status") == "up")
    )


@dataclass(frozen=True)
class MasterView:
    """One Sentinel's view of the monitored master."""

    port: int
    flags: str
    other_sentinels: int
    replicas: int


class SentinelQuery:
    """Ask the first Sentinel that answers; the set agrees after a failover within a second."""

    def __init__(self, host: str, ports: list[int]) -> None:
        self.host = host
        self.ports = list(ports)

    def _ask(self, question: Callable[[redis.Redis], Any]) -> Any:
        """redis-py types Sentinel replies loosely; callers annotate what they read."""
        errors = []
        for port in self.ports:
            sentinel = client(self.host, port)
            try:
                return question(sentinel)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                errors.append(f"{port}: {error}")  # this Sentinel is down: ask the next
            except redis.RedisError as error:
                raise RedisHaError(f"Sentinel {port} refused: {error}") from error
            finally:
                sentinel.close()
        raise RedisHaError("no Sentinel answered: " + "; ".join(errors))

    def primary_port(self) -> int | None:
        """The port Sentinel currently names as the primary (``get-master-addr-by-name``)."""
        address: tuple[str, int] | None = self._ask(
            lambda c: c.sentinel_get_master_addr_by_name(MASTER_NAME)
        )
        return int(address[1]) if address else None

    def master(self) -> MasterView:
        state: dict[str, Any] = self._ask(lambda c: c.sentinel_master(MASTER_NAME))
        return MasterView(
            port=int(state["port"]),
            flags=str(state["flags"]),
            other_sentinels=int(state["num-other-sentinels"]),
            replicas=int(state["num-slaves"]),
        )

    def replica_ports(self) -> list[int]:
        """Replicas every Sentinel may promote: connected and with their link up."""
        replicas: list[dict[str, Any]] = self._ask(lambda c: c.sentinel_slaves(MASTER_NAME))
        return [
            int(r["port"])
            for r in replicas
            if not r.get("is_sdown")
            and not r.get("is_disconnected")
            and r.get("master-link-status") == "ok"
        ]

    def wait_converged(self, primary: int, timeout: float) -> MasterView:
        """Until the Sentinels know each other and a healthy replica of ``primary``: only then
        can they agree on a failover."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                view = self.master()
                ready = [self._ask_port(p) for p in self.ports]
                if (
                    view.port == primary
                    and view.flags == "master"
                    and all(v.other_sentinels == len(self.ports) - 1 for v in ready)
                    and self.replica_ports()
                ):
                    return view
                last = f"{view} (replicas ok: {self.replica_ports()})"
            except RedisHaError as error:
                last = str(error)
            time.sleep(0.2)
        raise RedisHaError(f"Sentinels did not converge on primary {primary}: {last}")

    def _ask_port(self, port: int) -> MasterView:
        return SentinelQuery(self.host, [port]).master()

    def fail_over_to(self, port: int, others: list[int], timeout: float) -> float:
        """Make ``port`` the primary again with ``SENTINEL FAILOVER`` (a no-op when it already
        is) and wait until the ``others`` replicate it; returns the seconds it took. ``port``
        must be an in-sync replica first: a restarted old primary is converted by Sentinel
        within about ten seconds (its INFO period), so this retries until the deadline."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.primary_port() == port and role(self.host, port) == "master":
                if all(replica_in_sync(self.host, other) for other in others):
                    return time.monotonic() - started
            elif replica_in_sync(self.host, port):
                # INPROG, or NOGOODSLAVE until Sentinel has seen the replica: retry.
                with contextlib.suppress(RedisHaError):
                    self._ask(lambda c: c.sentinel_failover(MASTER_NAME))
            time.sleep(0.3)
        raise RedisHaError(
            f"port {port} did not become the primary again within {timeout:.0f}s "
            f"(Sentinel names {self.primary_port()})"
        )
