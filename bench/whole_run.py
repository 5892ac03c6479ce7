"""`exstreamly run` as a benchmark's workload: the whole platform at its design rates, started as a child
process and followed from outside (bench.node, bench.load, bench.soak)."""
from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from conf.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
EXSTREAMLY = str(Path(sys.executable).with_name("exstreamly"))
READY_LINE = "Open GraphiQL at"
CRAWL_ROUND_DONE = "round done in"
#: What `exstreamly run` prints when its one training of the recommender has ended, however it ended.
TRAINING_ENDED = ("GraphQL answers viewer { recommendations }", "recommendations: trained",
                  "recommendations: the training exited")
#: A deals micro-batch whose newest record is at most this old: the stream is through the first crawl.
CAUGHT_UP_LAG_S = 30.0
DEALS_BATCH_LAG = re.compile(r" pipeline\.sink: batch .*\blag (\d+(?:\.\d+)?)s")
#: How a child of `exstreamly run` is recognised in its command line (stack/local_run.py starts them).
CHILD_NAMES = (("streaming/speed_layer.py", "speed layer"), ("batch/recommend_job.py", "recommend training"),
               (" simulate", "simulator"), (" crawl", "crawler"), (" activity", "activity simulator"),
               (" api", "api"))


class Run:
    """`exstreamly run` as a child process, its output followed on a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = time.monotonic()
        self.ready_at: float | None = None
        self.trained_at: float | None = None
        self._crawler_log_start = len(text_of(self.logs() / "crawler.log"))  # logs append across runs
        self._speed_log_start = len(text_of(self.logs() / "speed_layer.log"))
        self.proc = subprocess.Popen([EXSTREAMLY, "run"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            log.info("run: %s", line.rstrip())
            if READY_LINE in line and self.ready_at is None:
                self.ready_at = time.monotonic()
            if any(marker in line for marker in TRAINING_ENDED) and self.trained_at is None:
                self.trained_at = time.monotonic()

    def wait_ready(self, timeout_s: float) -> float:
        while self.ready_at is None:
            if self.proc.poll() is not None or time.monotonic() - self.started > timeout_s:
                raise RuntimeError(f"`exstreamly run` did not become ready; see {self.logs()}")
            time.sleep(1)
        return self.ready_at - self.started

    def ensure_running(self, during: str) -> None:
        """A figure measured after the run stopped would be of something else: fail instead."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"`exstreamly run` stopped (status {self.proc.returncode}) during {during}; "
                               f"the figures would not be of the platform running; see {self.logs()}")

    def wait_first_crawl(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while CRAWL_ROUND_DONE not in text_of(self.logs() / "crawler.log")[self._crawler_log_start:]:
            if time.monotonic() > deadline:
                raise RuntimeError("the first full crawl did not end in time")
            time.sleep(2)

    def wait_start_up_work(self, timeout_s: float) -> float:
        """Wait until the one-off work of a start has ended: the recommender's one training, and the deals
        stream's catch-up on the first crawl (a batch within `CAUGHT_UP_LAG_S`); seconds from the start."""
        deadline = time.monotonic() + timeout_s
        while not self.start_up_work_ended():
            self.ensure_running("its start-up work")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the start-up work (training, first catch-up) did not end in {timeout_s:.0f}s")
            time.sleep(2)
        return time.monotonic() - self.started

    def start_up_work_ended(self) -> bool:
        return self.trained_at is not None and self._deals_caught_up()

    def _deals_caught_up(self) -> bool:
        lines = text_of(self.logs() / "speed_layer.log")[self._speed_log_start:].splitlines()
        return any(float(match.group(1)) <= CAUGHT_UP_LAG_S
                   for match in map(DEALS_BATCH_LAG.search, lines) if match)

    def processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def named_processes(self) -> dict[str, list[psutil.Process]]:
        """Each child of the run with its own descendants (a Spark driver is a JVM and a Python process),
        under the name of what it is; the run itself as "exstreamly run"."""
        named: dict[str, list[psutil.Process]] = {"exstreamly run": [psutil.Process(self.proc.pid)]}
        for child in psutil.Process(self.proc.pid).children():
            try:
                command = " ".join(child.cmdline())
                tree = [child, *child.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            name = next((n for marker, n in CHILD_NAMES if marker in command), f"pid {child.pid}")
            named.setdefault(name, []).extend(tree)
        return named

    def logs(self) -> Path:
        return self.settings.runtime_dir / "logs"

    def stop(self) -> None:
        """What a service manager does: SIGTERM (`run` stops its children, SIGKILL after 30 s). Not
        SIGINT: a benchmark started in the background (`... &`) hands its children an ignored SIGINT, and
        Python then never raises KeyboardInterrupt. Anything of the run still there is killed here, so a
        benchmark never leaves a process behind."""
        if self.proc.poll() is not None:
            return
        descendants = psutil.Process(self.proc.pid).children(recursive=True)
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            log.warning("`exstreamly run` did not stop in 90 s: killing it and its children")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        _, alive = psutil.wait_procs(descendants, timeout=5)
        for process in alive:
            try:
                log.warning("left behind by `exstreamly run`, killed: %s", " ".join(process.cmdline())[:120])
                process.kill()
            except psutil.NoSuchProcess:
                pass


def text_of(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def stack_processes(settings: Settings) -> dict[str, psutil.Process]:
    """The local stack's services (Kafka, Cassandra) by name."""
    from conf.versions import load_versions
    from stack.manager import status

    return {row.name: psutil.Process(row.pid) for row in status(settings, load_versions()) if row.pid}


def apply_schema_once(settings: Settings) -> None:
    """What `./dev run` does before `exstreamly run`."""
    from conf.clients import cassandra_cluster
    from stack.cql import apply_schema

    cluster = cassandra_cluster(settings)
    try:
        apply_schema(cluster.connect(), settings)
    finally:
        cluster.shutdown()


def start_whole_run(settings: Settings, ready_timeout_s: float = 900) -> Run:
    """The stack up with its schema, then `exstreamly run` until ready and its first full crawl done."""
    from conf.versions import load_versions
    from stack.manager import up

    up(settings, load_versions(), echo=log.info)
    apply_schema_once(settings)
    run = Run(settings)
    try:
        run.wait_ready(ready_timeout_s)
        run.wait_first_crawl(ready_timeout_s)
    except BaseException:
        run.stop()
        raise
    return run
