"""The cluster profile's layout and the settings it exports (no process started here)."""
from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from conf.settings import load_settings
from stack.cluster import (
    MIN_TOKEN,
    ClusterLayout,
    agreed_schema,
    cassandra_nodes,
    cluster_env,
    cluster_settings,
    export_lines,
    kafka_nodes,
)
from stack.cql import schema_statements
from stack.hadoop import HadoopLayout, site_xml
from stack.services import CassandraNode, KafkaNode


@pytest.fixture()
def base(tmp_path):
    return load_settings(runtime_dir=tmp_path)


def test_the_exported_environment_is_valid_settings_that_point_at_every_node(base):
    env = cluster_env(base)
    s = load_settings(**{k.removeprefix("EXS_").lower(): v for k, v in env.items() if k.startswith("EXS_")})
    layout = ClusterLayout.of(base)
    assert s.kafka_bootstrap.split(",") == [f"127.0.0.1:{19092 + i}" for i in range(layout.kafka_nodes)]
    assert s.cassandra_hosts == [f"127.0.0.{2 + i}" for i in range(layout.cassandra_nodes)]
    assert s.lake_root.startswith("hdfs://127.0.0.1:8020/") and s.checkpoint_root.startswith("hdfs://")
    assert s.kafka_replication_factor == 3 and s.cassandra_write_consistency == "LOCAL_QUORUM"
    as_a_shell_reads_it = s.model_copy(update={"keyspace": "k", "runtime_dir": base.runtime_dir})
    assert cluster_settings(base, keyspace="k") == as_a_shell_reads_it
    keyspace_ddl = schema_statements(s)[0]
    assert "'class': 'NetworkTopologyStrategy', 'datacenter1': 3" in keyspace_ddl


def test_export_lines_survive_a_shell_round_trip(base):
    env = cluster_env(base)
    script = export_lines(env) + 'printf "%s\\n" "$EXS_REPLICATION" "$EXS_CASSANDRA_HOST" "$HADOOP_CONF_DIR"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [env["EXS_REPLICATION"], env["EXS_CASSANDRA_HOST"], env["HADOOP_CONF_DIR"]]


def test_the_ring_is_balanced_and_every_node_seeds_it(base):
    nodes = [c.node for c in cassandra_nodes(base, None, ClusterLayout.of(base))]  # type: ignore[arg-type]
    tokens = [n.initial_token for n in nodes]
    gaps = {b - a for a, b in zip(tokens, [*tokens[1:], MIN_TOKEN + 2**64], strict=True)}
    assert tokens[0] == MIN_TOKEN and max(gaps) - min(gaps) <= 1
    assert all(n.seeds == nodes[0].seeds for n in nodes) and len(nodes[0].seeds.split(",")) == len(nodes)


def test_only_a_node_alone_shortens_gossip_waits(base):
    """A ring's nodes keep Cassandra's ring delay: a 1 s delay dropped starting nodes from gossip."""
    ring = [c.node for c in cassandra_nodes(base, None, ClusterLayout.of(base))]  # type: ignore[arg-type]
    assert all(n.ring_delay_flags == [] for n in ring)
    assert "-Dcassandra.ring_delay_ms=1000" in CassandraNode.single(base).ring_delay_flags


RING = {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


@pytest.mark.parametrize(("views", "expected"), [
    pytest.param({n: dict.fromkeys(RING, "v1") for n in "abc"}, "v1", id="whole-and-agreed"),
    pytest.param({"a": dict.fromkeys(RING, "v1"), "b": dict.fromkeys(RING, "v1"), "c": {}}, None,
                 id="a-node-does-not-answer"),
    pytest.param({n: dict.fromkeys(RING - {"127.0.0.4"}, "v1") for n in "abc"}, None,
                 id="gossip-has-not-told-them-of-a-node"),
    pytest.param({"a": dict.fromkeys(RING, "v1"), "b": dict.fromkeys(RING, "v1"),
                  "c": {**dict.fromkeys(RING, "v1"), "127.0.0.4": "v2"}}, None, id="one-view-holds-another-version"),
    pytest.param({}, None, id="no-node"),
])
def test_the_ring_is_ready_only_whole_and_on_one_schema(views, expected):
    assert agreed_schema(views, RING) == expected


def test_kafka_nodes_share_one_static_quorum_and_replicate_three_times(base):
    layout = ClusterLayout.of(base)
    nodes = [k.node for k in kafka_nodes(base, None, layout)]  # type: ignore[arg-type]
    assert [n.node_id for n in nodes] == [1, 2, 3]
    assert {n.quorum for n in nodes} == {"controller.quorum.voters=1@127.0.0.1:19192,2@127.0.0.1:19193,"
                                         "3@127.0.0.1:19194"}
    assert {(n.replicas, n.min_isr) for n in nodes} == {(3, 2)}
    single = KafkaNode.single(base)
    assert single.quorum == "controller.quorum.bootstrap.servers=127.0.0.1:9093" and single.min_isr == 1


def test_site_files_are_hadoop_configuration_xml(tmp_path):
    props = {"a.b": "x<y&z", "fs.defaultFS": "hdfs://127.0.0.1:8020"}
    root = ET.fromstring(site_xml(props))
    assert {p.findtext("name"): p.findtext("value") for p in root.iter("property")} == props
    files = HadoopLayout(tmp_path).site_files()
    assert files["core-site.xml"]["fs.defaultFS"] == "hdfs://127.0.0.1:8020"
    assert float(files["capacity-scheduler.xml"]["yarn.scheduler.capacity.maximum-am-resource-percent"]) >= 0.5
