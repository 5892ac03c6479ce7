"""A local SparkSession configured like `spark-submit.sh` does it, for tests and benchmarks.

Jobs themselves get their session from spark-submit (packages, connector hosts, defaults file);
this builds the same thing in-process, reading the same `conf/spark-defaults.conf`.
"""
from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from conf.settings import Settings
from conf.spark_packages import spark_package_conf
from conf.spark_session import with_direct_functions
from conf.versions import load_versions

SPARK_DEFAULTS = Path(__file__).resolve().parent.parent / "conf" / "spark-defaults.conf"


def spark_defaults() -> dict[str, str]:
    """`conf/spark-defaults.conf` as a mapping (key, whitespace, value; `#` comments)."""
    pairs = {}
    for line in SPARK_DEFAULTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            pairs[key] = value.strip()
    return pairs


def local_session(settings: Settings, *, master: str = "local[2]", app: str = "exstreamly-local",
                  **extra_conf: str) -> SparkSession:
    """A session with both connectors, resolved like spark-submit.sh does, and the project defaults."""
    versions = load_versions()
    os.environ.setdefault("JAVA_HOME", versions.java_home_17)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {
        **spark_defaults(),
        **spark_package_conf(settings, versions),
        "spark.cassandra.connection.host": settings.cassandra_host,
        "spark.cassandra.connection.port": str(settings.cassandra_port),
        "spark.cassandra.output.consistency.level": settings.cassandra_write_consistency,
        "spark.ui.enabled": "false",
        **({"spark.yarn.archive": settings.spark_yarn_archive} if settings.spark_yarn_archive else {}),
        **extra_conf,
    }
    builder = SparkSession.builder.master(master).appName(app)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = with_direct_functions(builder.getOrCreate())
    session.sparkContext.setLogLevel("WARN")
    return session
