"""A Spark standalone cluster for the cluster profile: a master and workers from pyspark's own jars.

Each daemon is `spark-class org.apache.spark.deploy.{master.Master,worker.Worker}` run in the
foreground (the launcher `exec`s the JVM, so the PID file names the daemon itself).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyspark

from conf.settings import Settings
from conf.versions import Versions
from stack.errors import ToolchainError
from stack.hadoop import get_json
from stack.services import JvmService
from stack.toolchain import java17

SPARK_HOME = Path(pyspark.__file__).resolve().parent


@dataclass(frozen=True)
class StandaloneLayout:
    home: Path
    host: str = "127.0.0.1"
    master_port: int = 7077
    master_http_port: int = 8080
    first_worker_http_port: int = 8081
    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "2g"

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def master_http(self) -> str:
        return f"http://{self.host}:{self.master_http_port}"


class SparkDaemon(JvmService):
    log_name = "console.log"
    main_class = ""

    def __init__(self, settings: Settings, versions: Versions, layout: StandaloneLayout, *, name: str = "") -> None:
        super().__init__(settings, versions, name=name, home=layout.home / (name or self.name))
        self.layout = layout

    def env(self) -> dict[str, str]:
        # The daemon option carries the home directory so that the PID check can tell our JVM by its command line.
        return {**os.environ, "JAVA_HOME": self.versions.java_home_17, "SPARK_HOME": str(SPARK_HOME),
                "SPARK_LOCAL_IP": self.layout.host, "SPARK_DAEMON_MEMORY": "256m",
                "SPARK_DAEMON_JAVA_OPTS": f"-Dexstreamly.home={self.dirs.home}",
                "SPARK_LOG_DIR": str(self.dirs.logs)}

    def _prepare(self) -> Path:
        java = java17(self.versions)
        launcher = SPARK_HOME / "bin" / "spark-class"
        if not launcher.exists():
            raise ToolchainError(f"{launcher} not found: is pyspark installed in this Python?")
        self.dirs.logs.mkdir(parents=True, exist_ok=True)
        return java

    def spark_class(self, *args: str) -> list[str]:
        self._prepare()
        return [str(SPARK_HOME / "bin" / "spark-class"), self.main_class, *args]

    def _master_state(self) -> dict:
        return get_json(f"{self.layout.master_http}/json/")


class SparkMaster(SparkDaemon):
    name = "spark-master"
    main_class = "org.apache.spark.deploy.master.Master"

    def command(self) -> list[str]:
        lay = self.layout
        return self.spark_class("--host", lay.host, "--port", str(lay.master_port),
                                "--webui-port", str(lay.master_http_port))

    def probe(self) -> str:
        state = self._master_state()
        if state.get("status") != "ALIVE":
            raise RuntimeError(str(state.get("status")))
        return f"Spark {pyspark.__version__}, {state['url']}"


class SparkWorker(SparkDaemon):
    main_class = "org.apache.spark.deploy.worker.Worker"

    def __init__(self, settings: Settings, versions: Versions, layout: StandaloneLayout, index: int) -> None:
        super().__init__(settings, versions, layout, name=f"spark-worker-{index}")
        self.http_port = layout.first_worker_http_port + index - 1

    def command(self) -> list[str]:
        lay = self.layout
        return self.spark_class("--host", lay.host, "--webui-port", str(self.http_port),
                                "--cores", str(lay.worker_cores), "--memory", lay.worker_memory,
                                "--work-dir", str(self.dirs.data), lay.master_url)

    def probe(self) -> str:
        """Ready once the master lists this worker ALIVE."""
        suffix = f":{self.http_port}"
        for worker in self._master_state().get("workers", []):
            if str(worker.get("webuiaddress", "")).endswith(suffix) and worker.get("state") == "ALIVE":
                return f"{worker['cores']} core(s), {worker['memory']} MB, registered"
        raise RuntimeError("not registered with the master yet")


def standalone_daemons(settings: Settings, versions: Versions, layout: StandaloneLayout) -> list[SparkDaemon]:
    return [SparkMaster(settings, versions, layout),
            *(SparkWorker(settings, versions, layout, i) for i in range(1, layout.workers + 1))]
