"""A replay worker process outlives no app: when the process that started its pool is killed
with SIGKILL (no pool shutdown), the worker notices and exits on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ringrift.server import replaywork

PARENT = """
import concurrent.futures, multiprocessing, os, sys, time
from ringrift.server import replaywork

pool = concurrent.futures.ProcessPoolExecutor(
    1,
    mp_context=multiprocessing.get_context("spawn"),
    initializer=replaywork.start_worker,
    initargs=(os.getpid(),),
)
print(pool.submit(replaywork.ready).result(), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for init to reap it is gone
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_worker_exits_when_its_app_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker != parent.pid and _alive(worker)
        time.sleep(2 * replaywork.ORPHAN_CHECK_SECONDS)
        assert _alive(worker), "a worker whose app runs stays"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 5 * replaywork.ORPHAN_CHECK_SECONDS + 5
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the orphaned replay worker kept running"
    finally:
        parent.kill()
        parent.wait(10)


LATE = """
import time
from ringrift.server import replaywork

replaywork.start_worker(1)  # not this process's parent: its app is already gone
time.sleep(600)
"""


def test_a_worker_that_starts_after_its_app_died_exits() -> None:
    """The initializer of a worker spawned while its app shut down runs when the app is gone:
    it must not take init (its parent by then) for the app."""
    late = subprocess.Popen([sys.executable, "-c", LATE])
    try:
        late.wait(5 * replaywork.ORPHAN_CHECK_SECONDS + 10)
        assert late.returncode == 0
    finally:
        late.kill()
        late.wait(10)
