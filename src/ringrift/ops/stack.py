"""``ringrift stack``: a local stack of real processes, the drills' default target.

One run directory holds everything: a PostgreSQL cluster (``initdb``/``pg_ctl``), a
``redis-server``, the AI service, 1..N app instances, their logs, the JWT keyring file and
``stack.json``, the state file through which every later command (and every test or drill)
finds the stack again::

    stack = Stack.up(Path("/tmp/rr"), apps=2)      # or Stack.load(Path("/tmp/rr"))
    stack.url("app1")                              # http://127.0.0.1:PORT
    stack.stop("redis"); stack.start("redis")      # graceful stop / start
    stack.kill("app1")                             # SIGKILL, for crash drills
    stack.down()

PostgreSQL archives every completed WAL segment into ``<run_dir>/wal-archive`` (see
:mod:`ringrift.ops.wal_archive`), the input of point-in-time recovery.

Services are named ``postgres``, ``redis``, ``ai`` and ``app1``..``appN``; with
``redis_sentinel`` also ``redis-replica`` and ``sentinel1``..``sentinel3`` (:mod:`.redisha`),
and the apps then find the Redis primary through the Sentinels; with ``pg_replica`` also
``postgres-replica``, a synchronous streaming standby, and the apps use a multi-host database
URL that finds the writable node (:mod:`.pgcluster`); ``balancer_on`` (``--lb``) adds
``lb``, an HAProxy in front of the apps (:mod:`.balancer`), and :attr:`Stack.entry_url` is
then its URL instead of app1's. The state file
records ports, pids, URLs, log files and the keyring path (never the secrets themselves).
Processes are started in their own session, so they outlive the ``stack up`` command and are
stopped by pid; a pid is only trusted while ``/proc/PID/cmdline`` still names the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ringrift.ops import balancer, monitoring, pgcluster, redisha
from ringrift.ops.pgcluster import PRIMARY_SERVICE, REPLICA_SERVICE, PgHost
from ringrift.ops.services import (
    PostgresCluster,
    RedisServer,
    ServiceError,
    find_postgres_bindir,
    free_port,
    port_open,
)
from ringrift.ops.wal_archive import WalArchive
from ringrift.server.security.files import open_private_append

STATE_FILE = "stack.json"
KEYRING_FILE = "jwt-keyring.json"
DEFAULT_RUN_DIR = Path(".ringrift-stack")
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10.0
HEALTH_TIMEOUT_SECONDS = 60.0
# A process counts as gone once its command line is (Linux drops it before the process
# closes its files), so its listening socket may outlive it by a moment.
PORT_RELEASE_SECONDS = 5.0
STATE_VERSION = 1


def _metrics_name(service: str) -> str:
    """The key under which a service's metrics port is remembered across restarts."""
    return f"{service}-metrics"


class StackError(RuntimeError):
    """The stack (or one of its services) could not be started, found or stopped."""


Progress = Callable[[str], None]


