"""The benchmarks' CPU clock of a process tree counts a busy grandchild, and nothing for a
process that is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ringrift.ops.bench.cpu import postmaster_pid, tree_cpu_seconds

SPIN = """
import time
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
time.sleep(60)
"""


def test_a_busy_grandchild_counts_for_its_ancestor(tmp_path: Path) -> None:
    (tmp_path / "spin.py").write_text(SPIN)
    (tmp_path / "parent.py").write_text(
        f"import subprocess, sys\nsubprocess.run([sys.executable, {str(tmp_path / 'spin.py')!r}])\n"
    )
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")])
    try:
        deadline = time.monotonic() + 30
        while tree_cpu_seconds(parent.pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu_seconds(parent.pid) >= 0.5
    finally:
        subprocess.run(["pkill", "-KILL", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait(10)
    assert tree_cpu_seconds(parent.pid) == 0.0


def test_postmaster_pid_reads_the_first_line(tmp_path: Path) -> None:
    assert postmaster_pid(tmp_path) is None
    (tmp_path / "postmaster.pid").write_text("4242\n/var/lib/pg\n")
    assert postmaster_pid(tmp_path) == 4242
    (tmp_path / "postmaster.pid").write_text("garbage\n")
    assert postmaster_pid(tmp_path) is None
