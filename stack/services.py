"""The two services of the local stack, each a start command plus a readiness probe."""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from string import Template

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
    def lib(self) -> Path:
        return self.home / "lib"

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

    def __init__(self, settings: Settings, versions: Versions) -> None:
        self.settings = settings
        self.versions = versions
        self.dirs = ServiceDirs(settings.runtime_dir / self.name)

    @property
    def main_log(self) -> Path:
        return self.dirs.logs / self.log_name

    def _prepare(self) -> Path:
        """JDK 17 and the service's jars (resolved once); returns the `java` to run."""
        java = java17(self.versions)
        resolve_classpath(self.name, self.dirs.lib, self.versions, local_repo=self.settings.runtime_dir / "m2",
                          repository_url=self.settings.maven_repository_url)
        self.dirs.logs.mkdir(parents=True, exist_ok=True)
        return java


class Cassandra(JvmService):
    name = "cassandra"
    log_name = "system.log"

    def command(self) -> list[str]:
        """Resolve jars, render config and return the JVM command line of one node."""
        s, d = self.settings, self.dirs
        java = self._prepare()
        yaml = render("cassandra.yaml", d.conf / "cassandra.yaml", host=s.cassandra_host,
                      storage_port=s.cassandra_storage_port, native_port=s.cassandra_port, data=d.data)
        logback = render("logback.xml", d.conf / "logback.xml")
        args = render("cassandra-jvm17.args", d.conf / "jvm17.args")
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw"):
            (d.data / sub).mkdir(parents=True, exist_ok=True)
        return [
            str(java), f"@{args}", f"-Xms{s.cassandra_heap}", f"-Xmx{s.cassandra_heap}",
            f"-Dcassandra.config={yaml.as_uri()}", f"-Dcassandra.storagedir={d.data}",
            "-Dcassandra-foreground=yes", f"-Dcassandra.logdir={d.logs}",
            f"-Dlogback.configurationFile={logback}",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0", "-Dcassandra.ring_delay_ms=1000",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-cp", f"{d.lib}/*", "org.apache.cassandra.service.CassandraDaemon",
        ]

    def probe(self) -> str:
        """`release_version` of the node; raises while it does not answer CQL yet."""
        from conf.clients import cassandra_cluster

        cluster = cassandra_cluster(self.settings, connect_timeout=3, control_connection_timeout=3)
        try:
            row = cluster.connect().execute("SELECT release_version FROM system.local").one()
            return str(row.release_version)
        finally:
            cluster.shutdown()


class Kafka(JvmService):
    name = "kafka"
    log_name = "server.log"

    def command(self) -> list[str]:
        """Resolve jars, render config, format the KRaft log dir once, return the broker command."""
        s, d = self.settings, self.dirs
        java = self._prepare()
        props = render("server.properties", d.conf / "server.properties", host=s.kafka_host,
                       port=s.kafka_port, controller_port=s.kafka_controller_port, data=d.data)
        log4j = render("log4j2.properties", d.conf / "log4j2.properties")
        tools_log4j = render("tools-log4j2.properties", d.conf / "tools-log4j2.properties")
        if not (d.data / "meta.properties").exists():
            self._format(java, props, tools_log4j)
        return [
            str(java), f"-Xms{s.kafka_heap}", f"-Xmx{s.kafka_heap}", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j.as_uri()}", f"-Dkafka.logs.dir={d.logs}",
            "-cp", f"{d.lib}/*", "kafka.Kafka", str(props),
        ]

    def _format(self, java: Path, props: Path, tools_log4j: Path) -> None:
        """Format the log directory for a fresh standalone KRaft quorum (first start only)."""
        base = [str(java), f"-Dlog4j2.configurationFile={tools_log4j.as_uri()}", "-cp", f"{self.dirs.lib}/*",
                "kafka.tools.StorageTool"]
        cluster_id = subprocess.run([*base, "random-uuid"], capture_output=True, text=True, check=True)
        done = subprocess.run([*base, "format", "--standalone", "-t", cluster_id.stdout.strip(), "-c", str(props)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ServiceStartError(f"kafka storage format failed: {done.stdout}{done.stderr}")

    def probe(self) -> str:
        """Answer a metadata request; raises while the broker is not up."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=3000,
                                 api_version_auto_timeout_ms=3000)
        try:
            admin.list_topics()
            return self.versions.kafka
        finally:
            admin.close()


Service = Cassandra | Kafka
