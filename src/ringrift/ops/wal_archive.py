"""Continuous WAL archiving for the local stack's PostgreSQL.

A nightly-style dump loses everything written since the dump. With every completed WAL segment
copied into an archive, a base backup plus the archived segments can rebuild the database as it
was at any moment after the backup (:mod:`ringrift.ops.pitr`).

PostgreSQL runs ``archive_command`` once per completed segment and only recycles the segment
after the command exits 0, so the command must never report success for a copy that is not
durable, and must never overwrite an archived segment with different bytes (that would silently
corrupt the history). The script written here:

* exits 0 at once when the segment is already archived with identical bytes (PostgreSQL may
  retry a segment after a crash that happened between the copy and its bookkeeping);
* fails when a different file of that name exists;
* copies into a hidden temporary name, ``sync``s it, renames it into place and syncs the
  directory, so a crash never leaves a half-written segment under the final name.

``archive_timeout`` forces a segment switch after that many seconds of activity, which bounds
how much committed work lives only in the current, not yet archived, segment.
"""

from __future__ import annotations

import os
import pwd
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

ARCHIVE_DIR = "wal-archive"
SCRIPT_NAME = "archive-wal.sh"
ARCHIVE_TIMEOUT_SECONDS = 10

_SCRIPT = """#!/bin/sh
# Written by `ringrift stack`: PostgreSQL's archive_command, run as `{script} %p %f`.
# Copies one completed WAL segment into the archive; never overwrites a different file.
set -eu
src="$1"
name="$2"
dir={directory}
dest="$dir/$name"
if [ -e "$dest" ]; then
    if cmp -s "$src" "$dest"; then
        exit 0
    fi
    echo "archive-wal: $dest already exists with different content" >&2
    exit 1
fi
tmp="$dir/.$name.partial"
cp "$src" "$tmp"
sync "$tmp"
mv "$tmp" "$dest"
sync "$dir"
"""


class WalArchiveError(RuntimeError):
    """The archive directory could not be prepared, or a segment never arrived."""


@dataclass(frozen=True)
class WalArchive:
    """The archive of one stack: ``<run_dir>/wal-archive`` and the script that fills it."""

    run_dir: Path

    @property
    def directory(self) -> Path:
        return self.run_dir / ARCHIVE_DIR

    @property
    def script(self) -> Path:
        return self.run_dir / SCRIPT_NAME

    def settings(self) -> dict[str, str]:
        """Server settings that turn archiving on (passed as ``-c`` options at start)."""
        return {
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": f"{shlex.quote(str(self.script))} %p %f",
            "archive_timeout": f"{ARCHIVE_TIMEOUT_SECONDS}s",
        }

    def prepare(self) -> None:
        """Create the archive directory and (re)write the script. When running as root the
        server runs as ``postgres``, which must own the directory to write into it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        text = _SCRIPT.format(
            script=self.script, directory=shlex.quote(str(self.directory.resolve()))
        )
        tmp = self.script.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, self.script)
        if os.geteuid() == 0:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError as error:
                raise WalArchiveError("running as root but there is no 'postgres' user") from error
            os.chown(self.directory, pg.pw_uid, pg.pw_gid)
        self.directory.chmod(0o700)

    def segments(self) -> list[str]:
        """Names of the archived segments (and history files), oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if not p.name.startswith("."))

    def has(self, segment: str) -> bool:
        return (self.directory / segment).is_file()

    def wait_for(self, segment: str, timeout: float) -> float:
        """Block until ``segment`` is archived; seconds waited. Raises after ``timeout``."""
        started = time.monotonic()
        while not self.has(segment):
            if time.monotonic() - started > timeout:
                raise WalArchiveError(
                    f"WAL segment {segment} did not reach {self.directory} in {timeout:.0f}s; "
                    "check the PostgreSQL log for archive_command failures"
                )
            time.sleep(0.05)
        return time.monotonic() - started
