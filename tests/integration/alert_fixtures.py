"""Inputs of the alert tests: deals around a few cities with price paths, saved interests, Kafka
timestamps the tests choose (so days, hours and quiet hours are known), and seeded version scores.

These build the *input*; the expected alerts come from tests/alert_oracle.py.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.auth import create_token
from pipeline.alert_keys import interest_index_keys
from tests import factories

CITIES = ((43.04, -87.91), (40.71, -74.00), (34.05, -118.24))
WORDS = ("Pizza Night", "Yoga Pass", "Spa Day", "Sushi Dinner", "Oil Change", "Wine Tasting")
SAVE = """mutation($input: InterestInput!) { saveInterest(input: $input) { id } }"""


def deal(rng: random.Random, deal_id: int) -> dict[str, Any]:
    body = factories.deal(rng, deal_id)
    if not body["online"]:
        lat, lon = rng.choice(CITIES)
        body["merchant"] = {**body["merchant"], "latitude": round(lat + rng.uniform(-0.6, 0.6), 5),
                            "longitude": round(lon + rng.uniform(-0.6, 0.6), 5)}
    body["title"] = f"{rng.choice(WORDS)} at {body['merchant']['name']}"
    return body


def later_version(rng: random.Random, raw: dict[str, Any], step: int) -> dict[str, Any]:
    """The next version: a price drop, a rise or the same price; now and then already expired."""
    updated = datetime.strptime(raw["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(hours=step)
    price = round(min(raw["value"], raw["price"] * rng.choice((0.7, 0.85, 1.0, 1.15))), 2)
    expires = factories.iso(updated - timedelta(hours=1)) if rng.random() < 0.05 else raw["expires_at"]
    return {**raw, "price": price, "discount_percentage": round((raw["value"] - price) / raw["value"], 2),
            "updated_at": factories.iso(updated), "expires_at": expires}


def deal_records(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` deals, then two rounds of later versions of a third of them, and re-crawls (repeats)."""
    rng = random.Random(seed)
    first = [deal(rng, 6_000_000 + i) for i in range(count)]
    records, current = list(first), {r["id"]: r for r in first}
    for step in (1, 2):
        for deal_id in rng.sample(sorted(current), count // 3):
            current[deal_id] = later_version(rng, current[deal_id], step)
            records.append(current[deal_id])
        records += [current[d] for d in rng.sample(sorted(current), count // 20)]  # re-crawls of a version
    return records


def interests(users: int, seed: int) -> list[dict[str, Any]]:
    """A spread of criteria over `users` users (the ones the tests save through the API)."""
    rng = random.Random(seed)
    made = []
    for user in range(1, users + 1):
        lat, lon = rng.choice(CITIES)
        made.append({"user_id": user, "category": rng.choice(("restaurants", "fitness", "dining-nightlife", None)),
                     "near": (lat, lon, rng.choice((20.0, 35.0, 50.0))), "max_price": rng.choice((None, 150.0)),
                     "delivery": "INSTANT", "max_per_day": rng.choice((None, 3, 10)),
                     "quiet_hours": rng.choice((None, (22, 6), (9, 12)))})
        made.append({"user_id": user, "category": rng.choice(("restaurants", "health-beauty", "product")),
                     "min_discount": rng.choice((0.3, 0.6)), "keywords": rng.choice(((), ("pizza",), ("spa", "day"))),
                     "delivery": rng.choice(("INSTANT", "HOURLY", "DAILY")), "max_per_day": rng.choice((None, 5))})
        if user % 3 == 0:
            made.append({"user_id": user, "category": "product", "min_verified_discount": 0.4,
                         "delivery": "INSTANT"})
    return made


def interest_rows(interests: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """INTERESTS_BY_KEY_SCHEMA rows of `interests`, one under each of their index keys."""
    rows = []
    for i in interests:
        near = i.get("near") or (None, None, None)
        quiet = i.get("quiet_hours") or (None, None)
        rows += [(key, i["user_id"], i["interest_id"], i.get("category"), i.get("max_price"), i.get("min_discount"),
                  i.get("min_verified_discount"), *near, list(i.get("keywords") or ()), i.get("delivery", "INSTANT"),
                  i.get("max_per_day"), *quiet) for key in interest_index_keys(i.get("category"), i.get("near"))]
    return rows


def as_input(interest: dict[str, Any]) -> dict[str, Any]:
    near, quiet = interest.get("near"), interest.get("quiet_hours")
    return {k: v for k, v in {
        "category": interest.get("category"), "maxPrice": interest.get("max_price"),
        "minDiscount": interest.get("min_discount"), "minVerifiedDiscount": interest.get("min_verified_discount"),
        "near": None if near is None else {"lat": near[0], "lon": near[1], "radiusKm": near[2]},
        "keywords": list(interest.get("keywords") or ()) or None, "delivery": interest.get("delivery"),
        "maxPerDay": interest.get("max_per_day"),
        "quietHours": None if quiet is None else {"startHour": quiet[0], "endHour": quiet[1]},
    }.items() if v is not None}


def save_through_api(client: TestClient, settings: Settings, wanted: list[dict[str, Any]]) -> None:
    """Save each interest with its user's token; record the id the API gave it."""
    for interest in wanted:
        token = create_token(settings, interest["user_id"])
        body = client.post("/graphql", json={"query": SAVE, "variables": {"input": as_input(interest)}},
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert "errors" not in body, body
        interest["interest_id"] = body["data"]["saveInterest"]["id"]


def stamped(records: list[dict[str, Any]], start: datetime, every: timedelta) -> list[tuple[dict[str, Any], datetime]]:
    return [(raw, start + i * every) for i, raw in enumerate(records)]


def produce_stamped(bootstrap: str, topic: str, records: list[tuple[dict[str, Any], datetime]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for raw, at in records:
            producer.send(topic, key=str(raw["id"]).encode(), value=orjson.dumps(raw),
                          timestamp_ms=int(at.timestamp() * 1000))
        producer.flush()
    finally:
        producer.close()


def seed_scores(session: Any, records: list[dict[str, Any]], seed: int) -> dict[tuple[int, datetime], float]:
    """A verified discount for every version (what the deals stream's score sink would have written)."""
    rng = random.Random(seed)
    scores = {(r["id"], datetime.strptime(r["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)):
              round(rng.uniform(0, 0.8), 4) for r in records}
    statement = session.prepare("INSERT INTO deal_score_versions (deal_id, updated_at, verified_discount_pct) "
                                "VALUES (?, ?, ?)")
    for (deal_id, updated), pct in scores.items():
        session.execute(statement, (deal_id, updated, pct))
    return scores


def consume_all(bootstrap: str, topic: str) -> Iterator[dict[str, Any]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        for message in consumer:
            yield orjson.loads(message.value)
    finally:
        consumer.close()