def _no_progress(_message: str) -> None:
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _proc_state(pid: int) -> tuple[str, str] | None:
    """(state letter, cmdline) of a live process, None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state, cmdline


def pid_alive(pid: int | None, marker: str = "") -> bool:
    """True when ``pid`` runs (not a zombie) and its command line contains ``marker``."""
    if not pid:
        return False
    info = _proc_state(pid)
    if info is None or info[0] in ("Z", "X"):
        return False
    return marker in info[1]


def write_keyring(path: Path) -> str:
    """Write a fresh JWT keyring file (the format ``JWT_KEYRING_FILE`` reads); returns its kid."""
    kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    document = {
        "activeKid": kid,
        "keys": [{"kid": kid, "secret": secrets.token_urlsafe(48)}],
        "refreshSecret": secrets.token_urlsafe(48),
    }
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(document, indent=2))
    os.replace(tmp, path)
    return kid


@dataclass
class ProcessSpec:
    """A stack service run as a plain child process (redis, AI service, apps)."""

    name: str
    kind: str
    port: int
    pid: int | None = None
    env_overrides: dict[str, str] = field(default_factory=dict)
    # A second port on which the service exports Prometheus metrics (the balancer's exporter
    # frontend); None for services that serve /metrics on their main port or not at all.
    metrics_port: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "port": self.port,
            "pid": self.pid,
            "envOverrides": self.env_overrides,
            **({"metricsPort": self.metrics_port} if self.metrics_port else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessSpec:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            port=int(data["port"]),
            pid=int(data["pid"]) if data.get("pid") else None,
            env_overrides={str(k): str(v) for k, v in (data.get("envOverrides") or {}).items()},
            metrics_port=int(data["metricsPort"]) if data.get("metricsPort") else None,
        )


_MARKERS = {
    "redis": "redis-server",
    redisha.REPLICA_KIND: "redis-server",
    redisha.SENTINEL_KIND: "redis-server",
    "ai": "ringrift.aiservice",
    "app": "ringrift.cli serve",
    "lb": balancer.MARKER,
    **monitoring.MARKERS,
}


class Stack:
    """A local stack living in ``run_dir`` (see the module docstring)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        pg_port: int,
        processes: list[ProcessSpec],
        pg_root: Path | None = None,
        replica: tuple[Path, int] | None = None,
    ) -> None:
        """``pg_root``/``replica``: the directories (and the replica's port) of the node that
        currently is the primary and of the standby; they swap after a failover."""
        self.run_dir = Path(run_dir).resolve()
        # Every completed WAL segment is archived, so the database can be restored to any
        # moment since a base backup (ringrift.ops.pitr), not only to the last dump. Both
        # nodes of a replicated pair archive into the same place: a standby archives nothing
        # (archive_mode=on), a promoted one continues the archive on its new timeline.
        self.wal_archive = WalArchive(self.run_dir)
        archiving = self.wal_archive.settings()
        primary_root = pg_root or self.run_dir / "postgres"
        self.replica: PostgresCluster | None = None
        if replica is None:
            self.postgres = PostgresCluster(primary_root, port=pg_port, settings=archiving)
        else:
            self.postgres = pgcluster.node_cluster(primary_root, pg_port, archiving)
            self.replica = pgcluster.node_cluster(replica[0], replica[1], archiving)
        self.processes = {p.name: p for p in processes}
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self.created_at = _now()

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def up(
        cls,
        run_dir: Path = DEFAULT_RUN_DIR,
        *,
        apps: int = 1,
        pg_port: int | None = None,
        redis_port: int | None = None,
        ai_port: int | None = None,
        app_ports: list[int] | None = None,
        monitoring_on: bool = False,
        redis_sentinel: bool = False,
        pg_replica: bool = False,
        balancer_on: bool = False,
        progress: Progress = _no_progress,
    ) -> Stack:
        """Start every service (reusing the data of a stopped stack in ``run_dir``);
        ``monitoring_on`` adds the blackbox exporter and Prometheus (``ops.monitoring``, with
        the PostgreSQL exporter when there is a standby),
        ``redis_sentinel`` a Redis replica and three Sentinels (``ops.redisha``),
        ``pg_replica`` a synchronous PostgreSQL standby (kept when the stack had one),
        ``balancer_on`` an HAProxy in front of the apps (``ops.balancer``)."""
        if apps < 1:
            raise StackError("--apps must be at least 1")
        app_ports = list(app_ports or [])
        if len(app_ports) > apps:
            raise StackError(f"{len(app_ports)} app ports given for {apps} app instance(s)")
        run_dir = Path(run_dir).resolve()
        previous: dict[str, int] = {}
        pg_root = run_dir / "postgres"
        replica_root = run_dir / pgcluster.SECOND_NODE_DIR
        if (run_dir / STATE_FILE).exists():
            existing = cls.load(run_dir)
            previous = {name: spec.port for name, spec in existing.processes.items()}
            previous.update(
                {
                    _metrics_name(name): spec.metrics_port
                    for name, spec in existing.processes.items()
                    if spec.metrics_port
                }
            )
            previous["postgres"] = existing.postgres.port
            pg_root = existing.postgres.run_dir
            if existing.replica is not None:
                # Keep the pair, in the roles it had last (a failover may have swapped them).
                pg_replica = True
                previous[REPLICA_SERVICE] = existing.replica.port
                replica_root = existing.replica.run_dir
            running = [s["name"] for s in existing.status() if s["running"]]
            if running:
                raise StackError(
                    f"a stack is already running in {run_dir} ({', '.join(running)}); "
                    "use `ringrift stack status` or `ringrift stack down` first"
                )
        # Fail before starting anything when a server binary is missing (the error names
        # the Debian package to install).
        find_postgres_bindir()
        RedisServer.binary()
        if balancer_on:
            balancer.binary()
        if monitoring_on:
            monitoring.binary("prometheus")
            monitoring.binary("blackbox")
            if pg_replica:
                monitoring.binary(monitoring.POSTGRES_EXPORTER)
            monitoring.source_dir()
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "logs").mkdir(exist_ok=True)
        ports = [pg_port, redis_port, ai_port, *app_ports]
        given = [p for p in ports if p]
        if len(given) != len(set(given)):
            raise StackError(f"the same port was given twice: {given}")
        for port in given:
            if port_open(HOST, port):
                raise StackError(f"port {port} is already in use on {HOST}")
        taken = set(given)

        def pick(port: int | None, name: str) -> int:
            """The given port, else the port this service had before (restart at the same
            URLs) when it is still free, else a fresh free port."""
            if port:
                return port
            before = previous.get(name)
            if before and before not in taken and not port_open(HOST, before):
                taken.add(before)
                return before
            while True:
                candidate = free_port()
                if candidate not in taken:
                    taken.add(candidate)
                    return candidate

        processes = [ProcessSpec("redis", "redis", pick(redis_port, "redis"))]
        if redis_sentinel:
            processes.append(
                ProcessSpec(redisha.REPLICA, redisha.REPLICA_KIND, pick(None, redisha.REPLICA))
            )
            processes += [
                ProcessSpec(name, redisha.SENTINEL_KIND, pick(None, name))
                for name in redisha.SENTINELS
            ]
        processes.append(ProcessSpec("ai", "ai", pick(ai_port, "ai")))
        for index in range(apps):
            app_port = app_ports[index] if index < len(app_ports) else None
            name = f"app{index + 1}"
            processes.append(ProcessSpec(name, "app", pick(app_port, name)))
        if balancer_on:
            processes.append(
                ProcessSpec(
                    "lb", "lb", pick(None, "lb"), metrics_port=pick(None, _metrics_name("lb"))
                )
            )
        if monitoring_on:
            # Replication is only watched where there is some (a standby to stream to).
            exporters = [monitoring.POSTGRES_EXPORTER] if pg_replica else []
            for kind in ("blackbox", *exporters, "prometheus"):
                processes.append(ProcessSpec(kind, kind, pick(None, kind)))
        stack = cls(
            run_dir,
            pg_port=pick(pg_port, "postgres"),
            processes=processes,
            pg_root=pg_root,
            replica=(replica_root, pick(None, REPLICA_SERVICE)) if pg_replica else None,
        )
        keyring = stack.keyring_file
        if not keyring.exists():
            write_keyring(keyring)
        stack.save()
        try:
            progress("starting PostgreSQL")
            stack.start("postgres")
            if stack.replica is not None:
                progress("starting the PostgreSQL replica (synchronous streaming)")
                stack.start(REPLICA_SERVICE)
            progress("applying migrations")
            stack.migrate()
            progress("starting Redis")
            if redis_sentinel:
                stack._start_redis_ha(progress)
            else:
                stack.start("redis")
            progress("starting the AI service")
            stack.start("ai")
            progress(f"starting {', '.join(stack.app_names)}")
            launched = [(name, stack._launch(name)) for name in stack.app_names]
            for name, child in launched:
                stack._wait_healthy(name, child, HEALTH_TIMEOUT_SECONDS)
            if balancer_on:
                progress("starting the load balancer (HAProxy)")
                stack.start("lb")
                stack.wait_balanced(stack.app_names, up=True, timeout=HEALTH_TIMEOUT_SECONDS)
            if monitoring_on:
                progress("starting the exporters and Prometheus")
                stack.write_monitoring_config()
                stack.start("blackbox")
                if stack.has_postgres_exporter:
                    stack.start(monitoring.POSTGRES_EXPORTER)
                stack.start("prometheus")
                monitoring.wait_until_watching(
                    stack.url("prometheus"), targets=stack.monitoring_targets
                )
        except BaseException:
            progress("start-up failed; stopping what was started")
            with contextlib.suppress(Exception):
                stack.down()
            raise
        return stack

    @classmethod
    def load(cls, run_dir: Path = DEFAULT_RUN_DIR) -> Stack:
        """The stack whose state file is in ``run_dir`` (its processes may be stopped)."""
        path = Path(run_dir).resolve() / STATE_FILE
        if not path.exists():
            raise StackError(
                f"no stack in {path.parent} (missing {STATE_FILE}); "
                f"start one with `ringrift stack up --run-dir {run_dir}`"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            primary = data["postgres"]
            standby = data.get("postgresReplica")
            stack = cls(
                path.parent,
                pg_port=int(primary["port"]),
                processes=[ProcessSpec.from_json(p) for p in data["processes"]],
                pg_root=Path(primary["dataDir"]).parent if primary.get("dataDir") else None,
                replica=(
                    (Path(standby["dataDir"]).parent, int(standby["port"])) if standby else None
                ),
            )
            stack.created_at = str(data.get("createdAt", stack.created_at))
        except (ValueError, KeyError, TypeError) as error:
            raise StackError(f"{path} is not a valid stack state file: {error}") from error
        return stack

    # -- state -----------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def keyring_file(self) -> Path:
        return self.run_dir / KEYRING_FILE

    @property
    def app_names(self) -> list[str]:
        return [name for name, spec in self.processes.items() if spec.kind == "app"]

    @property
    def has_balancer(self) -> bool:
        return "lb" in self.processes

    @property
    def entry_url(self) -> str:
        """The one URL clients should use: the balancer's, else the first app's."""
        return self.url("lb" if self.has_balancer else self.app_names[0])

    def write_balancer_config(self) -> Path:
        """(Re)write haproxy.cfg for this stack's ports (apps may have moved since). A stack
        recorded before the balancer had a metrics port gets one now."""
        spec = self._spec("lb")
        if spec.metrics_port is None:
            spec.metrics_port = free_port()
            self.save()
        return balancer.write_config(
            self.run_dir,
            spec.port,
            {name: self._spec(name).port for name in self.app_names},
            spec.metrics_port,
        )

    def balancer_states(self) -> dict[str, balancer.ServerState]:
        """What the balancer thinks of each app right now (its admin socket)."""
        if not self.has_balancer:
            raise StackError("this stack has no load balancer (start it with --lb)")
        return balancer.server_states(self.run_dir / balancer.SOCKET_FILE)

    def wait_balanced(
        self, apps: list[str], *, up: bool, timeout: float, poll: float = 0.05
    ) -> float:
        """Block until the balancer reports every app of ``apps`` up (or down); returns the
        seconds waited. Raises :class:`StackError` at the timeout."""
        wanted = balancer.ServerState.UP if up else balancer.ServerState.DOWN
        started = time.monotonic()
        states: dict[str, balancer.ServerState] = {}
        while time.monotonic() - started < timeout:
            with contextlib.suppress(balancer.BalancerError):
                states = self.balancer_states()
                if all(states.get(name) == wanted for name in apps):
                    return time.monotonic() - started
            time.sleep(poll)
        seen = {name: state.value for name, state in states.items()}
        raise StackError(
            f"the balancer did not mark {', '.join(apps)} {wanted.value} in {timeout:.0f}s "
            f"(it reports {seen or 'nothing'})"
        )

    @property
    def redis_ha(self) -> bool:
        """Does Redis run with a replica and Sentinels (``--redis-sentinel``)?"""
        return any(spec.kind == redisha.SENTINEL_KIND for spec in self.processes.values())

    @property
    def sentinel_ports(self) -> list[int]:
        return [s.port for s in self.processes.values() if s.kind == redisha.SENTINEL_KIND]

    def sentinels(self) -> redisha.SentinelQuery:
        """The operator's handle on the Sentinel set (only with ``redis_ha``)."""
        if not self.redis_ha:
            raise StackError("this stack runs Redis without Sentinel (no --redis-sentinel)")
        return redisha.SentinelQuery(HOST, self.sentinel_ports)

    def _start_redis_ha(self, progress: Progress) -> None:
        redisha.write_configs(
            self.run_dir,
            {name: spec.port for name, spec in self.processes.items()},
            HOST,
        )
        for name in ["redis", redisha.REPLICA, *redisha.SENTINELS]:
            self.start(name)
        progress("waiting for the Sentinels to agree on the Redis primary")
        try:
            self.sentinels().wait_converged(self._spec("redis").port, HEALTH_TIMEOUT_SECONDS)
        except redisha.RedisHaError as error:
            raise StackError(str(error)) from error

    def restore_redis_primary(self, timeout: float = 60.0) -> bool:
        """Fail back so that the ``redis`` service is the primary again (drills and
        ``stack.url("redis")`` users expect it there). True when a failover was needed."""
        if not self.redis_ha:
            return False
        query = self.sentinels()
        port = self._spec("redis").port
        if query.primary_port() == port and redisha.role(HOST, port) == "master":
            return False
        try:
            others = [s.port for s in self.processes.values() if s.kind == redisha.REPLICA_KIND]
            query.fail_over_to(port, others, timeout)
        except redisha.RedisHaError as error:
            raise StackError(str(error)) from error
        return True

    @property
    def monitoring_dir(self) -> Path:
        return self.run_dir / "monitoring"

    def write_monitoring_config(self) -> Path:
        """(Re)write Prometheus' configuration for this stack's ports."""
        return monitoring.write_config(
            self.monitoring_dir,
            {name: self._spec(name).port for name in self.app_names},
            self._spec("ai").port,
            self._spec("blackbox").port,
            self._spec("lb").metrics_port if self.has_balancer else None,
            self._spec(monitoring.POSTGRES_EXPORTER).port if self.has_postgres_exporter else None,
        )

    @property
    def has_postgres_exporter(self) -> bool:
        return monitoring.POSTGRES_EXPORTER in self.processes

    @property
    def monitoring_targets(self) -> int:
        """How many targets Prometheus scrapes: every app, the AI service, three /ready probes
        per app, the balancer's exporter when there is a balancer and the PostgreSQL exporter
        when there is a standby."""
        return (
            1
            + 4 * len(self.app_names)
            + (1 if self.has_balancer else 0)
            + (1 if self.has_postgres_exporter else 0)
        )

    @property
    def services(self) -> list[str]:
        databases = [PRIMARY_SERVICE] + ([REPLICA_SERVICE] if self.replica is not None else [])
        return [*databases, *self.processes]

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL of the stack's database (what the apps use): with a replica, both
        nodes, of which the app keeps the writable one."""
        if self.replica is None:
            return self.postgres.url()
        return pgcluster.multi_host_url(
            [PgHost(node.host, node.port) for node in self.pg_nodes],
            user=self.postgres.user,
            database=self.postgres.database,
        )

    @property
    def pg_nodes(self) -> list[PostgresCluster]:
        """Both PostgreSQL nodes in a fixed order (by directory), whatever their roles: the
        apps' URL then stays the same across failovers."""
        nodes = [self.postgres] + ([self.replica] if self.replica is not None else [])
        return sorted(nodes, key=lambda node: str(node.run_dir))

    def _pg(self, name: str) -> PostgresCluster | None:
        """The node behind a database service name (None for other services)."""
        if name == PRIMARY_SERVICE:
            return self.postgres
        if name == REPLICA_SERVICE and self.replica is not None:
            return self.replica
        return None

    def _refresh_roles(self) -> None:
        """Follow a failover recorded in the state file by another process (the CLI, a drill
        run) since this object was made: which node is the primary now."""
        if self.replica is None:
            return
        try:
            primary = json.loads(self.state_file.read_text())["postgres"]["dataDir"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        if Path(primary) == self.replica.data_dir:
            self.postgres, self.replica = self.replica, self.postgres

    def swap_pg_roles(self) -> None:
        """Record a failover: the standby (promoted) becomes ``postgres`` and the old primary
        ``postgres-replica`` (to be re-attached)."""
        self._refresh_roles()
        if self.replica is None:
            raise StackError("the stack has no PostgreSQL replica")
        self.postgres, self.replica = self.replica, self.postgres
        self.save()

    def reattach_replica(self, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
        """Turn the ``postgres-replica`` node (a stopped, possibly diverged old primary) into a
        fresh standby of the current primary and wait until it streams synchronously."""
        self._refresh_roles()
        if self.replica is None:
            raise StackError("the stack has no PostgreSQL replica")
        if self.is_running(REPLICA_SERVICE):
            raise StackError(f"{REPLICA_SERVICE} is running; stop it before re-attaching")
        pgcluster.clone(self.postgres, self.replica)
        self._start_replica(timeout)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "runDir": str(self.run_dir),
            "createdAt": self.created_at,
            "host": HOST,
            "postgres": {
                "port": self.postgres.port,
                "dataDir": str(self.postgres.data_dir),
                "database": self.postgres.database,
                "user": self.postgres.user,
            },
            **(
                {
                    "postgresReplica": {
                        "port": self.replica.port,
                        "dataDir": str(self.replica.data_dir),
                        "node": pgcluster.node_name(self.replica.run_dir),
                    }
                }
                if self.replica is not None
                else {}
            ),
            "processes": [p.to_json() for p in self.processes.values()],
            "urls": {name: self.url(name) for name in self.services},
            "entryPoint": self.entry_url,
            "databaseUrl": self.database_url,
            "keyringFile": str(self.keyring_file),
            "walArchive": str(self.wal_archive.directory),
        }

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2))
        os.replace(tmp, self.state_file)

    def _refresh(self) -> None:
        """Re-read pids and overrides from the state file: other processes (the CLI, another
        :class:`Stack` object) may have restarted services since this object was made."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        for entry in data.get("processes", []):
            spec = self.processes.get(str(entry.get("name")))
            if spec is not None:
                fresh = ProcessSpec.from_json(entry)
                spec.pid, spec.env_overrides = fresh.pid, fresh.env_overrides

    def _spec(self, name: str) -> ProcessSpec:
        if name not in self.processes:
            raise StackError(f"unknown service {name!r}; the stack has: {', '.join(self.services)}")
        return self.processes[name]

    def url(self, name: str) -> str:
        """``postgresql://`` DSN, ``redis://`` URL or ``http://`` base URL of a service."""
        node = self._pg(name)
        if node is not None:
            return node.dsn
        spec = self._spec(name)
        if spec.kind in ("redis", redisha.REPLICA_KIND, redisha.SENTINEL_KIND):
            return f"redis://{HOST}:{spec.port}/0"
        return f"http://{HOST}:{spec.port}"

    def log_file(self, name: str) -> Path:
        self._refresh_roles()
        node = self._pg(name)
        if node is not None:
            return node.log_file
        self._spec(name)
        return self.run_dir / "logs" / f"{name}.log"

    def pid(self, name: str) -> int | None:
        self._refresh_roles()
        node = self._pg(name)
        if node is not None:
            try:
                first = (node.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
                pid = int(first)
            except (OSError, ValueError):
                return None
            return pid if pid_alive(pid, "postgres") else None
        self._refresh()
        spec = self._spec(name)
        for child in self._children.values():
            child.poll()  # reap our dead children, so none lingers as a zombie
        return spec.pid if pid_alive(spec.pid, _MARKERS[spec.kind]) else None

    def is_running(self, name: str) -> bool:
        return self.pid(name) is not None

    # -- lifecycle -------------------------------------------------------------------------

    def migrate(self) -> None:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ringrift.cli",
                "db",
                "upgrade",
                "--database-url",
                self.database_url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.run_dir,
            env=self._base_env(),
        )
        if result.returncode != 0:
            raise StackError(f"migrations failed:\n{result.stdout}\n{result.stderr}")

    def _base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "JWT_SECRET",
                "JWT_REFRESH_SECRET",
                "DATABASE_URL",
                "REDIS_URL",
                "REDIS_SENTINELS",
                "REDIS_SENTINEL_MASTER",
                "REDIS_SENTINEL_PASSWORD",
            )
        }
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def app_env(self, name: str) -> dict[str, str]:
        """The environment an app instance runs with (plus any per-app overrides)."""
        env = self._base_env()
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.url("redis"),
                "AI_SERVICE_URL": self.url("ai"),
                "JWT_KEYRING_FILE": str(self.keyring_file),
                "RINGRIFT_ENV": env.get("RINGRIFT_ENV", "development"),
            }
        )
        if self.redis_ha:
            env.update(redisha.app_env(self.sentinel_ports, HOST))
        if self.has_balancer:
            # Every request comes through HAProxy on this host: its X-Forwarded-For names the
            # real client (rate limits, audit). A stack without it trusts no forwarding header.
            env["TRUSTED_PROXIES"] = HOST
        env.update(self._spec(name).env_overrides)
        return env

    def _argv(self, spec: ProcessSpec) -> list[str]:
        if spec.kind in (redisha.REPLICA_KIND, redisha.SENTINEL_KIND) or (
            spec.kind == "redis" and self.redis_ha
        ):
            return redisha.argv(RedisServer.binary(), self.run_dir, spec.name, spec.kind)
        if spec.kind == "redis":
            return [
                RedisServer.binary(),
                "--port",
                str(spec.port),
                "--bind",
                HOST,
                "--dir",
                str(self.run_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ]
        if spec.kind == "ai":
            return [
                sys.executable,
                "-m",
                "ringrift.aiservice",
                "serve",
                "--host",
                HOST,
                "--port",
                str(spec.port),
                "--workers",
                "1",
                "--log-level",
                "warning",
            ]
        if spec.kind in monitoring.MARKERS:
            return monitoring.argv(spec.kind, self.monitoring_dir, spec.port)
        if spec.kind == "lb":
            return balancer.argv(self.run_dir / balancer.CONFIG_FILE)
        return [
            sys.executable,
            "-m",
            "ringrift.cli",
            "serve",
            "--host",
            HOST,
            "--port",
            str(spec.port),
        ]

    def start(
        self,
        name: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = HEALTH_TIMEOUT_SECONDS,
    ) -> None:
        """Start one service and wait until it is healthy. ``env`` (apps only) overrides
        variables of that instance and is remembered for later restarts."""
        self._refresh_roles()
        if name == PRIMARY_SERVICE:
            self._start_postgres(timeout)
            return
        if name == REPLICA_SERVICE and self.replica is not None:
            self._start_replica(timeout)
            return
        self._refresh()
        spec = self._spec(name)
        if env is not None:
            if spec.kind != "app":
                raise StackError("environment overrides apply to app instances only")
            spec.env_overrides = dict(env)
            self.save()
        if self.is_running(name):
            return
        if spec.kind == "lb":
            self.write_balancer_config()
        self._wait_healthy(name, self._launch(name), timeout)

    def _launch(self, name: str) -> subprocess.Popen[bytes]:
        spec = self._spec(name)
        deadline = time.monotonic() + PORT_RELEASE_SECONDS
        while port_open(HOST, spec.port):
            if time.monotonic() > deadline:
                raise StackError(
                    f"cannot start {name}: port {spec.port} is taken by another process"
                )
            time.sleep(0.05)
        argv = self._argv(spec)
        process_env = self.app_env(name) if spec.kind == "app" else self._base_env()
        if spec.kind == monitoring.POSTGRES_EXPORTER:
            process_env.update(monitoring.postgres_exporter_env([n.dsn for n in self.pg_nodes]))
        log_path = self.log_file(name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(open_private_append(log_path), "ab") as log:  # logs: owner-only
            log.write(f"\n--- {_now()} starting {name}: {' '.join(argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                argv,
                env=process_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.run_dir,
                start_new_session=True,
            )
        self._children[name] = child
        spec.pid = child.pid
        self.save()
        return child

    def _start_postgres(self, timeout: float) -> None:
        if self.postgres.running and self.is_running("postgres"):
            return
        self.wal_archive.prepare()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.postgres.start(timeout=min(30.0, timeout))
                return
            except ServiceError:
                # After a SIGKILL the old backends need a moment to notice and release the
                # shared memory; retry until the deadline.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _start_replica(self, timeout: float) -> None:
        """Start the standby (cloning the primary first when it has no data yet), wait until it
        streams, and make the primary's commits wait for it again."""
        replica = self.replica
        if replica is None:
            raise StackError("the stack has no PostgreSQL replica")
        if not replica.initialized:
            pgcluster.clone(self.postgres, replica)
        elif not (replica.data_dir / "standby.signal").exists():
            # Never start an old primary next to the new one: two writable nodes.
            raise StackError(
                f"{replica.data_dir} is not a standby (an old primary?); re-attach it with "
                "`ringrift stack reattach-replica` (a fresh pg_basebackup of the primary)"
            )
        if not (replica.running and self.is_running(REPLICA_SERVICE)):
            try:
                replica.start(timeout=min(30.0, timeout))
            except ServiceError as error:
                raise StackError(f"{REPLICA_SERVICE}: {error}") from error
        node = pgcluster.node_name(replica.run_dir)
        pgcluster.wait_streaming(self.postgres, node, synchronous=False, timeout=timeout)
        pgcluster.set_synchronous_standbys(self.postgres, [node])
        pgcluster.wait_streaming(self.postgres, node, synchronous=True, timeout=timeout)

    def _wait_healthy(self, name: str, child: subprocess.Popen[bytes], timeout: float) -> None:
        spec = self._spec(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise StackError(
                    f"{name} exited with code {child.returncode} during start-up; "
                    f"last log lines:\n{self.tail(name, 15)}"
                )
            if self.healthy(name):
                return
            time.sleep(0.1)
        raise StackError(f"{name} (port {spec.port}) did not become healthy in {timeout:.0f}s")

    def healthy(self, name: str, timeout: float = 1.0) -> bool:
        """Is the service answering: pg_isready-style TCP, Redis PING, HTTP /health."""
        self._refresh_roles()
        node = self._pg(name)
        if node is not None:
            return self.is_running(name) and port_open(HOST, node.port, timeout)
        spec = self._spec(name)
        if spec.kind in ("redis", redisha.REPLICA_KIND, redisha.SENTINEL_KIND):
            return RedisServer(self.run_dir, port=spec.port).ping(timeout)
        path = (
            balancer.ALIVE_PATH
            if spec.kind == "lb"
            else monitoring.HEALTH_PATHS.get(spec.kind, "/health")
        )
        try:
            return httpx.get(f"{self.url(name)}{path}", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, name: str, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Stop a service gracefully (SIGTERM, SIGKILL after ``timeout``)."""
        self._refresh_roles()
        node = self._pg(name)
        if node is not None:
            try:
                node.stop(mode="fast", timeout=timeout + 20)
            except ServiceError as error:
                raise StackError(str(error)) from error
            return
        pid = self.pid(name)
        if pid is None:
            return
        self._signal(name, pid, signal.SIGTERM)
        if not self._wait_dead(name, pid, timeout):
            self._signal(name, pid, signal.SIGKILL)
            self._wait_dead(name, pid, 5.0)

    def kill(self, name: str) -> None:
        """SIGKILL a service (crash drills). PostgreSQL: the postmaster is killed."""
        pid = self.pid(name)
        if pid is None:
            raise StackError(f"{name} is not running")
        self._signal(name, pid, signal.SIGKILL)
        self._wait_dead(name, pid, 10.0)

    def _signal(self, name: str, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_dead(self, name: str, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid(name) != pid:
                return True
            time.sleep(0.05)
        return self.pid(name) != pid

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def down(self) -> None:
        """Stop every service (apps first, PostgreSQL last). Data stays in the run dir."""
        errors: list[str] = []
        databases = [PRIMARY_SERVICE] + ([REPLICA_SERVICE] if self.replica is not None else [])
        for name in [*reversed(list(self.processes)), *databases]:
            try:
                self.stop(name)
            except (StackError, ServiceError, OSError) as error:
                errors.append(f"{name}: {error}")
        self.save()
        if errors:
            raise StackError("some services did not stop cleanly:\n" + "\n".join(errors))

    # -- inspection ------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        self._refresh_roles()
        rows: list[dict[str, Any]] = []
        for name in self.services:
            pid = self.pid(name)
            node = self._pg(name)
            port = node.port if node is not None else self._spec(name).port
            kind = "postgres" if node is not None else self._spec(name).kind
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "running": pid is not None,
                    "healthy": pid is not None and self.healthy(name, timeout=0.5),
                    "pid": pid,
                    "port": port,
                    "url": self.url(name),
                    "log": str(self.log_file(name)),
                }
            )
        return rows

    def tail(self, name: str, lines: int = 50) -> str:
        path = self.log_file(name)
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
