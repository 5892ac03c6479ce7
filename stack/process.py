"""Start, find and stop the stack's own JVM processes by PID file, never by name; bound the calls that
ask them whether they are up."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_pid(pidfile: Path, marker: str) -> int | None:
    """PID in `pidfile` if that process is alive and its command line contains `marker`.

    The marker (the service's runtime directory) guards against a recycled PID belonging to
    somebody else's process.
    """
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if marker in cmdline else None


def spawn(argv: list[str], *, pidfile: Path, stdout_log: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` detached in its own session, its output appended to `stdout_log`."""
    stdout_log.parent.mkdir(parents=True, exist_ok=True)
    with stdout_log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    pidfile.write_text(str(proc.pid))
    return proc.pid


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child we spawned but never reaped shows as a zombie: treat it as dead.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def terminate(pid: int, *, grace_s: float = 30.0) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def lower_session_priority(pid: int, nice: int) -> None:
    """Rank a process that leads its own session (`start_new_session`) `nice` below the others, as a whole.

    With kernel.sched_autogroup_enabled (the default of desktop and many server kernels) Linux shares
    the CPU between sessions first, and a process's own nice value only ranks it inside its session;
    the session's nice, /proc/<pid>/autogroup, is what ranks it against the API or Cassandra. Without
    autogroups the file is absent or has no effect, and the process's own nice value does the work.
    """
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass


def call_within(call: Callable[[], T], timeout_s: float) -> T:
    """`call()`, or TimeoutError when it has not returned within `timeout_s`.

    For client libraries that can block without a bound of their own: cassandra-driver's `connect()`
    waits on its connection pools' futures with no timeout, and once, in CI, a probe of a half-started
    node never returned and took the cluster profile's whole start (and 900 s) with it. The call runs
    on a daemon thread, so one that never returns is left behind without holding up the exit."""
    outcome: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            outcome.put((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is
            outcome.put((False, exc))

    threading.Thread(target=run, name="bounded-call", daemon=True).start()
    try:
        returned, value = outcome.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"no answer within {timeout_s:.0f} s") from None
    if returned:
        return value  # type: ignore[return-value]
    raise value  # type: ignore[misc]
