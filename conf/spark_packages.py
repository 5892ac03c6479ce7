"""How every Spark entry point resolves the Kafka source and the Cassandra connector: one code path.

`spark-submit.sh` (through `python -m conf.spark_packages`), the test suite's session, the benchmarks
and `exstreamly run` all take their `--packages` settings from `spark_package_conf()`, so no two of
them can resolve differently.

Why an Ivy settings file of our own: Spark's default Ivy chain consults `~/.m2/repository` first and
fails outright on a POM whose jar is absent there (other Maven builds leave such POMs behind), so a
machine's history could break — or, warm, hide — the fresh-machine path. Our chain has one resolver,
the Maven repository from settings (Maven Central by default, or a mirror), with the cache under the
project's runtime directory: a new clone always resolves every artifact itself, and a second run in
the same clone reuses `<runtime>/ivy/cache` without a network round trip per artifact.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

from conf.settings import Settings, load_settings
from conf.versions import Versions, load_versions


def ivy_settings_xml(repository_url: str) -> str:
    """An Ivy chain with a single Maven-layout remote repository (POMs read like Maven does)."""
    root = quoteattr(repository_url.rstrip("/") + "/")
    return f"""<ivysettings>
  <settings defaultResolver="exstreamly"/>
  <resolvers>
    <chain name="exstreamly" returnFirst="true">
      <ibiblio name="maven-repository" m2compatible="true" usepoms="true" root={root}/>
    </chain>
  </resolvers>
</ivysettings>
"""


#: Transitive dependencies of the connectors that pyspark already ships (same Hadoop client; a newer
#: commons-lang3 that wins on the classpath anyway): not downloaded, not put on the classpath twice.
PROVIDED_BY_SPARK = (
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.commons:commons-lang3",
)


def ivy_dir(settings: Settings) -> Path:
    return settings.runtime_dir / "ivy"


def write_ivy_settings(settings: Settings) -> Path:
    """Write the settings file (only when its content changes, so concurrent jobs never see it torn)."""
    path = ivy_dir(settings) / "ivysettings.xml"
    text = ivy_settings_xml(settings.maven_repository_url)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(text)
        staging.replace(path)
    return path


def spark_package_conf(settings: Settings, versions: Versions | None = None) -> dict[str, str]:
    """The Spark configuration that resolves both connectors: packages, Ivy directory and settings."""
    versions = versions or load_versions()
    return {
        "spark.jars.packages": versions.spark_packages,
        "spark.jars.ivy": str(ivy_dir(settings)),
        "spark.jars.ivySettings": str(write_ivy_settings(settings)),
        "spark.jars.excludes": ",".join(PROVIDED_BY_SPARK),
    }


def spark_submit_args(settings: Settings, versions: Versions | None = None) -> list[str]:
    """The same configuration as spark-submit arguments (`--packages` stays the visible interface)."""
    conf = spark_package_conf(settings, versions)
    args = ["--packages", conf.pop("spark.jars.packages")]
    for key, value in conf.items():
        args += ["--conf", f"{key}={value}"]
    return args


if __name__ == "__main__":  # used by spark-submit.sh: one argument per line
    sys.stdout.write("\n".join(spark_submit_args(load_settings())) + "\n")
