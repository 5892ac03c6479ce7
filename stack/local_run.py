"""`exstreamly run`: the whole platform end to end on one machine, in one terminal.

simulator (Sqoot v2) -> crawler (Async DQE over Kafka) -> deals_raw -> Spark streaming
(archive to the lake + deal tables in Cassandra) -> GraphQL API; and the activity simulator
(users on the live deals) -> user_events -> Spark streaming (archive + activity tables) ->
`trending` & co.; once ready and events are in the lake, one training of the recommender
(batch/recommend_job.py) -> `viewer { recommendations }`. Each process logs to
`.runtime/logs/<name>.log`; Ctrl-C stops them all.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

from conf.clients import cassandra_cluster, ensure_topics, kafka_cluster_id
from conf.settings import PROJECT_ROOT, Settings
from stack.errors import ServiceStartError
from stack.process import is_alive, lower_session_priority
from streaming.watchdog import EXIT_STALLED

log = logging.getLogger(__name__)
EXSTREAMLY = [str(Path(sys.executable).with_name("exstreamly"))]
SPARK_SUBMIT = str(PROJECT_ROOT / "spark-submit.sh")
POLL_S = 1.0
#: The one training of the recommender runs at a lower CPU priority: on two cores it is a batch job
#: beside the API and the streams, and a shopper's request should not wait behind it (bench.load).
BATCH_NICE = 15
#: The speed layer runs below the API and the stores too (nice 10: about a tenth of the API's share of a
#: busy core). With spare CPU it gets all of it; when a burst of requests wants the cores, shoppers are
#: answered first and the stream catches up from Kafka afterwards, losing nothing (bench.load).
STREAM_NICE = 10


def start_in_session(argv: list[str], env: dict[str, str], log_file: Path, nice: int = 0) -> subprocess.Popen[bytes]:
    """`argv` in a process group and session of its own (stopped as a whole), `nice` below the others."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(["nice", "-n", str(nice), *argv] if nice else argv, cwd=PROJECT_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    if nice:
        lower_session_priority(proc.pid, nice)
    return proc


@dataclass
class Children:
    """Background processes of one run, each in its own process group, stopped together."""

    log_dir: Path
    env: dict[str, str]
    echo: Callable[[str], None] = print
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    argvs: dict[str, list[str]] = field(default_factory=dict)
    nice: dict[str, int] = field(default_factory=dict)
    #: Children started again when they exit with this status: the speed layer's watchdog stops a hung
    #: job with it (streaming/watchdog.py), and a restart from the checkpoints is exact.
    restart_on: dict[str, int] = field(default_factory=dict)
    #: Jobs that end by themselves (the recommender's training): stopped with the rest, never "dead".
    jobs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], nice: int = 0) -> Path:
        log_file = self.log_dir / f"{name}.log"
        self.argvs[name], self.nice[name] = argv, nice
        self.procs[name] = start_in_session(argv, self.env, log_file, nice)
        return log_file

    def check_alive(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            if self.restart_on.get(name) == proc.returncode:
                self.echo(f"{name} exited with {proc.returncode} (stalled): restarting it from its checkpoints "
                          f"(log {self.start(name, self.argvs[name], self.nice[name])})")
                continue
            raise ServiceStartError(f"{name} exited with {proc.returncode}; see {self.log_dir / name}.log")

    def stop(self) -> None:
        """SIGTERM to every process group at once, then SIGKILL to those still there after 30 s."""
        everything = [*self.procs.values(), *self.jobs.values()]
        for proc in everything:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in everything:
            while is_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


#: Signals that stop a run as Ctrl-C does: a service manager or `timeout` (TERM), a closed terminal (HUP).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def children(settings: Settings, echo: Callable[[str], None] = print) -> Iterator[Children]:
    """The run's children, stopped however the run ends: an error, Ctrl-C, SIGTERM or SIGHUP. Each child
    has its own session (so a terminal's signals reach only us), so stopping them is our job."""
    env = {**os.environ, "EXS_DEALS_API_URL": f"http://{settings.simulator_host}:{settings.simulator_port}/v2"}
    group = Children(settings.runtime_dir / "logs", env, echo)
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS}
    try:
        yield group
    finally:
        for signum in STOP_SIGNALS:  # a second TERM while stopping must not leave children behind
            signal.signal(signum, signal.SIG_IGN)
        group.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wait_for(what: str, probe: Callable[[], object], group: Children, timeout_s: float) -> object:
    """Poll `probe` until it returns something truthy, failing fast if a child died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        group.check_alive()
        try:
            answer = probe()
        except (httpx.HTTPError, OSError):
            answer = None
        if answer:
            return answer
        time.sleep(POLL_S)
    raise ServiceStartError(f"timed out after {timeout_s:.0f}s waiting for {what}; logs in {group.log_dir}")


def served_deal_id(sim_url: str, settings: Settings) -> int:
    """A deal id the simulator serves right now: the proof that must travel the whole pipeline."""
    params: dict[str, str | int] = {"api_key": settings.deals_api_key.get_secret_value(), "per_page": 1}
    return int(httpx.get(f"{sim_url}/deals", params=params, timeout=5).json()["deals"][0]["deal"]["id"])


def stored_deal(settings: Settings, deal_id: int, *, written_after: float) -> Callable[[], int | None]:
    """Probe: the deal's row in deals_by_id was written after `written_after` (epoch seconds), so it
    came through this run's pipeline and is not a leftover of an earlier one."""
    session = cassandra_cluster(settings).connect()
    statement = session.prepare(
        f"SELECT deal_id, WRITETIME(title) AS written_us FROM {settings.keyspace}.deals_by_id WHERE deal_id = ?")

    def probe() -> int | None:
        row = session.execute(statement, (deal_id,)).one()
        is_fresh = row is not None and row.written_us is not None and row.written_us / 1e6 > written_after
        return int(row.deal_id) if is_fresh else None

    return probe


