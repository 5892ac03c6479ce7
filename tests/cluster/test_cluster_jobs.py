"""The end-to-end equalities on a real cluster: the speed layer on one cluster manager, with the lake and
its checkpoints on HDFS, a Kafka broker and a Cassandra node killed (-9) mid-run, stores exactly what the
three-broker Kafka acknowledged; then, on the other cluster manager, the deals batch job over the HDFS
lake (a Spark worker killed mid-job on standalone) and the activity batch job write the same tables as
the stream, and the recommender trains on an HDFS lake to what the recommendation world's checks expect.

Each case records its evidence (YARN application ids, HDFS paths, node counts, wall times) in
`.runtime/cluster-tests/<case>.json`.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil
import pytest
from cassandra import ConsistencyLevel

from conf.clients import cassandra_cluster
from conf.settings import PROJECT_ROOT, Settings
from conf.versions import load_versions
from stack.cluster import ClusterLayout, cluster_env, cluster_settings
from stack.cql import apply_schema, wait_for_schema_agreement
from stack.hadoop import get_json
from stack.manager import status, up
from streaming.progress import Offsets, end_offsets
from tests.cluster import hdfs
from tests.conftest import raw_records
from tests.faults import checker
from tests.faults.faults import SpeedLayer, wait_until_caught_up
from tests.faults.workload import Acked, Workload, deal_payloads, user_events
from tests.integration import recommend_fixtures as world
from tests.integration.activity_fixtures import create_topic_without_time_retention
from tests.integration.activity_fixtures import snapshot as activity_snapshot
from tests.integration.tables import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
DEALS, UPDATES, EVENTS, RATE_PER_S = 800, 150, 800, 25.0
#: The speed layer's queries, by checkpoint directory (streaming/speed_layer.py), and its archives.
QUERIES = ("deals", "deal-scores", "alerts", "activity-events", "activity-windows-v2")
CONVERGE_S = 600
#: (where the speed layer runs, where the batch job runs); CI runs the first pair.
RUNS = [pytest.param(("yarn", "standalone"), id="stream-yarn-batch-standalone"),
        pytest.param(("standalone", "yarn-cluster"), id="stream-standalone-batch-yarn-cluster",
                     marks=pytest.mark.cluster_full)]


def submit_args(master: str, layout: ClusterLayout) -> list[str]:
    """spark-submit.sh's options for a cluster manager: YARN (client or cluster deploy mode) or standalone."""
    return {"yarn": ["--master", "yarn"], "yarn-cluster": ["--master", "yarn", "--deploy-mode", "cluster"],
            "standalone": ["--master", layout.standalone.master_url]}[master]


def run_settings(base: Settings, role: str, run: str) -> Settings:
    """Settings of the profile (what `exstreamly stack env --profile cluster` exports) for one test run."""
    fs = ClusterLayout.of(base).hadoop.default_fs
    return cluster_settings(base, keyspace=f"exs_test_cluster_{role}", topic_deals_raw=f"cluster_deals_{run}",
                            topic_user_events=f"cluster_events_{run}", lake_uri=f"{fs}/exstreamly-tests/{run}/lake",
                            checkpoint_uri=f"{fs}/exstreamly-tests/{run}/checkpoints")


def job_env(base: Settings, s: Settings) -> dict[str, str]:
    return {**os.environ, **cluster_env(base), "EXS_KEYSPACE": s.keyspace, "EXS_TOPIC_DEALS_RAW": s.topic_deals_raw,
            "EXS_TOPIC_USER_EVENTS": s.topic_user_events, "EXS_LAKE_URI": s.lake_uri,
            "EXS_CHECKPOINT_URI": s.checkpoint_uri, "EXS_STREAM_STALL_EXIT_S": "300",
            # the suite waits for the archives to catch up too: a trigger shorter than the default minute
            "EXS_ARCHIVE_TRIGGER_SECONDS": "10"}


def fresh_keyspace(s: Settings) -> Any:
    """A session on an empty keyspace of `s` (RF 3), reading at LOCAL_QUORUM: a node that was down and
    has not caught up yet is never the one answer."""
    cluster = cassandra_cluster(s)
    session = cluster.connect()
    session.execute(f"DROP KEYSPACE IF EXISTS {s.keyspace}", timeout=120)
    wait_for_schema_agreement(session)
    apply_schema(session, s)
    session.set_keyspace(s.keyspace)
    session.default_consistency_level = ConsistencyLevel.LOCAL_QUORUM
    session.default_timeout = 120
    session.default_fetch_size = 1000  # small pages: each one well inside the server's range-read timeout
    return session


