"""Find JDK 17 and resolve each service's classpath from Maven Central into the runtime cache."""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from conf.versions import Versions
from stack.errors import ToolchainError

log = logging.getLogger(__name__)
MAVEN_DIR = Path(__file__).with_name("maven")


def java17(versions: Versions, override: str = "") -> Path:
    """Path of a JDK 17 `java`; a newer default JDK on the PATH is never picked up."""
    java = Path(override or versions.java_home_17) / "bin" / "java"
    if not java.exists():
        raise ToolchainError(f"JDK 17 not found at {java}; install openjdk-17-jdk-headless or set EXS_JAVA_HOME")
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=True).stderr
    if 'version "17.' not in out:
        raise ToolchainError(f"{java} is not JDK 17: {out.splitlines()[0] if out else '?'}")
    return java


def maven_properties(versions: Versions, repository_url: str) -> dict[str, dict[str, str]]:
    """The -D properties each service POM takes, from the pins in conf/versions.env."""
    return {
        "cassandra": {"cassandra.version": versions.cassandra, "exs.repository.url": repository_url},
        "kafka": {"kafka.version": versions.kafka, "log4j.version": versions.log4j,
                  "exs.repository.url": repository_url},
        "hadoop": {"hadoop.version": versions.hadoop, "exs.repository.url": repository_url},
    }


def resolve_classpath(service: str, lib_dir: Path, versions: Versions, *, local_repo: Path,
                      repository_url: str) -> Path:
    """Copy the service's runtime jars into `lib_dir` once; a second call reuses them.

    Maven's local repository is the project's own (`local_repo`, under the runtime directory), not
    `~/.m2`: a new clone resolves everything itself, so the fresh-machine path is the one always taken.
    """
    props = maven_properties(versions, repository_url)[service]
    pom = MAVEN_DIR / service / "pom.xml"
    # the POM's digest too: an edited dependency list resolves again in every clone that ran before
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    stamp = ",".join(f"{k}={v}" for k, v in sorted(props.items())) + f",pom={digest}"
    marker = lib_dir / ".resolved"
    if marker.exists() and marker.read_text() == stamp:
        return lib_dir
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainError("Maven (mvn) is not on PATH; install it with `apt-get install maven`")
    staging = lib_dir.with_name(lib_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    log.info("resolving %s jars from Maven Central (%s)", service, stamp)
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), f"-Dmaven.repo.local={local_repo}",
        f"{versions.maven_dependency_plugin}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        *(f"-D{k}={v}" for k, v in props.items()),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolchainError(f"mvn could not resolve {service} jars:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    shutil.rmtree(lib_dir, ignore_errors=True)
    staging.rename(lib_dir)
    marker.write_text(stamp)
    return lib_dir