def graphql_deal(api_url: str, deal_id: int) -> dict[str, object] | None:
    query = "query($id: ID!) { deal(id: $id) { id title price discountPct merchant { name } } }"
    body = httpx.post(api_url, json={"query": query, "variables": {"id": str(deal_id)}}, timeout=5).json()
    return (body.get("data") or {}).get("deal")


def graphql_trending(api_url: str) -> list[str] | None:
    """The top categories of the last minute (the API's default window). Not the last ten seconds:
    on two busy cores the activity windows trail the events by 10-25 s (issue 10), so that window can
    be empty while the stream is healthy, and readiness would wait on the machine's speed."""
    query = "{ trending(window: ONE_MINUTE, first: 3) { slug score } }"
    body = httpx.post(api_url, json={"query": query}, timeout=5).json()
    found = (body.get("data") or {}).get("trending")
    return [f"{t['slug']} ({t['score']})" for t in found] if found else None


def lake_has_events(settings: Settings) -> bool:
    """Probe: the archive has written user events to a local lake (a remote lake is not looked into)."""
    root = settings.lake_dir(settings.topic_user_events)
    if not root.startswith("file://"):
        return True
    return any(Path(root.removeprefix("file://")).rglob("*.parquet"))


#: The run trains once, on minutes of activity, beside the running platform at a low priority: one ALS
#: point (rank 16 beat rank 8 in every grid on this data) and the taste weights, so the list appears in
#: minutes, not half an hour. An EXS_RECOMMEND_ALS_* variable in the environment wins.
RUN_GRID = {"EXS_RECOMMEND_ALS_RANKS": "[16]", "EXS_RECOMMEND_ALS_REG_PARAMS": "[0.05]"}


