"""Read the JVM-side version pins from `conf/versions.env`, the one place they are written."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.env")


@dataclass(frozen=True)
class Versions:
    java_home_17: str
    cassandra: str
    kafka: str
    log4j: str
    scala_binary: str
    spark: str
    hadoop: str
    spark_cassandra_connector: str
    maven_dependency_plugin: str

    @property
    def spark_kafka_source(self) -> str:
        """The Kafka source for Spark, always at pyspark's own version and Scala line."""
        return f"org.apache.spark:spark-sql-kafka-0-10_{self.scala_binary}:{self.spark}"

    @property
    def spark_packages(self) -> str:
        return f"{self.spark_kafka_source},{self.spark_cassandra_connector}"


def parse_env_file(text: str) -> dict[str, str]:
    """Parse `KEY=value` lines, ignoring blanks and `#` comments."""
    pairs: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{VERSIONS_FILE}: expected KEY=value, found {raw!r}")
        pairs[key.strip()] = value.strip()
    return pairs


@cache
def load_versions() -> Versions:
    pairs = parse_env_file(VERSIONS_FILE.read_text())
    return Versions(
        java_home_17=pairs["JAVA_HOME_17"],
        cassandra=pairs["CASSANDRA_VERSION"],
        kafka=pairs["KAFKA_VERSION"],
        log4j=pairs["LOG4J_VERSION"],
        scala_binary=pairs["SCALA_BINARY"],
        spark=pairs["SPARK_VERSION"],
        hadoop=pairs["HADOOP_VERSION"],
        spark_cassandra_connector=pairs["SPARK_CASSANDRA_CONNECTOR"],
        maven_dependency_plugin=pairs["MAVEN_DEPENDENCY_PLUGIN"],
    )
