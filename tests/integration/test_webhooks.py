"""Webhooks against real Kafka and Cassandra and a real HTTP receiver: set through the API, one signed
POST per instant alert and one per digest when due, a repeat on Kafka posted once, a failing receiver
retried then dead-lettered with the reason and the payload, and a restarted worker posts nothing twice."""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import create_token
from graphql_api.notify.webhooks import SIGNATURE_HEADER
from graphql_api.notify.worker import WebhookWorker
from tests.conftest import ALERTS_API_TEST_KEYSPACE, keyspace_session

pytestmark = pytest.mark.integration
SET = "mutation($url: String) { setWebhook(url: $url) { url secret } }"
ATTEMPTS = 3


class Receiver(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.calls.append((self.path, self.headers[SIGNATURE_HEADER], body))
        self.send_response(200 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[str]:
    Receiver.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def alert(user: int, alert_id: str, due: datetime, digest: str | None = None) -> dict[str, Any]:
    return {"alert_id": alert_id, "user_id": user, "deal_id": 1, "digest_id": digest, "kind": "NEW_MATCH",
            "deliver_at": due.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "reason": "in spa"}


def run_worker(settings: Settings, seconds: float) -> WebhookWorker:
    worker, stop = WebhookWorker(settings), threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(30)
    return worker


def test_webhooks_are_signed_once_per_notice_and_dead_lettered(settings: Settings, kafka_bootstrap: str,
                                                               receiver: str) -> None:
    hook_settings = settings.model_copy(update={
        "keyspace": ALERTS_API_TEST_KEYSPACE, "topic_deal_alerts": f"test_webhooks_{uuid.uuid4().hex[:8]}",
        "webhook_group": f"test-webhooks-{uuid.uuid4().hex[:8]}", "webhook_max_attempts": ATTEMPTS,
        "webhook_backoff_s": 0.05})
    with keyspace_session(hook_settings), TestClient(create_app(hook_settings)) as client:
        def set_hook(user: int, path: str) -> str:
            headers = {"Authorization": f"Bearer {create_token(hook_settings, user)}"}
            body = client.post("/graphql", json={"query": SET, "variables": {"url": receiver + path}},
                               headers=headers).json()
            return str(body["data"]["setWebhook"]["secret"])

        secret = set_hook(1, "/ok")
        set_hook(2, "/fail")
        refused = client.post("/graphql", json={"query": SET, "variables": {"url": "ftp://x"}},
                              headers={"Authorization": f"Bearer {create_token(hook_settings, 1)}"}).json()
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    now = datetime.now(UTC)
    messages = [alert(1, "a1", now), alert(1, "a1", now), alert(1, "d1", now + timedelta(seconds=3), "dig"),
                alert(1, "d2", now + timedelta(seconds=3), "dig"), alert(2, "b1", now)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for message in messages:
        producer.send(hook_settings.topic_deal_alerts, key=str(message["user_id"]).encode(),
                      value=orjson.dumps(message))
    producer.flush()
    producer.close()
    run_worker(hook_settings, 8.0)
    ok = [(orjson.loads(body), sig) for path, sig, body in Receiver.calls if path == "/ok"]
    assert [[a["alert_id"] for a in body["alerts"]] for body, _ in ok] == [["a1"], ["d1", "d2"]]
    for (_, sig), (_path, _, raw) in zip(ok, [c for c in Receiver.calls if c[0] == "/ok"], strict=True):
        stamp, digest = sig.split(",")
        want = hmac.new(secret.encode(), f"{stamp[2:]}.".encode() + raw, hashlib.sha256).hexdigest()
        assert digest == f"v1={want}"
    assert sum(1 for path, _, _ in Receiver.calls if path == "/fail") == ATTEMPTS
    with keyspace_session(hook_settings) as session:
        dead = [r for r in session.execute("SELECT * FROM webhook_dead_letters_by_day WHERE day = %s",
                                           (now.strftime("%Y-%m-%d"),)) if r.notice_id == "b1"]
    assert len(dead) == 1 and dead[0].reason == "HTTP 500" and '"b1"' in dead[0].payload
    calls = len(Receiver.calls)
    run_worker(hook_settings, 3.0)  # a restart of the worker: nothing is posted again
    assert len(Receiver.calls) == calls