class RecommendTraining:
    """One run of batch/recommend_job.py once events are in the lake, beside the running platform:
    started and followed from the main loop, so the platform is ready (and serves) meanwhile."""

    def __init__(self, settings: Settings, group: Children, api_url: str, echo: Callable[[str], None]) -> None:
        self.settings, self.group, self.api_url, self.echo = settings, group, api_url, echo
        self.proc: subprocess.Popen[bytes] | None = None
        self.done = False
        self.log_file = group.log_dir / "recommend.log"

    def poll(self) -> None:
        if self.done:
            return
        if self.proc is None:
            if lake_has_events(self.settings):
                self.proc = start_in_session([SPARK_SUBMIT, "batch/recommend_job.py"], {**RUN_GRID, **self.group.env},
                                             self.log_file, BATCH_NICE)
                self.group.jobs["recommend"] = self.proc  # stopped with the others, in parallel
                self.echo(f"recommendations: training once on the activity so far (log {self.log_file})")
            return
        if self.proc.poll() is None:
            return
        self.done = True
        if self.proc.returncode != 0:
            self.echo(f"recommendations: the training exited with {self.proc.returncode}; see {self.log_file}")
            return
        try:
            picks = graphql_recommendations(self.api_url, self.settings)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            # A demo query, after the platform is up: a busy or restarting API must not stop the run.
            self.echo(f"recommendations: trained; asking GraphQL for some failed ({exc!r}), ask again later")
            return
        self.echo(f"GraphQL answers viewer {{ recommendations }}: {picks}")


def graphql_recommendations(api_url: str, settings: Settings) -> list[str] | None:
    """A signed-in user's recommendations through GraphQL (a user the training wrote a list for)."""
    from graphql_api.auth import create_token

    cluster = cassandra_cluster(settings)
    try:
        # a script's probe for some user with a list, not a serving path
        row = cluster.connect().execute(f"SELECT user_id FROM {settings.keyspace}.recommendations_by_user "
                                        "LIMIT 1").one()
    finally:
        cluster.shutdown()
    if row is None:
        return None
    query = "{ viewer { recommendations(first: 3) { reason score deal { id title } } } }"
    headers = {"Authorization": f"Bearer {create_token(settings, int(row.user_id))}"}
    body = httpx.post(api_url, json={"query": query}, headers=headers, timeout=10).json()
    found = (((body.get("data") or {}).get("viewer")) or {}).get("recommendations")
    return [f"user {row.user_id}: {r['deal']['title']} ({r['reason']})" for r in found] if found else None


#: Interests of a few simulated users (issue 14), so alerts flow in the local demo.
DEMO_INTERESTS: tuple[tuple[int, dict[str, object]], ...] = (
    (1, {"category": "dining-nightlife", "minDiscount": 0.5}),
    (2, {"category": "health-beauty", "maxPrice": 60.0, "delivery": "HOURLY"}),
    (3, {"near": {"lat": 40.71, "lon": -74.0, "radiusKm": 40}, "maxPerDay": 20}),
    (4, {"category": "product", "minDiscount": 0.3, "keywords": ["off"], "quietHours": {"startHour": 2, "endHour": 6}}),
    (5, {"category": "fitness", "delivery": "DAILY"}),
)


def save_demo_interests(api_url: str, settings: Settings) -> int:
    """Save DEMO_INTERESTS through the API (each with its user's token); returns how many were saved."""
    from graphql_api.auth import create_token

    query = "mutation($input: InterestInput!) { saveInterest(input: $input) { id } }"
    saved = 0
    for user_id, interest in DEMO_INTERESTS:
        headers = {"Authorization": f"Bearer {create_token(settings, user_id)}"}
        body = httpx.post(api_url, json={"query": query, "variables": {"input": interest}}, headers=headers,
                          timeout=5).json()
        saved += "errors" not in body
    return saved


#: File under the checkpoint root naming the Kafka cluster whose offsets the checkpoints hold.
KAFKA_CLUSTER_MARK = "kafka-cluster-id"


