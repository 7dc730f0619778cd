"""Private PostgreSQL clusters and redis-server instances for tests, benchmarks and the local stack.

Both classes start real server processes on free local ports inside a run directory, wait until
they accept connections, and stop them again. When a server binary is missing the error names the
Debian package that provides it.

PostgreSQL refuses to run as root: when the current user is root the cluster is created and run
as the ``postgres`` system user (via ``runuser``), with the data directory owned by that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServiceError(RuntimeError):
    """A private service could not be started, reached or stopped."""


class MissingBinaryError(ServiceError):
    def __init__(self, binary: str, package: str) -> None:
        super().__init__(
            f"{binary} was not found; install the Debian package {package!r} "
            f"(apt-get install {package})"
        )
        self.binary = binary
        self.package = package


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_postgres_bindir() -> Path:
    """The directory holding initdb/pg_ctl/postgres (newest installed major version)."""
    env = os.environ.get("RINGRIFT_PG_BINDIR")
    candidates: list[Path] = [Path(env)] if env else []
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in versions]
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise MissingBinaryError("initdb/pg_ctl (PostgreSQL server)", "postgresql")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class PostgresCluster:
    """A throw-away PostgreSQL cluster: ``initdb`` into ``run_dir/data``, ``pg_ctl`` on a free
    port (TCP on 127.0.0.1, unix socket in the run directory), trust authentication for the
    ``ringrift`` superuser, and one database created at start."""

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        port: int | None = None,
        database: str = "ringrift",
        user: str = "ringrift",
        fast: bool = True,
        bindir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self._own_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="ringrift-pg-"))
        self.data_dir = self.run_dir / "data"
        self.log_file = self.run_dir / "postgres.log"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.database = database
        self.user = user
        self.fast = fast
        self.bindir = bindir
        # Extra server settings given as ``-c name=value`` at every start (WAL archiving,
        # replication roles); they win over the configuration files, which a base backup
        # copies from node to node.
        self.settings = dict(settings or {})
        self._as_postgres = os.geteuid() == 0

    # -- helpers -------------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        if self.bindir is None:
            self.bindir = find_postgres_bindir()
        path = self.bindir / name
        if not path.exists():
            raise MissingBinaryError(name, "postgresql")
        return str(path)

    def _run(self, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        if self._as_postgres:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise MissingBinaryError("runuser", "util-linux")
            args = [runuser, "-u", "postgres", "--", *args]
        return subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
        )

    def run_tool(
        self, name: str, *args: str, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL client or server tool (``pg_basebackup``, ``pg_ctl``...) as the user
        that owns the data directory."""
        return self._run([self._bin(name), *args], timeout=timeout)

    def prepare_dirs(self) -> None:
        """Create the run directory, owned by the user the server runs as."""
        self._prepare_dirs()

    def _prepare_dirs(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError as error:
                raise ServiceError(
                    "running as root but there is no 'postgres' system user to run the server; "
                    "install the Debian package 'postgresql' or run as a normal user"
                ) from error
            # The server (as postgres) must reach the run directory: make our own directories
            # on the way searchable (not readable) by others; refuse to touch anyone else's.
            temp_root = Path(tempfile.gettempdir()).resolve()
            for parent in [self.run_dir.resolve(), *self.run_dir.resolve().parents]:
                info = parent.stat()
                if not info.st_mode & 0o001:
                    ours = info.st_uid == os.geteuid()
                    if ours and (parent == self.run_dir.resolve() or temp_root in parent.parents):
                        os.chmod(parent, info.st_mode | 0o011)
                    else:
                        raise ServiceError(
                            f"{parent} is not searchable by the postgres user; "
                            "choose a run directory under /tmp"
                        )
            os.chown(self.run_dir, pg.pw_uid, pg.pw_gid)
            if self.data_dir.exists():
                for root, dirs, files in os.walk(self.data_dir):
                    for name in dirs + files:
                        os.chown(os.path.join(root, name), pg.pw_uid, pg.pw_gid)
                os.chown(self.data_dir, pg.pw_uid, pg.pw_gid)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def url(self, database: str | None = None, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database or self.database}"

    @property
    def dsn(self) -> str:
        return self.url(driver="postgresql")

    # -- lifecycle -----------------------------------------------------------------------

    def init(self) -> None:
        if self.initialized:
            return
        initdb = self._bin("initdb")
        self._prepare_dirs()
        result = self._run(
            [
                initdb,
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 30.0) -> PostgresCluster:
        """Initialise if needed, start the server and create the database."""
        self.init()
        self._prepare_dirs()
        options = [
            f"-p {self.port}",
            f"-k {self.run_dir}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=100",
        ]
        if self.fast:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        # pg_ctl hands -o to a shell: quote each value (archive_command holds spaces).
        options += [f"-c {shlex.quote(f'{name}={value}')}" for name, value in self.settings.items()]
        result = self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                " ".join(options),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise ServiceError(
                f"pg_ctl start failed (port {self.port}):\n{result.stderr}\n{_tail(self.log_file)}"
            )
        self.wait_ready(timeout)
        self.create_database(self.database)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self._run(
                [self._bin("pg_isready"), "-h", self.host, "-p", str(self.port), "-U", self.user],
                timeout=10,
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        raise ServiceError(f"PostgreSQL on port {self.port} not ready:\n{_tail(self.log_file)}")

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            [
                self._bin("psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tA",
                "-c",
                sql,
            ],
            timeout=60,
        )
        if result.returncode != 0:
            raise ServiceError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def database_exists(self, name: str) -> bool:
        return self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{_ident(name)}'") == "1"

    def create_database(self, name: str, template: str | None = None) -> None:
        if self.database_exists(name):
            return
        clause = f' TEMPLATE "{_ident(template)}"' if template else ""
        self.psql(f'CREATE DATABASE "{_ident(name)}"{clause}')

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')

    @property
    def running(self) -> bool:
        if not self.initialized:
            return False
        result = self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"], timeout=10)
        return result.returncode == 0

    def stop(self, mode: str = "fast", timeout: float = 30.0) -> None:
        if not self.initialized or not self.running:
            return
        result = self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                str(int(timeout)),
                "stop",
            ],
            timeout=timeout + 10,
        )
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl stop failed: {result.stderr}")

    def destroy(self) -> None:
        with contextlib.suppress(ServiceError, subprocess.TimeoutExpired):
            self.stop(mode="immediate")
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.destroy()


def _ident(name: str) -> str:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    return name


class RedisServer:
    """A throw-away ``redis-server`` (no persistence) on a free port."""

    def __init__(self, run_dir: Path | None = None, *, port: int | None = None) -> None:
        self._own_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="ringrift-redis-"))
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_file = self.run_dir / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @staticmethod
    def binary() -> str:
        path = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if path is None:
            raise MissingBinaryError("redis-server", "redis-server")
        return path

    def start(self, timeout: float = 15.0) -> RedisServer:
        if self.running:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self._process = subprocess.Popen(
                [
                    self.binary(),
                    "--port",
                    str(self.port),
                    "--bind",
                    self.host,
                    "--dir",
                    str(self.run_dir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        self.wait_ready(timeout)
        return self

    def ping(self, timeout: float = 0.5) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServiceError(
                    f"redis-server exited with {self._process.returncode}:\n{_tail(self.log_file)}"
                )
            if self.ping():
                return
            time.sleep(0.05)
        raise ServiceError(f"redis-server on port {self.port} not ready:\n{_tail(self.log_file)}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            self._process = None
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        self._process = None

    def destroy(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.destroy()
