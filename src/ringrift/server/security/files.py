"""Files that hold secrets or personal data are created owner-only (0600), whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600


def create_private(path: Path, *, truncate: bool = False) -> None:
    """Create ``path`` with mode 0600 if it does not exist (or truncate it), and make an
    existing file owner-only too."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    os.close(os.open(path, flags, PRIVATE_MODE))
    os.chmod(path, PRIVATE_MODE)


def open_private_append(path: Path) -> int:
    """A file descriptor for appending to ``path``, created 0600 (log files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_MODE)
    os.fchmod(fd, PRIVATE_MODE)
    return fd


def readable_by_others(path: Path) -> bool:
    """True when group or others may read or write ``path``."""
    mode = os.stat(path).st_mode
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
