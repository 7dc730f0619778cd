#!/usr/bin/env python3
"""Backup and keyring freshness for node-exporter's textfile collector.

Neither is a property of a running app instance, so the app does not export them: this script
reads the backup directory (the manifests of ``ringrift backup create``) and the JWT keyring
file, and writes Prometheus text exposition atomically (temp file + rename, as the textfile
collector requires). Run it from cron every few minutes and right after ``ringrift backup
create`` and ``ringrift secrets rotate``, on a host where ringrift is installed:

    python3 deploy/prometheus/textfile-metrics.py --backup-dir /srv/backups \\
        --keyring-file /run/ringrift/jwt-keyring.json \\
        --out /var/lib/prometheus/node-exporter/ringrift.prom

Metrics (all gauges):
  ringrift_backup_last_success_timestamp_seconds  createdAt of the newest backup whose dump file
                                                  exists (0 when there is none)
  ringrift_backup_count                           backups with a readable manifest and dump
  ringrift_keyring_active_key_created_timestamp_seconds  createdAt of the active signing key
                                                  (file mtime when the key has no createdAt)
  ringrift_keyring_keys                           keys in the keyring (active + still verifying)
  ringrift_textfile_last_run_timestamp_seconds    when this script last wrote the file
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path


def _backup_lines(backup_dir: Path) -> list[str]:
    from ringrift.ops.backup import BackupError, list_backups

    try:
        entries = list_backups(backup_dir)
    except BackupError:
        entries = []
    good = [e for e in entries if e.get("ok")]
    newest = max((datetime.fromisoformat(e["createdAt"]).timestamp() for e in good), default=0.0)
    return [
        "# HELP ringrift_backup_last_success_timestamp_seconds"
        " Creation time of the newest usable backup.",
        "# TYPE ringrift_backup_last_success_timestamp_seconds gauge",
        f"ringrift_backup_last_success_timestamp_seconds {newest:.3f}",
        "# HELP ringrift_backup_count Usable backups in the backup directory.",
        "# TYPE ringrift_backup_count gauge",
        f"ringrift_backup_count {len(good)}",
    ]


def _keyring_lines(keyring_file: Path) -> list[str]:
    document = json.loads(keyring_file.read_text())
    active = document.get("activeKid")
    keys = document.get("keys") or []
    created: float | None = None
    for entry in keys if isinstance(keys, list) else []:
        if isinstance(entry, dict) and entry.get("kid") == active and entry.get("createdAt"):
            created = float(entry["createdAt"])
    if created is None:
        created = keyring_file.stat().st_mtime
    return [
        "# HELP ringrift_keyring_active_key_created_timestamp_seconds"
        " When the active signing key was made.",
        "# TYPE ringrift_keyring_active_key_created_timestamp_seconds gauge",
        f"ringrift_keyring_active_key_created_timestamp_seconds {created:.3f}",
        "# HELP ringrift_keyring_keys Keys in the JWT keyring.",
        "# TYPE ringrift_keyring_keys gauge",
        f"ringrift_keyring_keys {len(keys)}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backup-dir", type=Path)
    parser.add_argument("--keyring-file", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the .prom file to (re)write")
    args = parser.parse_args(argv)
    if args.backup_dir is None and args.keyring_file is None:
        parser.error("give --backup-dir, --keyring-file or both")
    lines: list[str] = []
    if args.backup_dir is not None:
        lines += _backup_lines(args.backup_dir)
    if args.keyring_file is not None:
        lines += _keyring_lines(args.keyring_file)
    lines += [
        "# HELP ringrift_textfile_last_run_timestamp_seconds When this file was last written.",
        "# TYPE ringrift_textfile_last_run_timestamp_seconds gauge",
        f"ringrift_textfile_last_run_timestamp_seconds {time.time():.3f}",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=".ringrift-", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
