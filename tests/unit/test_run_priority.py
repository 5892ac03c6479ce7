"""`exstreamly run` starts its heavy Spark jobs below the API and the stores: the process's own nice
value, and, where Linux groups the CPU by session (autogroup), the nice value of its session."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from stack.local_run import start_in_session


def test_a_child_started_below_the_others_runs_at_that_nice_value_and_so_does_its_session(tmp_path: Path) -> None:
    proc = start_in_session([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ),
                            tmp_path / "child.log", nice=7)
    try:
        deadline = time.monotonic() + 10  # `nice` sets it, then execs the command: wait for the command
        while Path(os.readlink(f"/proc/{proc.pid}/exe")).name == "nice" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 7
        assert os.getsid(proc.pid) == proc.pid  # a session of its own: stopped as a whole
        autogroup = Path(f"/proc/{proc.pid}/autogroup")
        if autogroup.exists():  # a kernel built with autogroups (CI's and this machine's are)
            assert autogroup.read_text().split()[-1] == "7"
    finally:
        proc.kill()
        proc.wait()


def test_a_child_started_at_the_default_priority_is_not_lowered(tmp_path: Path) -> None:
    proc = start_in_session([sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ),
                            tmp_path / "child.log")
    try:
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        proc.kill()
        proc.wait()
