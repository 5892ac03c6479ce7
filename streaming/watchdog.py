"""A micro-batch that never ends stops the job, so that its supervisor restarts it from its checkpoints.

A query can hang instead of failing: the spark-cassandra-connector refreshes a table's schema before
each write, and the Java driver's `Session.refreshSchema()` called while its connection is lost never
returns (scylladb/java-driver#343), e.g. when Cassandra is killed under the sink. Nothing then fails,
so nothing restarts. A thread here watches every query; when one has been running the same micro-batch
for longer than `settings.stream_stall_exit_s`, it logs which and exits the job with EXIT_STALLED. A
restart is exact: the checkpoints hold what was committed, and every sink writes keyed rows (the fault
suite's driver-kill9 case). `exstreamly run` restarts the speed layer on that status; YARN
(`spark.yarn.maxAppAttempts`) or a service manager (`Restart=on-failure`) does on a cluster.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light to import: `exstreamly run` reads EXIT_STALLED without loading pyspark
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)
#: Exit status of a job stopped by the watchdog (EX_TEMPFAIL: try again).
EXIT_STALLED = 75
POLL_S = 5.0


class StallWatch:
    """When each query's current micro-batch started, as seen from outside the query."""

    def __init__(self, stall_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s, self.clock = stall_s, clock
        self._since: dict[str, tuple[object, float]] = {}

    def stalled(self, name: str, running: bool, last_batch: object) -> float | None:
        """Seconds the query has been in one micro-batch when that is over the limit, else None.
        `running`: a trigger is active; `last_batch`: the id of its newest finished micro-batch."""
        if not running:
            self._since.pop(name, None)
            return None
        seen = self._since.get(name)
        if seen is None or seen[0] != last_batch:
            self._since[name] = (last_batch, self.clock())
            return None
        waited = self.clock() - seen[1]
        return waited if waited > self.stall_s else None


def exit_when_stalled(queries: Sequence[StreamingQuery], stall_s: float,
                      exit_job: Callable[[int], None] = os._exit) -> threading.Thread | None:
    """Watch `queries` on a daemon thread; none when `stall_s` is 0 (off)."""
    if stall_s <= 0:
        return None
    watch = StallWatch(stall_s)

    def loop() -> None:
        while True:
            time.sleep(POLL_S)
            for query in queries:
                try:
                    running = query.isActive and bool(query.status["isTriggerActive"])
                    progress = query.lastProgress
                except Exception:  # noqa: BLE001 - a query stopping meanwhile: the job's await handles it
                    continue
                waited = watch.stalled(query.name or query.id, running, progress["batchId"] if progress else None)
                if waited is not None:
                    log.error("query %s has been in one micro-batch for %.0f s (limit %.0f s, "
                              "EXS_STREAM_STALL_EXIT_S): stopping the job so that it restarts from its checkpoints",
                              query.name, waited, stall_s)
                    logging.shutdown()
                    exit_job(EXIT_STALLED)  # os._exit: the hung threads would keep a normal exit waiting
                    return

    thread = threading.Thread(target=loop, name="stall-watchdog", daemon=True)
    thread.start()
    return thread