def checkpoints_for_this_kafka(settings: Settings, echo: Callable[[str], None]) -> None:
    """Reset the speed layer's checkpoints, on purpose and said so, when Kafka is a new cluster.

    Checkpoints hold offsets of one Kafka cluster. A new local Kafka (its data directory removed, every
    topic re-created empty) leaves them pointing past the end of every partition, and the queries,
    which never skip lost records (streaming/data_loss.py), would stop. The cluster id the checkpoints
    were written for is kept beside them; checkpoints without it are kept as they are.
    """
    if urlparse(settings.checkpoint_root).scheme != "file":
        return  # a cluster's checkpoints are its operators' to manage
    root = Path(urlparse(settings.checkpoint_root).path)
    mark, cluster_id = root / KAFKA_CLUSTER_MARK, kafka_cluster_id(settings)
    recorded = mark.read_text().strip() if mark.exists() else None
    if recorded is not None and recorded != cluster_id:
        echo(f"kafka: a new cluster ({cluster_id}; the checkpoints under {root} hold offsets of {recorded}): "
             "resetting them, so the streams read every topic from its start")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    mark.write_text(cluster_id)


def run(settings: Settings, *, until_ready: bool, echo: Callable[[str], None]) -> int:
    """Start every process, wait until a crawled deal is served by GraphQL, then keep running."""
    sim_url = f"http://{settings.simulator_host}:{settings.simulator_port}/v2"
    api_url = f"http://{settings.api_host}:{settings.api_port}/graphql"
    started = time.time()
    with children(settings, echo) as group:
        echo(f"simulator: {sim_url} (log {group.start('simulator', [*EXSTREAMLY, 'simulate'])})")
        wait_for("the simulator", lambda: httpx.get(f"{sim_url}/categories",
                 params={"api_key": settings.deals_api_key.get_secret_value()}, timeout=2).is_success, group, 60)
        ensure_topics(settings, {settings.topic_user_events: settings.activity_user_events_partitions})
        checkpoints_for_this_kafka(settings, echo)
        # One Spark application for the archive, deal and activity queries: on one machine a driver
        # per job costs more CPU than the queries themselves (streaming/speed_layer.py).
        speed_log = group.start("speed_layer", [SPARK_SUBMIT, "streaming/speed_layer.py"], STREAM_NICE)
        group.restart_on["speed_layer"] = EXIT_STALLED
        echo(f"spark speed layer (archive, deals, scores, alerts, activity queries): submitted (log {speed_log})")
        crawler_log = group.start("crawler", [*EXSTREAMLY, "crawl", "--every", "60"])
        echo(f"crawler: full crawl, then incremental every 60s (log {crawler_log})")
        deal_id = served_deal_id(sim_url, settings)
        wait_for(f"deal {deal_id} in Cassandra", stored_deal(settings, deal_id, written_after=started), group, 600)
        echo(f"deal {deal_id} went simulator -> crawler -> Kafka -> Spark -> Cassandra")
        activity_log = group.start("activity", [*EXSTREAMLY, "activity"])
        echo(f"activity: {settings.activity_rate_per_s:g} events/s on the live deals (log {activity_log})")
        echo(f"api: {api_url} (log {group.start('api', [*EXSTREAMLY, 'api'])})")
        deal = wait_for(f"deal({deal_id}) through GraphQL", lambda: graphql_deal(api_url, int(deal_id)), group, 120)
        echo(f"GraphQL answers deal({deal_id}): {deal}")
        echo(f"interests: {save_demo_interests(api_url, settings)} saved for users 1-5; their alerts stream on "
             "`subscription { dealAlerts }` (token: `exstreamly token create --user 1`)")
        trends = wait_for("trending categories through GraphQL", lambda: graphql_trending(api_url), group, 300)
        echo(f"GraphQL answers trending(ONE_MINUTE): {trends}")
        dashboard_url = f"http://{settings.api_host}:{settings.api_port}/"
        if httpx.get(dashboard_url, timeout=10).status_code != 200:
            echo("the dashboard is not built: `./dev run` builds it (npm ci && npm run build in dashboard/)")
        echo(f"\nOpen the dashboard at {dashboard_url}\nOpen GraphiQL at {api_url}   "
             f"(Ctrl-C stops everything; logs in {group.log_dir})")
        if until_ready:
            return 0
        training = RecommendTraining(settings, group, api_url, echo)
        try:
            while True:
                group.check_alive()
                training.poll()
                time.sleep(5)
        except KeyboardInterrupt:
            echo("stopping…")
    return 0
