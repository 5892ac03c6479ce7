"""The one home of the Cassandra and Kafka client factories.

The API, the Spark jobs' driver-side helpers, ingestion and the local stack all build their clients
here, from `Settings`, so every part of the platform talks to the same cluster the same way and the
local-stack package is never needed to connect to anything.
"""
from __future__ import annotations

import logging
from typing import Any

from cassandra.cluster import Cluster
from cassandra.policies import DCAwareRoundRobinPolicy, ExponentialReconnectionPolicy
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, NoBrokersAvailable, TopicAlreadyExistsError

from conf.settings import Settings

log = logging.getLogger(__name__)


class KafkaUnavailable(RuntimeError):
    """A Kafka client could not be built: the broker is unreachable or refused the configuration."""


#: The driver's defaults (5 s to connect, 2 s for the control connection's schema queries) fail
#: against a node that is busy compacting or starved of CPU, which on a 2-core box running Spark
#: beside it happens; a sink or the API then fails where waiting a little would have answered.
CASSANDRA_TIMEOUTS = {"connect_timeout": 15.0, "control_connection_timeout": 15.0}
#: The driver's default reconnection waits double up to 10 minutes: after a Cassandra restart a sink or
#: the API would keep answering "no host available" long after the node is back. Ten seconds at most.
RECONNECT_MAX_S = 10.0


def cassandra_cluster(settings: Settings, **options: Any) -> Cluster:
    """A driver `Cluster` for the configured node(s), speaking protocol v5 (Cassandra 5)."""
    return Cluster(
        settings.cassandra_hosts, port=settings.cassandra_port, protocol_version=5,
        **(CASSANDRA_TIMEOUTS | {"load_balancing_policy": DCAwareRoundRobinPolicy(),
                                 "reconnection_policy": ExponentialReconnectionPolicy(0.5, RECONNECT_MAX_S)} | options),
    )


def kafka_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """acks=all + idempotence: a retried batch is never written twice; linger batches small records."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": "exstreamly",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.producer_linger_ms,
        "batch_size": 256 * 1024,
        "delivery_timeout_ms": 120_000,
    } | overrides
    producer: KafkaProducer = _connect(KafkaProducer, config, settings, "producer")
    return producer


def kafka_consumer(settings: Settings, **config: Any) -> KafkaConsumer:
    """A consumer on the configured broker; the caller states group, commits and offsets."""
    consumer: KafkaConsumer = _connect(KafkaConsumer, {"bootstrap_servers": settings.kafka_bootstrap} | config,
                                       settings, "consumer")
    return consumer


def kafka_admin(settings: Settings, client_id: str = "exstreamly-admin") -> KafkaAdminClient:
    admin: KafkaAdminClient = _connect(KafkaAdminClient, {"bootstrap_servers": settings.kafka_bootstrap,
                                                          "client_id": client_id}, settings, "admin client")
    return admin


def ensure_topics(settings: Settings, partitions: dict[str, int]) -> None:
    """Create the topics that do not exist yet, with the configured replication (1 on a single broker)."""
    admin = kafka_admin(settings)
    try:
        existing = set(admin.list_topics())
        replicas = settings.kafka_replication_factor
        missing = [NewTopic(name, n, replicas) for name, n in partitions.items() if name not in existing]
        if missing:
            admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
    except TopicAlreadyExistsError:
        pass  # created concurrently by another process: fine
    finally:
        admin.close()


def kafka_cluster_id(settings: Settings) -> str:
    """The id the Kafka cluster was formatted with: a new one means every topic and offset is new too."""
    admin = kafka_admin(settings)
    try:
        cluster_id: str = admin.describe_cluster()["cluster_id"]
        return cluster_id
    finally:
        admin.close()


def delete_topics(settings: Settings, names: list[str]) -> None:
    """Drop topics (tests and benchmarks clean up after themselves); missing ones are ignored."""
    admin = kafka_admin(settings)
    try:
        existing = set(admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()


def _connect(client_class: Any, config: dict[str, Any], settings: Settings, what: str) -> Any:
    """Build a Kafka client; an unreachable or refusing broker becomes one clear `KafkaUnavailable`."""
    try:
        return client_class(**config)
    except NoBrokersAvailable as exc:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {settings.kafka_bootstrap}; is the stack up? (`exstreamly stack up`)") from exc
    except KafkaError as exc:
        raise KafkaUnavailable(f"cannot create a Kafka {what} for {settings.kafka_bootstrap}: {exc}") from exc
