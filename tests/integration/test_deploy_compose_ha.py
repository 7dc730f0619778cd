"""The scripts of deploy/compose.yaml's ``ha`` profile, run against real servers instead of
containers (no container engine runs here). ``postgres/allow-replication.sh`` opens a primary
that authenticates every connection by password (as the postgres image does) to streaming
replication; ``postgres/standby.sh`` clones that primary into an empty directory, streams
from it as ``postgres_standby`` with the password it was given, and restarts on its existing
data as it is. The Sentinels' start-up command writes a configuration that a real Sentinel
loads and that watches a real Redis by host name."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from ringrift.ops import pgcluster
from ringrift.ops.services import (
    PostgresCluster,
    RedisServer,
    ServiceError,
    find_postgres_bindir,
    free_port,
)

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCRIPTS = DEPLOY / "postgres"
# A password with both characters that ~/.pgpass must escape.
PASSWORD = r"s3:cr\et"
STANDBY = "postgres_standby"


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class StandbyScript:
    """``standby.sh`` run as the server's user, on a free port of 127.0.0.1."""

    def __init__(self, node: PostgresCluster, primary: PostgresCluster) -> None:
        self.node = node
        self.primary = primary
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            "PATH": f"{find_postgres_bindir()}:{os.environ['PATH']}",
            "HOME": str(self.node.run_dir),
            "PGDATA": str(self.node.data_dir),
            "PRIMARY_HOST": self.primary.host,
            "PRIMARY_PORT": str(self.primary.port),
            "POSTGRES_USER": self.primary.user,
            "POSTGRES_PASSWORD": PASSWORD,
        }
        command = [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            "sh",
            str(SCRIPTS / "standby.sh"),
            "-c",
            f"port={self.node.port}",
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.node.run_dir}",
        ]
        log = open(self.node.run_dir / "standby.log", "ab")  # noqa: SIM115 - kept by the child
        self.process = subprocess.Popen(
            _as_server_user(command), stdout=log, stderr=subprocess.STDOUT, cwd="/"
        )

    def stop(self) -> None:
        """Fast shutdown of the postmaster the script exec'd."""
        if self.process is None:
            return
        pid_file = self.node.data_dir / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split("\n", 1)[0]), signal.SIGINT)
        else:
            self.process.terminate()
        self.process.wait(30)
        self.process = None


@pytest.fixture
def primary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresCluster]:
    node = PostgresCluster(tmp_path / "primary")
    node.start()
    try:
        node.psql(f"ALTER ROLE {node.user} PASSWORD '{PASSWORD}'")
        # As the postgres image writes it: every TCP connection by password, no replication.
        (node.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        subprocess.run(
            ["sh", str(SCRIPTS / "allow-replication.sh")],
            env={**os.environ, "PGDATA": str(node.data_dir), "POSTGRES_USER": node.user},
            check=True,
        )
        reload = node.run_tool("pg_ctl", "-D", str(node.data_dir), "reload")
        assert reload.returncode == 0, reload.stderr
        monkeypatch.setenv("PGPASSWORD", PASSWORD)  # the tests' own psql calls
        yield node
    finally:
        node.destroy()


def test_allow_replication_adds_one_password_rule(primary: PostgresCluster) -> None:
    rules = (primary.data_dir / "pg_hba.conf").read_text().splitlines()
    assert rules[-1] == f"host replication {primary.user} all scram-sha-256"
    assert sum("replication" in rule for rule in rules) == 1


def test_standby_script_clones_streams_and_restarts_as_it_is(
    primary: PostgresCluster, tmp_path: Path
) -> None:
    node = PostgresCluster(tmp_path / "standby", port=free_port())
    node.prepare_dirs()
    script = StandbyScript(node, primary)
    script.start()
    try:
        pgcluster.wait_streaming(primary, STANDBY, synchronous=False, timeout=60)
        # ~/.pgpass carries the password, escaped; nothing else can read it.
        pgpass = node.run_dir / ".pgpass"
        assert pgpass.read_text() == f"*:*:*:{primary.user}:s3\\:cr\\\\et\n"
        assert pgpass.stat().st_mode & 0o077 == 0
        assert (node.data_dir / "standby.signal").exists()
        primary.psql("CREATE TABLE moves (n int); INSERT INTO moves VALUES (7)", "ringrift")
        _wait_for_row(node)
        assert node.psql("SELECT pg_is_in_recovery()") == "t"

        # A restart finds a cluster in the volume: no new copy, it streams again.
        marker = node.data_dir / "kept-by-restart"
        marker.write_text("")
        script.stop()
        script.start()
        pgcluster.wait_streaming(primary, STANDBY, synchronous=False, timeout=60)
        assert marker.exists()
        primary.psql("INSERT INTO moves VALUES (8)", "ringrift")
        _wait_for_row(node, "2")
    finally:
        script.stop()


def _wait_for_row(node: PostgresCluster, count: str = "1") -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if node.psql("SELECT count(*) FROM moves", "ringrift") == count:
                return
        except ServiceError:  # the table itself may not have been replayed yet
            pass
        assert time.monotonic() < deadline, "the standby did not replay the primary's rows"
        time.sleep(0.2)


def test_sentinel_command_monitors_redis_by_host_name(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The compose Sentinels' shell command, with only what a container provides replaced:
    the file it writes, the Sentinel port, the ``redis`` host (``localhost`` here, resolved
    like a compose service name) and ``redis-sentinel`` (``redis-server --sentinel``)."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    script: str = compose["services"]["sentinel1"]["command"][0]
    conf = tmp_path / "sentinel.conf"
    port = free_port()
    local = (
        script.replace("/tmp/sentinel.conf", str(conf))
        .replace("port 26379", f"port {port}")
        .replace("ringrift redis 6379", f"ringrift localhost {redis_server.port}")
        .replace(
            "exec redis-sentinel " + str(conf), f"exec {RedisServer.binary()} {conf} --sentinel"
        )
    )
    assert local.count(str(conf)) == 2 and f"localhost {redis_server.port}" in local
    process = subprocess.Popen(
        ["sh", "-c", local], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        client = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                master = client.sentinel_master("ringrift")
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the Sentinel did not start"
                time.sleep(0.1)
        # Announced by name, not by an address that changes when the container restarts.
        assert master["ip"] == "localhost" and int(master["port"]) == redis_server.port
        assert int(master["quorum"]) == 2
        assert int(master["down-after-milliseconds"]) == 5000
        # It reaches the master it monitors: connected, and INFO told it the run id.
        while master["is_disconnected"] or not master["runid"]:
            assert time.monotonic() < deadline, f"the Sentinel cannot reach Redis: {master}"
            time.sleep(0.2)
            master = client.sentinel_master("ringrift")
        client.close()
    finally:
        process.terminate()
        process.wait(10)
