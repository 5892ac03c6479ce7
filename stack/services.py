"""The services of the local stack, each a start command plus a readiness probe.

The single-node profile runs one Kafka and one Cassandra from settings; the cluster profile
(stack/cluster.py) runs several nodes of each from a node spec, plus Hadoop and Spark's own daemons.
"""
from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from conf.settings import Settings
from conf.versions import Versions
from stack.errors import ServiceStartError
from stack.toolchain import java17, resolve_classpath

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")


class _ConfigTemplate(Template):
    # `@{name}`, because `${...}` already means something inside logback and log4j2 configs.
    delimiter = "@"


def render(template: str, dest: Path, **values: object) -> Path:
    """Write `templates/<template>` to `dest` with `@{name}` placeholders filled in."""
    text = _ConfigTemplate((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in values.items()})
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    return dest


@dataclass(frozen=True)
class ServiceDirs:
    """Where one service keeps its jars, rendered config, data and logs (all under runtime_dir)."""

    home: Path

    @property
    def conf(self) -> Path:
        return self.home / "conf"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def pidfile(self) -> Path:
        return self.home / "service.pid"

    @property
    def console_log(self) -> Path:
        return self.logs / "console.log"


class JvmService:
    """A service of the stack: jars from Maven, config rendered under its own runtime directory."""

    name = ""
    log_name = ""
    #: the POM under stack/maven/ that gives the classpath; nodes of one kind share its jars
    module = ""

    def __init__(self, settings: Settings, versions: Versions, *, name: str = "", home: Path | None = None) -> None:
        self.settings = settings
        self.versions = versions
        self.name = name or self.name
        self.dirs = ServiceDirs(home or settings.runtime_dir / self.name)

    @property
    def main_log(self) -> Path:
        return self.dirs.logs / self.log_name

    @property
    def lib(self) -> Path:
        """The module's jars, under the runtime dir once for every node that runs them."""
        return self.settings.runtime_dir / self.module / "lib"

    def env(self) -> dict[str, str] | None:
        """The environment of the process (None: inherit ours)."""
        return None

    def command(self) -> list[str]:
        """Prepare what the service needs (jars, config, formatted storage); its command line."""
        raise NotImplementedError

    def probe(self) -> str:
        """A short description of the running service; raises while it does not answer yet."""
        raise NotImplementedError

    def _prepare(self) -> Path:
        """JDK 17 and the service's jars (resolved once); returns the `java` to run."""
        java = java17(self.versions)
        resolve_classpath(self.module, self.lib, self.versions, local_repo=self.settings.runtime_dir / "m2",
                          repository_url=self.settings.maven_repository_url)
        self.dirs.logs.mkdir(parents=True, exist_ok=True)
        return java


@dataclass(frozen=True)
class CassandraNode:
    """Where one Cassandra node listens and how it joins its ring."""

    host: str
    seeds: str  # host:storage_port, comma-separated
    initial_token: int = 0
    cluster_name: str = "exstreamly-local"

    @classmethod
    def single(cls, settings: Settings) -> CassandraNode:
        return cls(settings.cassandra_host, f"{settings.cassandra_host}:{settings.cassandra_storage_port}")

    @property
    def ring_delay_flags(self) -> list[str]:
        """The single-node stack's node (its own only seed) skips gossip's waits, having nobody to hear
        from: a start in seconds.

        A node of a ring keeps Cassandra's own ring delay, because gossip drops a node that has not
        joined yet (a "fat client") once it has been silent for one ring delay. At 1 s, nodes starved of
        CPU for a second while three start on two cores were dropped ("FatClient … has been silent for
        1000ms, removing from gossip" in their logs), and once in CI a node stayed missing from another's
        system.peers_v2: the schema changes of the cluster tests then never agreed within 120 s."""
        if {seed.rsplit(":", 1)[0] for seed in self.seeds.split(",")} != {self.host}:
            return []
        return ["-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000"]


@dataclass(frozen=True)
class KafkaNode:
    """Where one KRaft node listens, and its quorum: alone (dynamic) or among static `voters`."""

    host: str
    port: int
    controller_port: int
    node_id: int = 1
    voters: str = ""  # "1@host:port,2@host:port,…"; empty: a standalone quorum of this node
    replicas: int = 1
    #: the port clients are told to connect to, when it is not `port` (a broker behind a proxy or NAT)
    advertised_port: int = 0

    @classmethod
    def single(cls, settings: Settings) -> KafkaNode:
        return cls(settings.kafka_host, settings.kafka_port, settings.kafka_controller_port)

    @property
    def quorum(self) -> str:
        if self.voters:
            return f"controller.quorum.voters={self.voters}"
        return f"controller.quorum.bootstrap.servers={self.host}:{self.controller_port}"

    @property
    def min_isr(self) -> int:
        return min(2, self.replicas)


