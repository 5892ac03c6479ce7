"""Interest alerts through the real stack: interests saved through the API, deals produced to Kafka
with chosen timestamps, the alerts job submitted with spark-submit.sh and killed with kill -9
(EXS_TEST_ALERT_KILLS times, 3 by default: the issue's count), then drained with
--available-now. The alerts table, and the distinct alert ids on Kafka `deal_alerts`, equal an
independent plain-Python match of the same deals x interests: 0 missed, 0 extra, 0 duplicated;
caps and digests hold."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.clients import ensure_topics
from conf.settings import Settings
from graphql_api.app import create_app
from tests import alert_oracle
from tests.conftest import ALERTS_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration import alert_fixtures as fx

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("EXS_TEST_ALERT_KILLS", "3"))
DEALS, USERS = 1000, 12


def submit(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(ROOT / "spark-submit.sh"), "streaming/alerts_job.py", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def count(session: Any, table: str) -> int:
    return int(session.execute(f"SELECT count(*) FROM {table}").one()[0])


def stored_alerts(session: Any) -> list[dict[str, Any]]:
    return [row._asdict() for row in session.execute("SELECT * FROM alerts_by_user")]


def run_with_kills(env: dict[str, str], session: Any, log: Path, rng: random.Random) -> None:
    for kill in range(KILLS):
        before = count(session, "alert_state_by_deal")
        driver = submit(env, log)
        deadline = time.monotonic() + 300
        while count(session, "alert_state_by_deal") <= before and time.monotonic() < deadline \
                and driver.poll() is None:
            time.sleep(0.5)
        time.sleep(rng.uniform(0.3, 2.0))  # somewhere inside a later micro-batch
        assert driver.poll() is None, f"alerts driver exited by itself (kill {kill}); see {log}"
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    final = submit(env, log, "--available-now")
    try:
        assert final.wait(timeout=1500) == 0, f"final alerts run failed; see {log}"
    finally:  # a run that outlived the bound must not write into the next test's tables
        if final.poll() is None:
            os.killpg(final.pid, signal.SIGKILL)
            final.wait()


@pytest.fixture()
def alerts_settings(settings: Settings) -> Settings:
    run = uuid.uuid4().hex[:8]
    return settings.model_copy(update={"keyspace": ALERTS_TEST_KEYSPACE, "topic_deals_raw": f"test_alert_deals_{run}",
                                       "topic_deal_alerts": f"test_deal_alerts_{run}"})


@pytest.mark.timeout(2400)  # two spark-submit drivers (more with EXS_TEST_ALERT_KILLS) on a shared machine
def test_alerts_equal_an_independent_match_across_a_killed_driver(alerts_settings: Settings, kafka_bootstrap: str,
                                                                  tmp_path: Path) -> None:
    rng = random.Random(14)
    with keyspace_session(alerts_settings) as session:
        truncate_keyspace(session, ALERTS_TEST_KEYSPACE)
        wanted = fx.interests(USERS, seed=14)
        with TestClient(create_app(alerts_settings)) as client:
            fx.save_through_api(client, alerts_settings, wanted)
        records = fx.deal_records(DEALS, seed=15)
        scores = fx.seed_scores(session, records, seed=16)
        start = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
        stamped = fx.stamped(records, start, timedelta(seconds=40))  # ~1.2 days: two UTC days, quiet hours
        # one partition: arrival order is time order, the order the oracle counts daily caps in
        ensure_topics(alerts_settings, {alerts_settings.topic_deals_raw: 1})
        fx.produce_stamped(kafka_bootstrap, alerts_settings.topic_deals_raw, stamped)
        env = {**os.environ, "EXS_KEYSPACE": ALERTS_TEST_KEYSPACE,
               "EXS_TOPIC_DEALS_RAW": alerts_settings.topic_deals_raw,
               "EXS_TOPIC_DEAL_ALERTS": alerts_settings.topic_deal_alerts,
               "EXS_CHECKPOINT_URI": (tmp_path / "ck").as_uri(), "EXS_MAX_OFFSETS_PER_TRIGGER": "200",
               "EXS_ALERT_SCORE_WAIT_S": "0"}
        run_with_kills(env, session, tmp_path / "driver.log", rng)
        got = stored_alerts(session)

    fired = alert_oracle.fired(stamped, wanted, scores)
    decided = alert_oracle.with_delivery(fired)
    key = lambda r: (r["user_id"], r["interest_id"], r["deal_id"], r["deal_updated_at"].replace(tzinfo=UTC))  # noqa: E731
    copies = Counter(key(r) for r in got)
    duplicated = sum(n - 1 for n in copies.values())
    missed, extra = set(fired) - set(copies), set(copies) - set(fired)
    assert len(fired) > 200 and (missed, extra, duplicated) == (set(), set(), 0)
    want_rows = {k: (a["kind"], a["price"], a["previous_price"], *decided[k]) for k, a in fired.items()}
    got_rows = {key(r): (r["kind"], r["price"], r["previous_price"], r["delivery"],
                         r["deliver_at"].replace(tzinfo=UTC)) for r in got}
    assert got_rows == want_rows
    assert all(r["reason"] for r in got) and {r["kind"] for r in got} == {"NEW_MATCH", "PRICE_DROP"}
    kafka_ids = [m["alert_id"] for m in fx.consume_all(kafka_bootstrap, alerts_settings.topic_deal_alerts)]
    assert set(kafka_ids) == {r["alert_id"] for r in got}  # repeats after a replay are dropped by id
    assert_caps_and_digests(got, {i["interest_id"]: i for i in wanted})


def assert_caps_and_digests(got: list[dict[str, Any]], interests: dict[str, dict[str, Any]]) -> None:
    """The caps and digests stated on their own, not through the oracle."""
    instant_per_day: Counter[tuple[str, Any]] = Counter(
        (r["interest_id"], r["deliver_at"].date()) for r in got if r["delivery"] == "INSTANT")
    for (interest_id, _day), n in instant_per_day.items():
        cap = interests[interest_id].get("max_per_day")
        assert cap is None or n <= cap
    digests: dict[str, set[tuple[str, datetime]]] = defaultdict(set)
    for r in got:
        mode = interests[r["interest_id"]].get("delivery", "INSTANT")
        assert mode == "INSTANT" or r["delivery"] == f"{mode}_DIGEST"
        if r["digest_id"]:
            digests[r["digest_id"]].add((r["interest_id"], r["deliver_at"]))
            assert r["deliver_at"] >= r["alert_at"]
    assert digests and all(len(members) == 1 for members in digests.values())  # one interest, one time each
