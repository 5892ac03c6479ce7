"""The `cluster` profile of the local stack: every distributed engine the platform targets, on one machine.

HDFS and YARN (Hadoop's own daemons), a Spark standalone master and two workers, three KRaft Kafka
nodes (topics replicated 3 times, min.insync.replicas 2) and a Cassandra ring of three nodes on
loopback addresses (keyspace NetworkTopologyStrategy, RF 3, writes at LOCAL_QUORUM). Nothing in it is
simulated: the jobs reach it through the same settings they would use for a remote cluster, which
`cluster_env()` spells out (`exstreamly stack env --profile cluster`).
"""
from __future__ import annotations

import base64
import logging
import shlex
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspark

from conf.settings import Settings, load_settings
from conf.versions import Versions
from stack.errors import ServiceStartError
from stack.hadoop import HadoopLayout, hadoop_daemons, hdfs_exists, hdfs_put
from stack.process import call_within
from stack.services import Cassandra, CassandraNode, JvmService, Kafka, KafkaNode
from stack.spark_standalone import SPARK_HOME, StandaloneLayout, standalone_daemons

log = logging.getLogger(__name__)

#: Murmur3's token range, split evenly between the ring's nodes (num_tokens 1: a fixed, balanced ring)
MIN_TOKEN, TOKEN_SPAN = -(2**63), 2**64
#: How long the Cassandra nodes may take, once each answers, to know each other and agree on a schema
RING_WAIT_S = 180.0
#: One node's answer about the ring; a node that takes longer has no view yet (asked again a second later)
SCHEMA_VIEW_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ClusterLayout:
    """Node counts, addresses and heaps of the profile (about 7 GiB of heap with two executors)."""

    home: Path
    host: str = "127.0.0.1"
    kafka_nodes: int = 3
    kafka_port: int = 19092  # node i: broker kafka_port + i - 1, controller kafka_controller_port + i - 1
    kafka_controller_port: int = 19192
    kafka_heap: str = "384m"
    cassandra_nodes: int = 3
    cassandra_first_address: int = 2  # 127.0.0.2, 127.0.0.3, …: the single-node stack keeps 127.0.0.1
    cassandra_heap: str = "768m"
    startup_timeout_s: float = 600.0

    @classmethod
    def of(cls, settings: Settings) -> ClusterLayout:
        return cls(settings.runtime_dir / "cluster")

    @property
    def hadoop(self) -> HadoopLayout:
        return HadoopLayout(self.home)

    @property
    def standalone(self) -> StandaloneLayout:
        return StandaloneLayout(self.home)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{self.host}:{self.kafka_port + i}" for i in range(self.kafka_nodes))

    @property
    def kafka_voters(self) -> str:
        return ",".join(f"{i + 1}@{self.host}:{self.kafka_controller_port + i}" for i in range(self.kafka_nodes))

    @property
    def cassandra_hosts(self) -> list[str]:
        return [f"127.0.0.{self.cassandra_first_address + i}" for i in range(self.cassandra_nodes)]

    @property
    def kafka_replicas(self) -> int:
        return min(3, self.kafka_nodes)

    @property
    def replication(self) -> str:
        # SimpleSnitch puts every node in datacenter1
        return f"{{'class': 'NetworkTopologyStrategy', 'datacenter1': {min(3, self.cassandra_nodes)}}}"

    @property
    def spark_archive_path(self) -> str:
        """Where Spark's jars live on HDFS for YARN (spark.yarn.archive), by pyspark's version."""
        return f"/exstreamly/spark-{pyspark.__version__}-jars.zip"

    def kafka_cluster_id(self) -> str:
        """The id every Kafka node is formatted with, made once per profile home."""
        path = self.home / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())
        return path.read_text().strip()


def kafka_nodes(settings: Settings, versions: Versions, layout: ClusterLayout) -> list[Kafka]:
    cluster_id = layout.kafka_cluster_id()
    return [Kafka(settings, versions, name=f"kafka-{i + 1}", home=layout.home / f"kafka-{i + 1}",
                  heap=layout.kafka_heap, cluster_id=cluster_id,
                  node=KafkaNode(layout.host, layout.kafka_port + i, layout.kafka_controller_port + i, node_id=i + 1,
                                 voters=layout.kafka_voters, replicas=layout.kafka_replicas))
            for i in range(layout.kafka_nodes)]