def service_pid(base: Settings, name: str) -> int:
    pid = {row.name: row.pid for row in status(base, load_versions(), "cluster")}.get(name)
    assert pid is not None, f"{name} of the cluster profile is not running"
    return pid


def kill_node(base: Settings, name: str) -> None:
    """kill -9 a node and everything it started (a Spark worker's executors): a machine lost."""
    pid = service_pid(base, name)
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    try:
        psutil.Process(pid).wait(timeout=30)
    except psutil.NoSuchProcess:
        pass


def yarn_application_ids(log: Path) -> list[str]:
    return sorted(set(re.findall(r"application_\d+_\d+", log.read_text(errors="replace"))))


@dataclass
class Streamed:
    """What the stream phase leaves behind for the batch phase and the evidence it gathered."""

    base: Settings
    settings: Settings
    session: Any
    acked: Acked
    batch_master: str
    tallies: dict[str, checker.Tally]
    evidence: dict[str, Any] = field(default_factory=dict)

    def record(self, found: dict[str, Any]) -> None:
        """Add to this case's evidence file (each test adds what its jobs showed)."""
        self.evidence.update(found)
        write_evidence(self.base, f"{self.evidence['stream_master']}-then-{self.batch_master}", self.evidence)


def wait_for_line(layer: SpeedLayer, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in layer.log.read_text(errors="replace"):
        assert time.monotonic() < deadline and layer.running(), f"the speed layer did not start; see {layer.log}"
        time.sleep(1)


def committed_on_hdfs(fs: Any, s: Settings) -> list[Offsets]:
    names = [*QUERIES, f"archive-{s.topic_deals_raw}", f"archive-{s.topic_user_events}"]
    return [hdfs.committed_offsets(fs, f"{s.checkpoint_root}/{name}") for name in names]


def write_evidence(base: Settings, case: str, evidence: dict[str, Any]) -> None:
    out = base.runtime_dir / "cluster-tests"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{case}.json").write_text(json.dumps(evidence, indent=2, default=str) + "\n")


@pytest.fixture(scope="module", params=RUNS)
def streamed(request: pytest.FixtureRequest, cluster_profile: Settings, tmp_path_factory: pytest.TempPathFactory):
    stream_master, batch_master = request.param
    base, layout, run = cluster_profile, ClusterLayout.of(cluster_profile), uuid.uuid4().hex[:8]
    s = run_settings(base, "stream", run)
    fs = hdfs.webhdfs(layout.hadoop)
    work = tmp_path_factory.mktemp(f"cluster-{stream_master}")
    session = fresh_keyspace(s)
    for topic in (s.topic_deals_raw, s.topic_user_events):
        create_topic_without_time_retention(s.kafka_bootstrap, topic, replicas=s.kafka_replication_factor)
    env = {**job_env(base, s), "SPARK_MASTER": submit_args(stream_master, layout)[1]}
    t0 = time.monotonic()
    layer = SpeedLayer(env, work / "speed_layer.log").start()
    killed = ["kafka-2", "cassandra-3"]
    try:
        wait_for_line(layer, "speed layer running", timeout_s=420)
        workload = Workload(s, deal_payloads(DEALS, UPDATES, seed=81), user_events(EVENTS, seed=82),
                            RATE_PER_S).start()
        while workload.share_sent < 0.3:  # the nodes die while records arrive and micro-batches run
            time.sleep(0.2)
        for name in killed:
            kill_node(base, name)
        workload.join(300)
        caught_up_s = wait_until_caught_up(layer, lambda: committed_on_hdfs(fs, s),
                                           end_offsets(s, [s.topic_deals_raw, s.topic_user_events]), CONVERGE_S,
                                           poll_s=3)
    finally:
        layer.stop()
    stream_s = time.monotonic() - t0
    acked = workload.acked
    assert acked.refused == [], acked.refused[:3]
    # The killed nodes come back before the whole-table reads: a range scan at LOCAL_QUORUM on a loaded
    # two-node remainder times out, and a quorum read is exact whichever replicas answer.
    up(base, load_versions(), profile="cluster", echo=lambda _line: None)
    lake = {topic: hdfs.copy_to_local(fs, s.lake_dir(topic), work / "lake" / topic)
            for topic in (s.topic_deals_raw, s.topic_user_events)}
    tallies = {"deals_by_id": checker.deals_by_id(session, acked.deals),
               **checker.sorted_tables(session, acked.deals),
               "price_history_by_deal": checker.price_history(session, acked.deals),
               "purchases_by_minute": checker.purchases(session, acked.events),
               "lake deals": checker.lake(s.lake_dir(s.topic_deals_raw), acked.deal_positions,
                                          local_copy=lake[s.topic_deals_raw]),
               "lake events": checker.lake(s.lake_dir(s.topic_user_events), acked.event_positions,
                                           local_copy=lake[s.topic_user_events])}
    evidence = {
        "stream_master": stream_master, "stream_wall_s": round(stream_s, 1), "caught_up_after_kills_s":
        round(caught_up_s, 1), "killed_during_stream": killed, "yarn_applications": yarn_application_ids(layer.log),
        "lake_files_on_hdfs": {s.lake_dir(topic): len(fs.find(urlparse(s.lake_dir(topic)).path)) for topic in lake},
        "lake_uri": s.lake_root, "checkpoint_uri": s.checkpoint_root,
        "kafka_brokers": len(s.kafka_bootstrap.split(",")), "cassandra_nodes": len(s.cassandra_hosts),
        "acknowledged": {"deals": len(acked.deals), "events": len(acked.events)},
        "tallies": {name: t.as_dict() for name, t in tallies.items()},
    }
    done = Streamed(base, s, session, acked, batch_master, tallies)
    done.record(evidence)  # the batch tests add theirs
    yield done
    session.cluster.shutdown()


def test_the_stream_on_the_cluster_stores_exactly_what_was_acknowledged(streamed: Streamed) -> None:
    wrong = {name: t.as_dict() for name, t in streamed.tallies.items() if not t.exact}
    assert len(streamed.acked.deals) == DEALS + UPDATES and streamed.acked.events
    assert not wrong, wrong


def start_job(streamed: Streamed, s: Settings, argv: list[str], log: Path,
              extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`./spark-submit.sh <the batch master's options> <argv>` with the profile's settings for `s`."""
    options = submit_args(streamed.batch_master, ClusterLayout.of(streamed.base))
    with log.open("wb") as out:
        return subprocess.Popen([str(PROJECT_ROOT / "spark-submit.sh"), *options, *argv], cwd=PROJECT_ROOT,
                                env={**job_env(streamed.base, s), **(extra_env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def finish_job(job: subprocess.Popen[bytes], log: Path, timeout_s: float = 900) -> None:
    assert job.wait(timeout=timeout_s) == 0, f"the job failed; see {log}\n{log.read_text()[-3000:]}"


def stop_job(job: subprocess.Popen[bytes]) -> None:
    """A job still running when its test ends (failed or timed out) goes with its whole process group."""
    if job.poll() is None:
        os.killpg(job.pid, signal.SIGKILL)


def run_job(streamed: Streamed, s: Settings, argv: list[str], log: Path, name: str,
            extra_env: dict[str, str] | None = None) -> None:
    """Run a batch job to its end on the batch master and add its wall time and YARN ids to the evidence."""
    t0 = time.monotonic()
    job = start_job(streamed, s, argv, log, extra_env)
    try:
        finish_job(job, log)
    finally:
        stop_job(job)
    streamed.record({f"{name}_wall_s": round(time.monotonic() - t0, 1), f"{name}_yarn_applications":
                     yarn_application_ids(log)})


def test_the_batch_job_over_the_hdfs_lake_writes_what_the_stream_wrote(streamed: Streamed, tmp_path: Path) -> None:
    base = streamed.base
    s = streamed.settings.model_copy(update={"keyspace": "exs_test_cluster_batch"})
    session = fresh_keyspace(s)
    log = tmp_path / "batch.log"
    t0 = time.monotonic()
    job = start_job(streamed, s, ["batch/deals_job.py"], log)
    killed = []
    try:
        if streamed.batch_master == "standalone":
            killed = [kill_worker_once_the_job_runs_on_both(base, ClusterLayout.of(base), job)]
        finish_job(job, log)
    finally:
        stop_job(job)
    batch_s = time.monotonic() - t0
    up(base, load_versions(), profile="cluster", echo=lambda _line: None)  # the killed worker comes back
    streamed.record({"batch_master": streamed.batch_master, "batch_wall_s": round(batch_s, 1),
                     "killed_during_batch": killed, "batch_yarn_applications": yarn_application_ids(log)})
    try:
        assert deal_tables(session, s) == deal_tables(streamed.session, s)
    finally:
        session.cluster.shutdown()


def test_the_activity_batch_over_the_hdfs_lake_writes_what_the_stream_wrote(streamed: Streamed,
                                                                             tmp_path: Path) -> None:
    """The user events the speed layer archived (through the kills) give the batch the stream's tables."""
    s = streamed.settings.model_copy(update={"keyspace": "exs_test_cluster_activity"})
    session = fresh_keyspace(s)
    run_job(streamed, s, ["batch/activity_job.py"], tmp_path / "activity.log", "activity_batch")
    try:
        assert activity_tables(session, s) == activity_tables(streamed.session, streamed.settings)
    finally:
        session.cluster.shutdown()


def test_the_recommender_trains_on_the_cluster_from_an_hdfs_lake(streamed: Streamed, tmp_path: Path) -> None:
    """The recommendation world of the integration tests: its deals in the ring, its events in an HDFS
    lake; the training's tables must hold what the world's plain-Python checks expect."""
    s = streamed.settings.model_copy(update={"keyspace": "exs_test_cluster_recommend", **world.SETTINGS})
    session = fresh_keyspace(s)
    fs = hdfs.webhdfs(ClusterLayout.of(streamed.base).hadoop)
    world.seed_deals(session, s.keyspace)
    lake = f"{s.lake_root}/recommend-world/user_events"
    hdfs.put_raw_records(fs, raw_records(world.events(), topic="user_events"), lake)
    overrides = {f"EXS_{name.upper()}": json.dumps(value) if isinstance(value, tuple) else str(value)
                 for name, value in world.SETTINGS.items()}
    run_job(streamed, s, ["batch/recommend_job.py", "--path", lake, "--now", world.NOW.isoformat()],
            tmp_path / "recommend.log", "recommend", overrides)
    model = f"{urlparse(s.model_dir('als')).path}/{world.NOW.strftime('%Y%m%dT%H%M%SZ')}"
    streamed.record({"recommend_model_on_hdfs": model})
    try:
        world.assert_area_popularity(session, s.recommend_half_life_days)
        world.assert_diverse_lists(session)
        world.assert_local_first(session)
        assert fs.exists(f"{model}/model/metadata") and fs.exists(f"{model}/grid")
    finally:
        session.cluster.shutdown()


def activity_tables(session: Any, s: Settings) -> dict[str, set[tuple[Any, ...]]]:
    """Every activity table, whole; of the dead letters, those of the events topic (the deals query
    writes the deals' own there)."""
    tables = activity_snapshot(session, s.keyspace)
    tables["dead"] = {tuple(row) for row in session.execute(
        f"SELECT day, received_at, dead_letter_id, source, reason, raw_payload FROM {s.keyspace}.dead_letters_by_day")
        if row.source == s.topic_user_events}
    return tables


def deal_tables(session: Any, s: Settings) -> dict[str, set[tuple[Any, ...]]]:
    """Every table the deals jobs write, whole; of the dead letters, those of the deals topic (the stream's
    activity query writes the user events' own there, and the deals batch job does not read events); of
    the merchants' honesty, the rows with scored deals. A stream that scored a deal in one category and
    later in another leaves a row of 0 scored deals for the first (the API reads such a row as no row);
    a batch that sees only the newest version never writes one."""
    tables = snapshot(session)
    tables["dead_letters_by_day"] = {row for row in tables["dead_letters_by_day"]
                                     if ("source", s.topic_deals_raw) in row}
    tables["merchant_honesty_by_category"] = {row for row in tables["merchant_honesty_by_category"]
                                              if ("scored_deals", 0) not in row}
    return tables


def kill_worker_once_the_job_runs_on_both(base: Settings, layout: ClusterLayout, job: subprocess.Popen[bytes]) -> str:
    """Wait until the batch application holds a core on each worker and has worked a few seconds, then
    lose the second worker with its executors."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.poll() is None:
        apps = get_json(f"{layout.standalone.master_http}/json/").get("activeapps", [])
        if any(app.get("name") == "exstreamly-deals-batch" and app.get("cores", 0) >= layout.standalone.workers
               for app in apps):
            time.sleep(5)
            kill_node(base, "spark-worker-2")
            return "spark-worker-2"
        time.sleep(0.5)
    raise AssertionError("the batch application never ran on both workers")
