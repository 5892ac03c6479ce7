"""Faults the suite injects into real processes: kill -9 and restart, or SIGSTOP for a while and
SIGCONT, of the local stack's Kafka broker and Cassandra node and of the speed layer's Spark driver; and
into the network between the speed layer and Kafka or Cassandra, through a fault proxy."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from conf.settings import PROJECT_ROOT, Settings
from conf.versions import load_versions
from stack.manager import status, up
from streaming.progress import Offsets, records_behind
from streaming.watchdog import EXIT_STALLED
from tests.faults.proxy import Impairment, TcpFaultProxy


def service_pid(settings: Settings, name: str) -> int:
    found = {row.name: row.pid for row in status(settings, load_versions())}
    pid = found.get(name)
    if pid is None:
        raise AssertionError(f"{name} is not running: the fault suite needs the local stack up")
    return pid


def kill_and_restart_service(settings: Settings, name: str, down_s: float) -> None:
    """kill -9 the service, leave it down `down_s`, start it again with the stack's own command."""
    pid = service_pid(settings, name)
    os.kill(pid, signal.SIGKILL)
    try:
        psutil.Process(pid).wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    time.sleep(down_s)
    up(settings, load_versions(), echo=lambda _line: None)


def freeze(pid: int, paused_s: float, *, group: bool = False) -> None:
    """SIGSTOP the process (or its process group), SIGCONT after `paused_s`: a long GC pause, a frozen VM."""
    send = os.killpg if group else os.kill
    send(pid, signal.SIGSTOP)
    try:
        time.sleep(paused_s)
    finally:
        send(pid, signal.SIGCONT)


def pause_service(settings: Settings, name: str, paused_s: float) -> None:
    freeze(service_pid(settings, name), paused_s)


@dataclass
class SpeedLayer:
    """The speed layer (every streaming query in one Spark application) as `exstreamly run` starts it."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SpeedLayer:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(PROJECT_ROOT / "spark-submit.sh"), "streaming/speed_layer.py"],
                                         cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    restarts: int = 0

    def running(self) -> bool:
        """Whether the layer runs, after restarting it if its watchdog stopped it (what `exstreamly run`,
        YARN or a service manager do on EXIT_STALLED): a supervisor, not a manual step."""
        if self.proc is not None and self.proc.poll() == EXIT_STALLED:
            self.restarts += 1
            self.start()
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def kill_and_restart_driver(layer: SpeedLayer, down_s: float) -> None:
    """kill -9 the Spark driver (JVM and Python), restart it from its checkpoints, as a supervisor would."""
    layer.kill()
    time.sleep(down_s)
    layer.start()


def pause_driver(layer: SpeedLayer, paused_s: float) -> None:
    """Freeze every process of the speed layer (its JVM and Python workers) for `paused_s`."""
    assert layer.proc is not None
    freeze(layer.proc.pid, paused_s, group=True)


Fault = Callable[[Settings, SpeedLayer], None]

FAULTS: dict[str, Fault] = {
    "kafka-kill9": lambda s, _layer: kill_and_restart_service(s, "kafka", down_s=5),
    "kafka-pause": lambda s, _layer: pause_service(s, "kafka", paused_s=20),
    "cassandra-kill9": lambda s, _layer: kill_and_restart_service(s, "cassandra", down_s=5),
    "cassandra-pause": lambda s, _layer: pause_service(s, "cassandra", paused_s=20),
    "driver-kill9": lambda _s, layer: kill_and_restart_driver(layer, down_s=2),
    "driver-pause": lambda _s, layer: pause_driver(layer, paused_s=20),
}


@dataclass(frozen=True)
class NetworkFault:
    """The link between the speed layer and `link` impaired for `lasts_s`, then healed."""

    link: Literal["kafka", "cassandra"]
    impairment: Impairment
    lasts_s: float

    def strike(self, proxy: TcpFaultProxy) -> None:
        proxy.impair(self.impairment)
        try:
            time.sleep(self.lasts_s)
        finally:
            proxy.heal()


#: Longer than the clients' 30 s request timeouts where that matters: a blackhole outlives the requests
#: caught in it, so their retries are part of what is tested.
NETWORK_FAULTS: dict[str, NetworkFault] = {
    "kafka-latency": NetworkFault("kafka", Impairment(delay_s=0.25), lasts_s=45),
    "kafka-bandwidth": NetworkFault("kafka", Impairment(bytes_per_s=32 * 1024), lasts_s=45),
    "kafka-blackhole": NetworkFault("kafka", Impairment(blackhole=True), lasts_s=45),
    "cassandra-latency": NetworkFault("cassandra", Impairment(delay_s=0.25), lasts_s=45),
    "cassandra-bandwidth": NetworkFault("cassandra", Impairment(bytes_per_s=32 * 1024), lasts_s=45),
    "cassandra-blackhole": NetworkFault("cassandra", Impairment(blackhole=True), lasts_s=45),
}


def records_left(committed: list[Offsets], ends: Offsets) -> int | None:
    """Records some query has yet to commit up to `ends`; None before every query has committed once."""
    if not committed or not all(committed):
        return None
    return sum(records_behind(c, ends) for c in committed)


def wait_until_caught_up(layer: SpeedLayer, committed: Callable[[], list[Offsets]], ends: Offsets,
                         timeout_s: float, poll_s: float = 1.0) -> float:
    """Seconds until every query's newest committed micro-batch (`committed()`, one entry per query)
    reached `ends`; the layer must keep running (restarted by `running()` after a stall exit)."""
    started, left = time.monotonic(), None
    while time.monotonic() - started < timeout_s:
        assert layer.running(), f"the speed layer stopped (no manual step may restart it); see {layer.log}"
        left = records_left(committed(), ends)
        if left == 0:
            return time.monotonic() - started
        time.sleep(poll_s)
    raise AssertionError(f"the queries were {left} records behind after {timeout_s:.0f}s; see {layer.log}")
