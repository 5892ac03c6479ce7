"""Hadoop's own HDFS and YARN daemons for the cluster profile, each its own JVM from Maven Central jars.

One NameNode, one DataNode, one ResourceManager and one NodeManager, at the Hadoop version pyspark
bundles, configured by the `*-site.xml` files written here into the profile's `HADOOP_CONF_DIR` — the
directory a Spark client is pointed at to find HDFS and YARN, exactly as on a real cluster.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from conf.settings import Settings
from conf.versions import Versions
from stack.errors import ServiceStartError
from stack.services import JvmService

#: Hadoop 3.3 predates JDK 17's strong encapsulation: Guice in the YARN web apps and Hadoop's RPC
#: reflect into these packages.
JDK17_OPENS = tuple(f"--add-opens=java.base/{pkg}=ALL-UNNAMED" for pkg in (
    "java.lang", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util", "java.util.concurrent",
    "sun.nio.ch", "sun.net.dns", "sun.net.util", "sun.security.x509"))
PROBE_TIMEOUT_S = 3.0
#: A WebHDFS request once the daemons are up: a NameNode that just started (or replays its edits after an
#: unclean stop) can take many seconds to answer its first requests on a loaded machine.
WEBHDFS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class HadoopLayout:
    """Fixed loopback ports of the profile's HDFS and YARN, and where they keep their state."""

    home: Path
    host: str = "127.0.0.1"
    namenode_port: int = 8020
    namenode_http_port: int = 9870
    datanode_port: int = 9866
    datanode_http_port: int = 9864
    datanode_ipc_port: int = 9867
    resourcemanager_port: int = 8032
    scheduler_port: int = 8030
    tracker_port: int = 8031
    rm_admin_port: int = 8033
    rm_http_port: int = 8088
    nodemanager_port: int = 8041
    localizer_port: int = 8040
    nm_http_port: int = 8042
    #: what the NodeManager offers YARN: more vcores than the machine's cores, because a Spark AM and
    #: executors mostly wait on I/O here, and YARN counts vcores, not CPU time
    nm_memory_mb: int = 8192
    nm_vcores: int = 6

    @property
    def conf_dir(self) -> Path:
        return self.home / "hadoop-conf"

    @property
    def default_fs(self) -> str:
        return f"hdfs://{self.host}:{self.namenode_port}"

    @property
    def namenode_http(self) -> str:
        return f"http://{self.host}:{self.namenode_http_port}"

    @property
    def resourcemanager_http(self) -> str:
        return f"http://{self.host}:{self.rm_http_port}"

    def site_files(self) -> dict[str, dict[str, str]]:
        """The configuration of every daemon and client, by file name."""
        h, data = self.host, self.home / "hadoop-data"
        return {
            "core-site.xml": {"fs.defaultFS": self.default_fs, "hadoop.tmp.dir": str(data / "tmp")},
            "hdfs-site.xml": {
                "dfs.namenode.name.dir": str(data / "name"),
                "dfs.datanode.data.dir": str(data / "datanode"),
                "dfs.replication": "1",  # one DataNode
                "dfs.permissions.enabled": "false",
                "dfs.namenode.safemode.extension": "0",
                "dfs.namenode.rpc-address": f"{h}:{self.namenode_port}",
                "dfs.namenode.http-address": f"{h}:{self.namenode_http_port}",
                "dfs.datanode.address": f"{h}:{self.datanode_port}",
                "dfs.datanode.http.address": f"{h}:{self.datanode_http_port}",
                "dfs.datanode.ipc.address": f"{h}:{self.datanode_ipc_port}",
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            },
            "yarn-site.xml": {
                "yarn.resourcemanager.hostname": h,
                "yarn.resourcemanager.address": f"{h}:{self.resourcemanager_port}",
                "yarn.resourcemanager.scheduler.address": f"{h}:{self.scheduler_port}",
                "yarn.resourcemanager.resource-tracker.address": f"{h}:{self.tracker_port}",
                "yarn.resourcemanager.admin.address": f"{h}:{self.rm_admin_port}",
                "yarn.resourcemanager.webapp.address": f"{h}:{self.rm_http_port}",
                "yarn.nodemanager.hostname": h,
                "yarn.nodemanager.address": f"{h}:{self.nodemanager_port}",
                "yarn.nodemanager.localizer.address": f"{h}:{self.localizer_port}",
                "yarn.nodemanager.webapp.address": f"{h}:{self.nm_http_port}",
                "yarn.nodemanager.local-dirs": str(data / "nm-local"),
                "yarn.nodemanager.log-dirs": str(self.home / "yarn-nodemanager" / "logs" / "containers"),
                "yarn.nodemanager.resource.memory-mb": str(self.nm_memory_mb),
                "yarn.nodemanager.resource.cpu-vcores": str(self.nm_vcores),
                "yarn.scheduler.minimum-allocation-mb": "128",
                "yarn.scheduler.maximum-allocation-mb": str(self.nm_memory_mb),
                # JVM containers reserve far more virtual memory than they use
                "yarn.nodemanager.vmem-check-enabled": "false",
                # a developer's disk is often fuller than the 90 % that marks a node unhealthy
                "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99",
                "yarn.nodemanager.delete.debug-delay-sec": "600",  # keep container logs to read
            },
            "capacity-scheduler.xml": {
                "yarn.scheduler.capacity.root.queues": "default",
                "yarn.scheduler.capacity.root.default.capacity": "100",
                "yarn.scheduler.capacity.root.default.maximum-capacity": "100",
                # the default 10 % of one small node cannot fit a Spark AM: apps would wait ACCEPTED forever
                "yarn.scheduler.capacity.maximum-am-resource-percent": "0.5",
            },
        }

    def write_conf(self) -> Path:
        """Write HADOOP_CONF_DIR (the site files and a console log4j config); returns it."""
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for name, props in self.site_files().items():
            (self.conf_dir / name).write_text(site_xml(props))
        (self.conf_dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO,console\nlog4j.appender.console=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.console.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n\n")
        return self.conf_dir


def site_xml(props: dict[str, str]) -> str:
    """A Hadoop `<configuration>` file of `props`."""
    rows = "".join(f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
                   for k, v in props.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{rows}</configuration>\n'


def get_json(url: str) -> dict:
    response = httpx.get(url, timeout=PROBE_TIMEOUT_S, headers={"Accept": "application/json"})
    response.raise_for_status()
    body: dict = response.json()
    return body


class HadoopDaemon(JvmService):
    """One Hadoop daemon: its main class on the Hadoop classpath, HADOOP_CONF_DIR first."""

    module = "hadoop"
    log_name = "console.log"
    main_class = ""
    heap = "256m"

    def __init__(self, settings: Settings, versions: Versions, layout: HadoopLayout) -> None:
        super().__init__(settings, versions, home=layout.home / self.name)
        self.layout = layout

    def env(self) -> dict[str, str]:
        return {**os.environ, "JAVA_HOME": self.versions.java_home_17,
                "HADOOP_CONF_DIR": str(self.layout.conf_dir)}

    def java_command(self, *args: str) -> list[str]:
        java = self._prepare()
        conf = self.layout.write_conf()
        return [str(java), f"-Xmx{self.heap}", *JDK17_OPENS, "-Djava.net.preferIPv4Stack=true",
                f"-Dhadoop.log.dir={self.dirs.logs}", f"-Dhadoop.home.dir={self.dirs.home}",
                f"-Dhadoop.id.str={self.name}", "-cp", f"{conf}:{self.lib}/*", self.main_class, *args]

    def command(self) -> list[str]:
        return self.java_command()


class NameNode(HadoopDaemon):
    name = "hdfs-namenode"
    main_class = "org.apache.hadoop.hdfs.server.namenode.NameNode"
    heap = "384m"

    def command(self) -> list[str]:
        """Format the namespace on first start, then run the NameNode."""
        if not (self.layout.home / "hadoop-data" / "name" / "current" / "VERSION").exists():
            fmt = self.java_command("-format", "-nonInteractive", "-force")
            done = subprocess.run(fmt, capture_output=True, text=True, env=self.env())
            if done.returncode != 0:
                raise ServiceStartError(f"HDFS NameNode format failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return self.java_command()

    def probe(self) -> str:
        """The NameNode's Hadoop version once it answers and has left safe mode."""
        info = get_json(f"{self.layout.namenode_http}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")["beans"][0]
        if info.get("Safemode"):
            raise RuntimeError("in safe mode")
        return f"Hadoop {str(info['Version']).split(',')[0]}, {self.layout.default_fs}"


class DataNode(HadoopDaemon):
    name = "hdfs-datanode"
    main_class = "org.apache.hadoop.hdfs.server.datanode.DataNode"

    def probe(self) -> str:
        """Live once the NameNode counts it among its live DataNodes."""
        state = get_json(f"{self.layout.namenode_http}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")
        live = int(state["beans"][0]["NumLiveDataNodes"])
        if live < 1:
            raise RuntimeError("not registered with the NameNode yet")
        return f"{live} live DataNode"


class ResourceManager(HadoopDaemon):
    name = "yarn-resourcemanager"
    main_class = "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
    heap = "512m"

    def probe(self) -> str:
        info = get_json(f"{self.layout.resourcemanager_http}/ws/v1/cluster/info")["clusterInfo"]
        if info["state"] != "STARTED":
            raise RuntimeError(info["state"])
        return f"YARN {info['resourceManagerVersion']}, {self.layout.resourcemanager_http}"


class NodeManager(HadoopDaemon):
    name = "yarn-nodemanager"
    main_class = "org.apache.hadoop.yarn.server.nodemanager.NodeManager"

    def probe(self) -> str:
        """Ready once the ResourceManager lists a RUNNING node."""
        nodes = (get_json(f"{self.layout.resourcemanager_http}/ws/v1/cluster/nodes").get("nodes") or {}).get("node", [])
        running = [n for n in nodes if n.get("state") == "RUNNING"]
        if not running:
            raise RuntimeError("no RUNNING node yet")
        node = running[0]
        return f"{len(running)} RUNNING node, {node['availMemoryMB']} MB, {node['availableVirtualCores']} vcores"


def hadoop_daemons(settings: Settings, versions: Versions, layout: HadoopLayout) -> list[HadoopDaemon]:
    return [cls(settings, versions, layout) for cls in (NameNode, DataNode, ResourceManager, NodeManager)]


@retry(retry=retry_if_exception_type(httpx.TransportError), stop=stop_after_attempt(3),
       wait=wait_exponential(multiplier=2, max=10), reraise=True)
def hdfs_exists(layout: HadoopLayout, path: str) -> bool:
    """Whether `path` exists on the profile's HDFS (WebHDFS GETFILESTATUS; a timeout is tried again)."""
    response = httpx.get(f"{layout.namenode_http}/webhdfs/v1{path}", params={"op": "GETFILESTATUS"},
                         timeout=WEBHDFS_TIMEOUT_S)
    if response.status_code == 404:
        return False
    response.raise_for_status()
    return True


def hdfs_put(layout: HadoopLayout, local: Path, path: str) -> None:
    """Upload a local file to HDFS over WebHDFS: the NameNode redirects the write to a DataNode."""
    params = {"op": "CREATE", "overwrite": "true", "user.name": "exstreamly"}
    where = httpx.put(f"{layout.namenode_http}/webhdfs/v1{path}", params=params, timeout=WEBHDFS_TIMEOUT_S)
    if where.status_code != 307:
        raise ServiceStartError(f"HDFS refused to create {path}: {where.status_code} {where.text[:500]}")
    with local.open("rb") as data:
        httpx.put(where.headers["location"], content=data, timeout=600).raise_for_status()