class Cassandra(JvmService):
    name = "cassandra"
    log_name = "system.log"
    module = "cassandra"

    def __init__(self, settings: Settings, versions: Versions, *, node: CassandraNode | None = None,
                 name: str = "", home: Path | None = None, heap: str = "") -> None:
        super().__init__(settings, versions, name=name, home=home)
        self.node = node or CassandraNode.single(settings)
        self.heap = heap or settings.cassandra_heap

    def command(self) -> list[str]:
        """Resolve jars, render config and return the JVM command line of one node."""
        s, d, n = self.settings, self.dirs, self.node
        java = self._prepare()
        yaml = render("cassandra.yaml", d.conf / "cassandra.yaml", host=n.host, seeds=n.seeds,
                      initial_token=n.initial_token, cluster_name=n.cluster_name,
                      storage_port=s.cassandra_storage_port, native_port=s.cassandra_port, data=d.data)
        logback = render("logback.xml", d.conf / "logback.xml")
        args = render("cassandra-jvm17.args", d.conf / "jvm17.args")
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (d.data / sub).mkdir(parents=True, exist_ok=True)
        return [
            str(java), f"@{args}", f"-Xms{self.heap}", f"-Xmx{self.heap}",
            f"-Dcassandra.config={yaml.as_uri()}", f"-Dcassandra.storagedir={d.data}",
            "-Dcassandra-foreground=yes", f"-Dcassandra.logdir={d.logs}",
            f"-Dlogback.configurationFile={logback}",
            *n.ring_delay_flags, "-Dcassandra.superuser_setup_delay_ms=0",
            "-cp", f"{self.lib}/*", "org.apache.cassandra.service.CassandraDaemon",
        ]

    def probe(self) -> str:
        """`release_version` of the node and the peers it sees up; raises while it does not answer CQL."""
        with self._session() as session:
            version = session.execute("SELECT release_version FROM system.local").one().release_version
            peers = len(list(session.execute("SELECT peer FROM system.peers_v2")))
            return str(version) if not peers else f"{version}, ring of {peers + 1}"

    def schema_view(self) -> dict[str, str]:
        """The schema version of this node and of each peer as this node's gossip knows it, by address;
        raises while the node does not answer CQL."""
        from stack.cql import schema_versions

        with self._session() as session:
            return schema_versions(session)

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """A short-lived session that talks to this node only."""
        from cassandra.policies import WhiteListRoundRobinPolicy

        from conf.clients import cassandra_cluster

        node_only = self.settings.model_copy(update={"cassandra_host": self.node.host})
        cluster = cassandra_cluster(node_only, connect_timeout=3, control_connection_timeout=3,
                                    load_balancing_policy=WhiteListRoundRobinPolicy([self.node.host]))
        try:
            yield cluster.connect()
        finally:
            cluster.shutdown()


class Kafka(JvmService):
    name = "kafka"
    log_name = "server.log"
    module = "kafka"

    def __init__(self, settings: Settings, versions: Versions, *, node: KafkaNode | None = None,
                 name: str = "", home: Path | None = None, heap: str = "", cluster_id: str = "") -> None:
        super().__init__(settings, versions, name=name, home=home)
        self.node = node or KafkaNode.single(settings)
        self.heap = heap or settings.kafka_heap
        self.cluster_id = cluster_id  # every node of a static quorum is formatted with the same one

    def command(self) -> list[str]:
        """Resolve jars, render config, format the KRaft log dir once, return the broker command."""
        d, n = self.dirs, self.node
        java = self._prepare()
        props = render("server.properties", d.conf / "server.properties", host=n.host, port=n.port,
                       advertised_port=n.advertised_port or n.port, controller_port=n.controller_port,
                       node_id=n.node_id, quorum=n.quorum,
                       replicas=n.replicas, min_isr=n.min_isr, data=d.data)
        log4j = render("log4j2.properties", d.conf / "log4j2.properties")
        tools_log4j = render("tools-log4j2.properties", d.conf / "tools-log4j2.properties")
        if not (d.data / "meta.properties").exists():
            self._format(java, props, tools_log4j)
        return [
            str(java), f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j.as_uri()}", f"-Dkafka.logs.dir={d.logs}",
            "-cp", f"{self.lib}/*", "kafka.Kafka", str(props),
        ]

    def _format(self, java: Path, props: Path, tools_log4j: Path) -> None:
        """Format the log directory (first start only): a standalone quorum, or a node of a static one."""
        base = [str(java), f"-Dlog4j2.configurationFile={tools_log4j.as_uri()}", "-cp", f"{self.lib}/*",
                "kafka.tools.StorageTool"]
        cluster_id = self.cluster_id or subprocess.run(
            [*base, "random-uuid"], capture_output=True, text=True, check=True).stdout.strip()
        quorum = [] if self.node.voters else ["--standalone"]
        done = subprocess.run([*base, "format", *quorum, "-t", cluster_id, "-c", str(props)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceStartError(f"kafka storage format failed: {done.stdout}{done.stderr}")

    def probe(self) -> str:
        """Answer a metadata request; raises while the broker is not up."""
        from kafka import KafkaAdminClient

        n = self.node
        admin = KafkaAdminClient(bootstrap_servers=f"{n.host}:{n.port}", request_timeout_ms=3000,
                                 api_version_auto_timeout_ms=3000)
        try:
            brokers = len(admin.describe_cluster()["brokers"])
            return self.versions.kafka if brokers == 1 else f"{self.versions.kafka}, {brokers} brokers"
        finally:
            admin.close()

