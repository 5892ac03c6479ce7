"""Counters of a crawl, shared by threads, and a periodic one-line report for long runs."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger(__name__)


class Progress:
    """Thread-safe tallies: pages, deals, bytes, errors by type; rates since `started`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    def add(self, **amounts: int) -> None:
        with self._lock:
            self.counts.update(amounts)

    def error(self, exc: BaseException) -> None:
        self.add(**{f"error_{type(exc).__name__}": 1})

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def line(self) -> str:
        counts = self.snapshot()
        elapsed = max(1e-9, time.monotonic() - self.started)
        errors = {k[6:]: v for k, v in counts.items() if k.startswith("error_")}
        return (
            f"pages {counts.get('pages', 0)} ({counts.get('pages', 0) / elapsed:.1f}/s, "
            f"{counts.get('empty_pages', 0)} empty) deals {counts.get('deals', 0)} "
            f"({counts.get('deals', 0) / elapsed:.0f}/s) acked {counts.get('acked', 0)} "
            f"work {counts.get('work_done', 0)} errors {sum(errors.values())} {errors or ''}".rstrip()
        )


class Reporter:
    """Calls `emit(progress.line())` every `every_s` seconds on a daemon thread until stopped."""

    def __init__(self, progress: Progress, every_s: float = 5.0, emit: Callable[[str], None] | None = None):
        self._progress = progress
        self._every = every_s
        self._emit = emit or (lambda line: log.info("crawl: %s", line))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crawl-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self._emit(self._progress.line())

    def __enter__(self) -> Reporter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._emit(self._progress.line())
