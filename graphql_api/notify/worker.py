"""`exstreamly webhooks`: Kafka `deal_alerts` -> each user's webhook, once per notice, when it is due.

Input:  Kafka `deal_alerts` (consumer group EXS_WEBHOOK_GROUP, offsets committed by hand), the users'
        webhooks (`webhooks_by_user`).
Output: signed POSTs (graphql_api/notify/webhooks.py): one per instant alert, one per digest (all its alerts)
        when its `deliver_at` comes; `webhook_deliveries` (the alert ids posted) and, after the last
        attempt, `webhook_dead_letters_by_day` with the reason and the payload.

A message is held until due; a partition's offset is committed only up to its oldest held message,
so a restart re-reads what was not yet posted. What a restart reads again, and the repeats Kafka
may carry after a Spark replay, are dropped by alert id (in memory, then `webhook_deliveries`).
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
import requests
from kafka import OffsetAndMetadata, TopicPartition

from conf.clients import cassandra_cluster, kafka_consumer
from conf.settings import Settings
from graphql_api.notify.webhooks import WebhookFailed, post_signed

log = logging.getLogger(__name__)
Held = tuple[float, str, int, int, dict[str, Any]]  # (due, notice id, partition, offset, alert)


def _due(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(alert["deliver_at"]).replace("Z", "+00:00")).timestamp()


class WebhookWorker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session = cassandra_cluster(settings).connect(settings.keyspace)
        self.http = requests.Session()
        self.consumer = kafka_consumer(settings, group_id=settings.webhook_group, enable_auto_commit=False,
                                       auto_offset_reset="earliest", client_id="exstreamly-webhooks")
        self.consumer.subscribe([settings.topic_deal_alerts])
        self._held: list[Held] = []
        self._held_ids: set[str] = set()
        self._read_up_to: dict[int, int] = {}
        ks = settings.keyspace
        self._hook = self.session.prepare(f"SELECT url, secret FROM {ks}.webhooks_by_user WHERE user_id = ?")
        self._seen = self.session.prepare(f"SELECT alert_id FROM {ks}.webhook_deliveries WHERE alert_id = ?")
        self._done = self.session.prepare(f"INSERT INTO {ks}.webhook_deliveries (alert_id, user_id, delivered_at, "
                                          "attempts) VALUES (?, ?, ?, ?)")
        self._dead = self.session.prepare(f"INSERT INTO {ks}.webhook_dead_letters_by_day (day, failed_at, notice_id, "
                                          "user_id, url, attempts, reason, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        self.posted = self.dead_letters = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
        self.close()

    def step(self) -> None:
        """Read what arrived, post what is due, commit what is done."""
        for partition, records in self.consumer.poll(timeout_ms=200).items():
            for record in records:
                self._hold(partition.partition, record.offset, orjson.loads(record.value))
                self._read_up_to[partition.partition] = record.offset + 1
        self._post_due(time.time())
        self._commit()

    def _hold(self, partition: int, offset: int, alert: dict[str, Any]) -> None:
        if alert["alert_id"] in self._held_ids:
            return
        self._held_ids.add(alert["alert_id"])
        notice = alert.get("digest_id") or alert["alert_id"]
        heapq.heappush(self._held, (_due(alert), notice, partition, offset, alert))

    def _post_due(self, now: float) -> None:
        notices: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
        while self._held and self._held[0][0] <= now:
            _, notice, _, _, alert = heapq.heappop(self._held)
            self._held_ids.discard(alert["alert_id"])
            notices[(alert["user_id"], notice)].append(alert)
        for (user_id, notice), alerts in notices.items():
            fresh = [a for a in alerts if self.session.execute(self._seen, (a["alert_id"],)).one() is None]
            hook = self.session.execute(self._hook, (user_id,)).one()
            if fresh and hook is not None and hook.url:
                self._post(user_id, notice, fresh, hook.url, hook.secret)

    def _post(self, user_id: int, notice: str, alerts: list[dict[str, Any]], url: str, secret: str) -> None:
        body = orjson.dumps({"notice_id": notice, "digest_id": alerts[0].get("digest_id"), "user_id": user_id,
                             "alerts": sorted(alerts, key=lambda a: (a["deliver_at"], a["alert_id"]))})
        now = datetime.now(UTC)
        try:
            attempts = post_signed(self.http, url, secret, body, self.settings)
        except WebhookFailed as exc:
            log.warning("webhook of user %d failed for notice %s: %s (dead-lettered)", user_id, notice, exc)
            self.session.execute(self._dead, (now.strftime("%Y-%m-%d"), now, notice, user_id, url,
                                              self.settings.webhook_max_attempts, str(exc), body.decode()))
            self.dead_letters += 1
            attempts = self.settings.webhook_max_attempts
        else:
            self.posted += 1
        for alert in alerts:  # posted or dead-lettered: either way this alert is done
            self.session.execute(self._done, (alert["alert_id"], user_id, now, attempts))

    def _commit(self) -> None:
        """Per partition: up to the oldest held message, or all that was read."""
        oldest: dict[int, int] = {}
        for _, _, partition, offset, _ in self._held:
            oldest[partition] = min(offset, oldest.get(partition, offset))
        offsets = {TopicPartition(self.settings.topic_deal_alerts, p): OffsetAndMetadata(oldest.get(p, end), "", -1)
                   for p, end in self._read_up_to.items()}
        if offsets:
            self.consumer.commit(offsets)

    def close(self) -> None:
        self.consumer.close()
        self.http.close()
        self.session.cluster.shutdown()
