"""Start-up configuration and files at rest: environment names, production secrets, keyring
file permissions, owner-only database/backup files, and tokens kept out of logs."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from realtime_support import WS, app_process

from ringrift.ops.backup import create_backup
from ringrift.ops.secrets import new_keyring, write_keyring
from ringrift.ops.services import free_port

STRONG = secrets.token_urlsafe(32)
STRONG_REFRESH = secrets.token_urlsafe(32)


def _serve(env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``ringrift serve`` that is expected to refuse to start."""
    full = {**os.environ, "AUTO_MIGRATE": "false", "LOG_LEVEL": "WARNING", **env}
    args = [sys.executable, "-m", "ringrift.cli", "serve", "--port", str(free_port())]
    return subprocess.run(args, env=full, capture_output=True, text=True, timeout=timeout, cwd="/")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["PRODUCTION", "prod", " Production "])
def test_production_spellings_start(pg_database: str, name: str) -> None:
    process = app_process(
        pg_database, ringrift_env=name, jwt_secret=STRONG, jwt_refresh_secret=STRONG_REFRESH
    )
    process.start()
    process.stop()


def test_unknown_environment_is_a_clear_error() -> None:
    result = _serve({"RINGRIFT_ENV": "staging", "DATABASE_URL": "sqlite+aiosqlite:///:memory:"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid configuration" in result.stderr and "RINGRIFT_ENV" in result.stderr


@pytest.mark.parametrize(
    "secret",
    [
        "0123456789abcdefghijklmnopqrstuv",
        "correct-horse-battery-staple-2026",
    ],
)
def test_production_refuses_secrets_that_do_not_look_random(secret: str) -> None:
    result = _serve(
        {
            "RINGRIFT_ENV": "production",
            "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
            "JWT_SECRET": secret,
            "JWT_REFRESH_SECRET": STRONG_REFRESH,
        }
    )
    assert result.returncode == 2, result.stderr
    assert "does not look random" in result.stderr
    assert "token_urlsafe(32)" in result.stderr


def test_production_refuses_a_group_readable_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    write_keyring(path, new_keyring())
    os.chmod(path, 0o644)
    env = {
        "RINGRIFT_ENV": "production",
        "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
        "JWT_KEYRING_FILE": str(path),
        "JWT_SECRET": "",
    }
    result = _serve(env)
    assert result.returncode == 2
    assert "chmod 600" in result.stderr and "644" in result.stderr


async def test_database_and_backups_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        database = tmp_path / "ringrift.db"
        url = f"sqlite+aiosqlite:///{database}"
        process = app_process(url, auto_migrate=True).start()
        process.stop()
        assert database.exists()
        assert _mode(database) == 0o600
        result = await asyncio.to_thread(create_backup, url, tmp_path / "backups")
        assert _mode(result.file) == 0o600
        assert _mode(result.manifest_file) == 0o600
    finally:
        os.umask(old_umask)


async def test_tokens_in_websocket_urls_are_not_logged(pg_database: str) -> None:
    process = app_process(pg_database, log_level="INFO").start()
    try:
        from realtime_support import register

        user: dict[str, Any] = await register(process.url)
        ws = await WS.open(process.url, user["token"])
        await ws.close()
        await asyncio.sleep(0.3)
    finally:
        process.stop()
    log = process.log.read_text()
    assert "/ws" in log  # the handshake was logged...
    assert user["token"] not in log  # ...without the token
    assert user["token"].split(".")[2] not in log
