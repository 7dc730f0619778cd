"""A PostgreSQL primary with one streaming replica: the ``--pg-replica`` part of the stack.

Two nodes live side by side in the stack's run directory (``postgres/`` and ``postgres-b/``).
Which node is the primary is a *role* recorded in ``stack.json``, not a property of the node:
the stack service ``postgres`` is always the current primary and ``postgres-replica`` the
standby, so a failover swaps the nodes behind the two names and every drill that stops or
starts ``postgres`` keeps acting on the writable database.

Replication is synchronous (``synchronous_standby_names`` on the primary, ``synchronous_commit
= on``): a commit is acknowledged once the standby has flushed its WAL, so promoting the standby
after a crash of the primary loses no acknowledged move. ``on`` rather than ``remote_apply``
because nothing reads from the standby: ``remote_apply`` would also wait for the standby to
*replay* the commit, which only matters for read-your-writes on the standby, and a promotion
replays every flushed record before it accepts writes anyway. The price of synchronous
replication is availability: while no standby is connected, commits on the primary wait. The
failover procedure therefore clears ``synchronous_standby_names`` on the promoted node (it has
no standby until the old primary is re-attached) and sets it again once the re-attached node
streams.

The app reaches the pair through one multi-host URL (:func:`multi_host_url`) with
``target_session_attrs=read-write``: asyncpg tries the hosts in order and keeps the one that
accepts writes, so after a promotion new connections find the new primary by themselves.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from ringrift.ops.services import PostgresCluster, ServiceError

PRIMARY_SERVICE = "postgres"
REPLICA_SERVICE = "postgres-replica"
SECOND_NODE_DIR = "postgres-b"
# What a commit waits for on the synchronous standby (see the module docstring).
SYNCHRONOUS_COMMIT = "on"
READ_WRITE = "read-write"
STOPPED_WAIT_SECONDS = 15.0


class ReplicationError(ServiceError):
    """The replica could not be cloned, promoted or attached."""


class SyncState(StrEnum):
    """``pg_stat_replication.sync_state`` of a standby as the primary sees it."""

    SYNC = "sync"
    ASYNC = "async"
    POTENTIAL = "potential"
    QUORUM = "quorum"


@dataclass(frozen=True)
class PgHost:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class PgTarget:
    """The parts of a PostgreSQL URL that say where to connect."""

    hosts: tuple[PgHost, ...]
    user: str
    database: str
    target_session_attrs: str | None = None


def multi_host_url(
    hosts: Sequence[PgHost],
    *,
    user: str,
    database: str,
    driver: str = "postgresql+asyncpg",
) -> str:
    """A SQLAlchemy URL naming every host (``?host=h:p&host=h:p``, the form SQLAlchemy's
    asyncpg dialect turns into asyncpg's host list) that connects only to a writable server."""
    if not hosts:
        raise ValueError("a multi-host URL needs at least one host")
    query = [("host", str(h)) for h in hosts] + [("target_session_attrs", READ_WRITE)]
    return f"{driver}://{user}@/{database}?{urlencode(query, safe=':')}"


def parse_target(url: str) -> PgTarget:
    """Where a single- or multi-host PostgreSQL URL points (the inverse of
    :func:`multi_host_url`; ``host:port`` of the netloc when there is no ``host`` query)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme!r}")
    query = parse_qsl(parts.query)
    hosts: list[PgHost] = []
    for key, value in query:
        if key == "host":
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"host {value!r} must be HOST:PORT")
            hosts.append(PgHost(host, int(port)))
    if not hosts and parts.hostname:
        hosts.append(PgHost(parts.hostname, parts.port or 5432))
    if not hosts:
        raise ValueError("the URL names no host")
    attrs = dict(query).get("target_session_attrs")
    return PgTarget(tuple(hosts), parts.username or "", parts.path.lstrip("/"), attrs)


def node_name(data_root: Path) -> str:
    """The node's ``cluster_name`` (also its name in ``pg_stat_replication``): its directory."""
    return data_root.name.replace("-", "_")


def node_cluster(
    data_root: Path, port: int, extra_settings: dict[str, str] | None = None
) -> PostgresCluster:
    """A node of a replicated pair. Unlike the single-node stack (``fsync`` and synchronous
    commit off for speed), a replicated node keeps PostgreSQL's durable defaults: the point of
    the pair is that an acknowledged commit survives the loss of the primary.
    ``extra_settings`` (the stack's WAL archiving) apply to both nodes alike."""
    return PostgresCluster(
        data_root,
        port=port,
        fast=False,
        settings={
            **(extra_settings or {}),
            "cluster_name": node_name(data_root),
            "synchronous_commit": SYNCHRONOUS_COMMIT,
            # A standby whose primary went away retries every second, not every five.
            "wal_retrieve_retry_interval": "1s",
        },
    )


# -- operations on the pair -------------------------------------------------------------------


def clone(source: PostgresCluster, target: PostgresCluster, timeout: float = 180.0) -> None:
    """Replace ``target``'s data with a base backup of ``source`` that starts as its standby
    (``pg_basebackup -R -X stream``). Used both to create the replica and to re-attach a
    crashed primary: a fresh copy needs no precondition (``pg_rewind`` would need
    ``wal_log_hints`` and a cleanly recovered target) and takes about a second for the
    stack's small database."""
    deadline = time.monotonic() + STOPPED_WAIT_SECONDS
    while serving(target):
        if time.monotonic() > deadline:
            raise ReplicationError(f"refusing to overwrite the running node in {target.run_dir}")
        time.sleep(0.2)
    if target.data_dir.exists():
        shutil.rmtree(target.data_dir)
    # A killed postmaster leaves its socket and socket lock file behind, and while init has
    # not reaped it the lock names a pid that still "exists": the new server would refuse to
    # start. Nothing serves on them any more (checked above).
    for leftover in target.run_dir.glob(f".s.PGSQL.{target.port}*"):
        leftover.unlink(missing_ok=True)
    target.prepare_dirs()
    result = target.run_tool(
        "pg_basebackup",
        "-h",
        source.host,
        "-p",
        str(source.port),
        "-U",
        source.user,
        "-D",
        str(target.data_dir),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        # The copy is not fsynced file by file: the node it becomes fsyncs its whole data
        # directory before replaying anything when it first starts (it starts as "interrupted"),
        # and a copy lost to an OS crash before that is simply made again. Saves seconds of
        # disk flushes on every clone.
        "--no-sync",
        timeout=timeout,
    )
    if result.returncode != 0:
        raise ReplicationError(f"pg_basebackup failed:\n{result.stdout}\n{result.stderr}")


def serving(node: PostgresCluster) -> bool:
    """Does the node's postmaster live? Unlike ``pg_ctl status`` this counts a killed
    postmaster that init has not reaped yet (a zombie, which can take seconds in a container)
    as dead."""
    try:
        pid = int((node.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def in_recovery(node: PostgresCluster) -> bool:
    """True while ``node`` is a standby (replaying WAL, read-only)."""
    return node.psql("SELECT pg_is_in_recovery()") == "t"


def promote(node: PostgresCluster, timeout: float = 30.0) -> None:
    """``pg_ctl promote`` and wait until the node accepts writes."""
    result = node.run_tool(
        "pg_ctl", "-D", str(node.data_dir), "-w", "-t", str(int(timeout)), "promote"
    )
    if result.returncode != 0:
        raise ReplicationError(f"pg_ctl promote failed:\n{result.stdout}\n{result.stderr}")
    deadline = time.monotonic() + timeout
    while in_recovery(node):
        if time.monotonic() > deadline:
            raise ReplicationError(f"{node_name(node.run_dir)} still in recovery after promote")
        time.sleep(0.05)


def set_synchronous_standbys(primary: PostgresCluster, standbys: Sequence[str]) -> None:
    """Make commits on ``primary`` wait for one of ``standbys`` (none: asynchronous)."""
    names = ", ".join(standbys)
    value = f"FIRST 1 ({names})" if standbys else ""
    primary.psql(f"ALTER SYSTEM SET synchronous_standby_names = '{value}'")
    primary.psql("SELECT pg_reload_conf()")


@dataclass(frozen=True)
class StandbyRow:
    """One row of the primary's ``pg_stat_replication``."""

    name: str
    state: str
    sync_state: str
    lag_bytes: int


def standbys(primary: PostgresCluster) -> list[StandbyRow]:
    output = primary.psql(
        "SELECT application_name, state, sync_state, "
        "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint "
        "FROM pg_stat_replication ORDER BY application_name"
    )
    rows = []
    for line in output.splitlines():
        name, state, sync_state, lag = line.split("|")
        rows.append(StandbyRow(name, state, sync_state, int(lag)))
    return rows


def wait_streaming(
    primary: PostgresCluster, standby: str, *, synchronous: bool, timeout: float = 30.0
) -> StandbyRow:
    """Wait until ``standby`` streams from ``primary`` (as its synchronous standby when
    ``synchronous``)."""
    deadline = time.monotonic() + timeout
    last: list[StandbyRow] = []
    while time.monotonic() < deadline:
        last = standbys(primary)
        for row in last:
            wanted_sync = not synchronous or row.sync_state == SyncState.SYNC
            if row.name == standby and row.state == "streaming" and wanted_sync:
                return row
        time.sleep(0.1)
    raise ReplicationError(
        f"{standby} is not streaming from the primary after {timeout:.0f}s: {last}"
    )


def crash(postmaster_pid: int) -> list[int]:
    """SIGKILL a postmaster and every server process under it, as if its host died (killing
    only the postmaster leaves backends that finish their current statement). Returns the
    pids killed."""
    victims = [postmaster_pid, *_children(postmaster_pid)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return victims


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(parent):
            found.append(int(entry.name))
    return found
