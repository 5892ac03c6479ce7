"""`up`, `down` and `status` of the local stack: idempotent, PID-file based, readiness-checked."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import Literal

from conf.settings import Settings
from conf.versions import Versions
from stack.errors import ServiceStartError
from stack.process import call_within, is_alive, read_pid, spawn, terminate
from stack.services import Cassandra, JvmService, Kafka

#: `local`: one Kafka and one Cassandra (the default); `cluster`: stack/cluster.py
Profile = Literal["local", "cluster"]

log = logging.getLogger(__name__)
PROBE_INTERVAL_S = 1.0
#: One probe's bound: a healthy service answers in well under a second, a refusing one within its
#: client's own timeouts (3 s); past this the probe counts as "not ready yet" and is tried again.
PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    answer: str | None  # the probe's answer (a version) or None when it does not answer
    started_in_s: float | None = None

    @property
    def is_ready(self) -> bool:
        return self.answer is not None


def services(settings: Settings, versions: Versions, profile: Profile = "local") -> list[JvmService]:
    if profile == "cluster":  # imported on use: the cluster profile loads pyspark and Hadoop's layout
        from stack.cluster import cluster_services

        return cluster_services(settings, versions)
    # Cassandra first: it is the slowest to come up, so it gets a head start.
    return [Cassandra(settings, versions), Kafka(settings, versions)]


def startup_timeout_s(settings: Settings, profile: Profile) -> float:
    if profile == "cluster":
        from stack.cluster import ClusterLayout

        return max(settings.startup_timeout_s, ClusterLayout.of(settings).startup_timeout_s)
    return settings.startup_timeout_s


def _pid(service: JvmService) -> int | None:
    return read_pid(service.dirs.pidfile, marker=str(service.dirs.home))


def _try_probe(service: JvmService) -> str | None:
    # The drivers log every refused connection at ERROR; while waiting for a start that is noise.
    quiet = [logging.getLogger(name) for name in ("cassandra", "kafka")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        return call_within(service.probe, PROBE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - any failure of the probe means "not ready yet"
        return None
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def status(settings: Settings, versions: Versions, profile: Profile = "local") -> list[ServiceStatus]:
    result = []
    for service in services(settings, versions, profile):
        pid = _pid(service)
        result.append(ServiceStatus(service.name, pid, _try_probe(service) if pid else None))
    return result


def up(settings: Settings, versions: Versions, *, echo: Callable[[str], None] = print,
       profile: Profile = "local") -> list[ServiceStatus]:
    """Start every service of the profile that is not running, then wait until each really answers."""
    ready = start_services(services(settings, versions, profile), startup_timeout_s(settings, profile), echo=echo)
    if profile == "cluster":
        from stack.cluster import publish_spark_archive, wait_for_cassandra_ring

        echo(f"cassandra: {wait_for_cassandra_ring(settings, versions)}")
        echo(f"Spark's jars for YARN: {publish_spark_archive(settings)}")
    return ready


def start_services(to_start: list[JvmService], timeout_s: float, *,
                   echo: Callable[[str], None] = print) -> list[ServiceStatus]:
    """Start each service that is not running (in order), then wait until each really answers."""
    started: dict[str, tuple[JvmService, int, float]] = {}
    ready: list[ServiceStatus] = []
    running_before: set[str] = set()
    for service in to_start:
        pid = _pid(service)
        if pid is not None:
            echo(f"{service.name}: already running (pid {pid})")
            started[service.name] = (service, pid, time.monotonic())
            running_before.add(service.name)
            continue
        t0 = time.monotonic()
        argv = service.command()
        pid = spawn(argv, pidfile=service.dirs.pidfile, stdout_log=service.dirs.console_log, env=service.env())
        echo(f"{service.name}: starting (pid {pid}), log {service.main_log}")
        started[service.name] = (service, pid, t0)
    for name, (service, pid, t0) in started.items():
        answer = _wait_ready(service, pid, timeout_s - (time.monotonic() - t0))
        if name in running_before:
            echo(f"{name}: ready ({answer})")
            ready.append(ServiceStatus(name, pid, answer))
            continue
        took = time.monotonic() - t0
        echo(f"{name}: ready in {took:.1f}s ({answer})")
        ready.append(ServiceStatus(name, pid, answer, took))
    return ready


def _wait_ready(service: JvmService, pid: int, timeout_s: float) -> str:
    deadline = time.monotonic() + max(timeout_s, 5.0)
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise ServiceStartError(_failure(service, f"exited during start (pid {pid})"))
        answer = _try_probe(service)
        if answer is not None:
            return answer
        time.sleep(PROBE_INTERVAL_S)
    raise ServiceStartError(_failure(service, f"did not answer within {timeout_s:.0f}s (pid {pid})"))


def _failure(service: JvmService, what: str) -> str:
    tails = []
    for path in (service.main_log, service.dirs.console_log):
        if path.exists():
            lines = path.read_text(errors="replace").splitlines()[-15:]
            tails.append(f"--- last lines of {path}:\n" + "\n".join(lines))
    return f"{service.name} {what}; see {service.main_log}\n" + "\n".join(tails)


def down(settings: Settings, versions: Versions, *, echo: Callable[[str], None] = print,
         profile: Profile = "local") -> None:
    """Stop only our own processes, found by PID file, in the reverse order of `up` (Kafka before Cassandra)."""
    stop_services(services(settings, versions, profile), echo=echo)


def stop_services(to_stop: list[JvmService], *, echo: Callable[[str], None] = print) -> None:
    """Stop each service that runs, found by its PID file, in the reverse order of `to_stop`; the nodes of
    one kind (the cluster profile's three brokers, three Cassandra nodes, two Spark workers) together.

    One by one, the last of three KRaft nodes waited for a controlled shutdown that the quorum, gone with
    the other two, could no longer approve: 30 s, then SIGKILL; and the Cassandra nodes drained in turn."""
    for _, kind in groupby(reversed(to_stop), key=type):
        nodes = list(kind)
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            list(pool.map(partial(_stop, echo=echo), nodes))


def _stop(service: JvmService, *, echo: Callable[[str], None]) -> None:
    pid = _pid(service)
    if pid is None:
        echo(f"{service.name}: not running")
        return
    t0 = time.monotonic()
    terminate(pid)
    service.dirs.pidfile.unlink(missing_ok=True)
    echo(f"{service.name}: stopped (pid {pid}) in {time.monotonic() - t0:.1f}s")