def cassandra_nodes(settings: Settings, versions: Versions, layout: ClusterLayout) -> list[Cassandra]:
    # Every node is a seed and owns a fixed token, so that the ring forms with all nodes starting at once
    # (no bootstrap streaming on an empty ring).
    hosts = layout.cassandra_hosts
    seeds = ",".join(f"{h}:{settings.cassandra_storage_port}" for h in hosts)
    return [Cassandra(settings, versions, name=f"cassandra-{i + 1}", home=layout.home / f"cassandra-{i + 1}",
                      heap=layout.cassandra_heap,
                      node=CassandraNode(host, seeds, MIN_TOKEN + i * TOKEN_SPAN // len(hosts), "exstreamly-cluster"))
            for i, host in enumerate(hosts)]


def wait_for_cassandra_ring(settings: Settings, versions: Versions, timeout_s: float = RING_WAIT_S) -> str:
    """Block until every node answers, knows every other node and all agree on one schema version.

    A node answers CQL before gossip has told it about its peers. A schema change it coordinates then is
    not pushed to the nodes it does not see yet, and they pull it only later, by gossip: once CI's
    cluster tests created their keyspace on such a ring and the three nodes still disagreed 120 s later.
    So the profile is ready when the ring is whole, not when each node answers."""
    nodes = cassandra_nodes(settings, versions, ClusterLayout.of(settings))
    hosts = {node.node.host for node in nodes}
    deadline, views = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        views = {node.name: _schema_view(node) for node in nodes}
        if (agreed := agreed_schema(views, hosts)) is not None:
            return f"ring of {len(hosts)}, schema {agreed}"
        time.sleep(1.0)
    raise ServiceStartError(f"the Cassandra ring did not form within {timeout_s:.0f} s: each node's view of the "
                            f"schema versions (address: version) is {views}; see each node's system.log")


def agreed_schema(views: dict[str, dict[str, str]], hosts: set[str]) -> str | None:
    """The one schema version of a whole ring, or None: some node does not answer, does not know every
    address of the ring, or some view holds another version."""
    if not views or any(set(view) != hosts for view in views.values()):
        return None
    versions = {version for view in views.values() for version in view.values()}
    return versions.pop() if len(versions) == 1 else None


def _schema_view(node: Cassandra) -> dict[str, str]:
    try:
        return call_within(node.schema_view, SCHEMA_VIEW_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a node that does not answer yet has no view
        return {}


def cluster_services(settings: Settings, versions: Versions) -> list[JvmService]:
    """Every daemon of the profile, the slowest to start first."""
    layout = ClusterLayout.of(settings)
    return [*cassandra_nodes(settings, versions, layout), *kafka_nodes(settings, versions, layout),
            *hadoop_daemons(settings, versions, layout.hadoop),
            *standalone_daemons(settings, versions, layout.standalone)]


def cluster_env(settings: Settings) -> dict[str, str]:
    """The settings (EXS_*) and Hadoop client environment that point every job and client at the profile."""
    layout = ClusterLayout.of(settings)
    fs = layout.hadoop.default_fs
    return {
        "HADOOP_CONF_DIR": str(layout.hadoop.conf_dir),
        "YARN_CONF_DIR": str(layout.hadoop.conf_dir),
        "EXS_KAFKA_BOOTSTRAP_SERVERS": layout.kafka_bootstrap,
        "EXS_KAFKA_REPLICATION_FACTOR": str(layout.kafka_replicas),
        "EXS_CASSANDRA_HOST": ",".join(layout.cassandra_hosts),
        "EXS_REPLICATION": layout.replication,
        "EXS_CASSANDRA_WRITE_CONSISTENCY": "LOCAL_QUORUM",
        "EXS_LAKE_URI": f"{fs}/exstreamly/lake",
        "EXS_CHECKPOINT_URI": f"{fs}/exstreamly/checkpoints",
        "EXS_SPARK_YARN_ARCHIVE": f"{fs}{layout.spark_archive_path}",
    }


def publish_spark_archive(settings: Settings) -> str:
    """Put pyspark's jars on HDFS once (spark.yarn.archive): a YARN submit then ships only the job."""
    layout = ClusterLayout.of(settings)
    path = layout.spark_archive_path
    if not hdfs_exists(layout.hadoop, path):
        local = layout.home / "spark-jars.zip"
        log.info("publishing Spark's jars for YARN at %s%s", layout.hadoop.default_fs, path)
        with zipfile.ZipFile(local, "w", zipfile.ZIP_STORED) as archive:  # jars are compressed already
            for jar in sorted((SPARK_HOME / "jars").glob("*.jar")):
                archive.write(jar, jar.name)
        hdfs_put(layout.hadoop, local, path)
        local.unlink()
    return f"{layout.hadoop.default_fs}{path}"


def cluster_settings(settings: Settings, **overrides: Any) -> Settings:
    """Settings that point at the profile, as a shell that ran `stack env --profile cluster` reads them."""
    profile = {k.removeprefix("EXS_").lower(): v for k, v in cluster_env(settings).items() if k.startswith("EXS_")}
    return load_settings(**{"runtime_dir": settings.runtime_dir, **profile, **overrides})


def export_lines(env: dict[str, str]) -> str:
    """`export K=V` lines for `eval "$(exstreamly stack env --profile cluster)"`."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
