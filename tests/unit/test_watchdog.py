"""The stall watchdog (streaming/watchdog.py) and the restart of a stalled speed layer by `exstreamly run`."""
from __future__ import annotations

import sys

import pytest

from stack.errors import ServiceStartError
from stack.local_run import Children
from streaming.watchdog import EXIT_STALLED, StallWatch


def test_a_query_is_stalled_only_when_one_micro_batch_outlasts_the_limit() -> None:
    now = [0.0]
    watch = StallWatch(stall_s=60, clock=lambda: now[0])
    assert watch.stalled("deals", running=True, last_batch=4) is None  # batch 5 starts
    now[0] = 50
    assert watch.stalled("deals", running=True, last_batch=4) is None
    now[0] = 70
    assert watch.stalled("deals", running=True, last_batch=5) is None  # batch 5 ended, batch 6 runs
    now[0] = 125
    assert watch.stalled("deals", running=True, last_batch=5) is None  # 55 s into batch 6
    now[0] = 131
    assert watch.stalled("deals", running=True, last_batch=5) == 61
    assert watch.stalled("deals", running=False, last_batch=5) is None  # idle between triggers
    now[0] = 500
    assert watch.stalled("deals", running=True, last_batch=5) is None  # a new trigger, timed afresh


def test_the_run_restarts_a_child_that_exits_stalled_and_fails_on_any_other_exit(tmp_path) -> None:
    said: list[str] = []
    group = Children(tmp_path, {}, said.append)
    try:
        group.start("speed_layer", [sys.executable, "-c", f"raise SystemExit({EXIT_STALLED})"])
        group.restart_on["speed_layer"] = EXIT_STALLED
        first = group.procs["speed_layer"]
        first.wait(timeout=30)
        group.check_alive()
        assert group.procs["speed_layer"] is not first and said and "restarting" in said[0]
        group.start("crawler", [sys.executable, "-c", "raise SystemExit(1)"])
        group.procs["crawler"].wait(timeout=30)
        with pytest.raises(ServiceStartError, match="crawler exited with 1"):
            group.check_alive()
    finally:
        group.stop()
