"""Start ``ringrift up`` as a subprocess for end-to-end tests and wait for its URL."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ringrift.ops.services import free_port


@dataclass
class Up:
    process: subprocess.Popen[str]
    port: int
    ai_port: int
    output: list[str] = field(default_factory=list)
    exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def running_up(
    data_dir: Path, timeout: float = 120.0, port: int | None = None, ai_port: int | None = None
) -> Iterator[Up]:
    """``ringrift up`` on free ports (or the given ones, e.g. to restart on the same address)
    until the block ends, then Ctrl-C (SIGINT) and wait; the exit code is left in
    ``Up.exit_code``."""
    port, ai_port = port or free_port(), ai_port or free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    argv = [sys.executable, "-m", "ringrift.cli", "up", "--port", str(port)]
    argv += ["--ai-port", str(ai_port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    up = Up(proc, port, ai_port)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []], daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not any("RingRift is up" in x for x in up.output):
            assert time.monotonic() < deadline, "".join(up.output)
            assert proc.poll() is None, "".join(up.output)
            with contextlib.suppress(queue.Empty):
                up.output.append(lines.get(timeout=1))
        yield up
    finally:
        proc.send_signal(signal.SIGINT)
        up.exit_code = proc.wait(60)
        while not lines.empty():
            up.output.append(lines.get())
