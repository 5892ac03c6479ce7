"""Seeding for the API security tests: plain CQL into their own keyspace (no Spark needed).

The rows are shaped to provoke the worst cases the issue measured: partitions of 300 deals in every
top-level category (a text search that matches nothing scans 2,000 rows), 1,000 merchants tied on
units sold (a tied cursor), purchase histories of two users, and one day of dead letters and late events.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.concurrent import execute_concurrent_with_args

from pipeline.taxonomy import PARENTS

DEALS_PER_PARENT = 300
TIED_MERCHANTS = 1000
TIED_SOLD = 5
USERS = (1, 2)
PURCHASES_PER_USER = 3


def _run(session: Any, cql: str, rows: list[tuple[Any, ...]]) -> None:
    execute_concurrent_with_args(session, session.prepare(cql), rows, concurrency=64, raise_on_first_error=True)


def seed_deal_partitions(session: Any, keyspace: str) -> None:
    listing = [(parent, round(0.05 + i / 1000, 4), 8_000_000 + p * 1000 + i, 10.0 + i, 100.0 + i, f"Offer {i}",
                f"Shop {i % 9}", False)
               for p, parent in enumerate(PARENTS) for i in range(DEALS_PER_PARENT)]
    for table, order in (("deals_by_category_discount", "discount_pct"), ("deals_by_category_price", "price")):
        rows = listing if order == "discount_pct" else [(r[0], r[3], r[2], r[1], r[4], r[5], r[6], r[7])
                                                        for r in listing]
        second = "price" if order == "discount_pct" else "discount_pct"
        _run(session, f"INSERT INTO {keyspace}.{table} (category_slug, {order}, deal_id, {second}, value, title, "
                      "merchant_name, online) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def seed_tied_merchants(session: Any, keyspace: str) -> None:
    _run(session, f"INSERT INTO {keyspace}.merchants_by_category (category_slug, deals_sold, merchant_id, "
                  "merchant_name, deal_count) VALUES (?, ?, ?, ?, ?)",
         [("gym", TIED_SOLD, m, f"Gym {m}", 1) for m in range(1, TIED_MERCHANTS + 1)])


def purchase_rows(now: datetime) -> list[tuple[Any, ...]]:
    """(user_id, month, occurred_at, event_id, deal_id, title, slug, merchant, quantity, price, amount)."""
    rows = []
    for user in USERS:
        for i in range(PURCHASES_PER_USER):
            at = (now - timedelta(minutes=10 * i + user)).replace(microsecond=0, tzinfo=None)
            rows.append((user, at.strftime("%Y-%m"), at, f"u{user}-e{i}", 100 + i, f"Deal {i}", "yoga", 7,
                         1, 9.5, 9.5))
    return rows


def seed_people(session: Any, keyspace: str, now: datetime) -> str:
    """Purchase histories of USERS, and today's dead letters and late events; returns the UTC day."""
    _run(session, f"INSERT INTO {keyspace}.purchases_by_user (user_id, month, occurred_at, event_id, deal_id, "
                  "deal_title, category_slug, merchant_id, quantity, price, amount) VALUES "
                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", purchase_rows(now))
    day, at = now.strftime("%Y-%m-%d"), now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    _run(session, f"INSERT INTO {keyspace}.dead_letters_by_day (day, received_at, dead_letter_id, reason, "
                  "raw_payload, source) VALUES (?, ?, ?, ?, ?, ?)",
         [(day, at, f"deals_raw-0-{i}", "empty payload", "", "deals_raw") for i in range(2)])
    _run(session, f"INSERT INTO {keyspace}.late_events_by_day (day, received_at, event_id, occurred_at, lateness_s, "
                  "event_type, category_slug, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
         [(day, at, f"late-{i}", at - timedelta(minutes=5), 300.0, "view", "yoga", 1) for i in range(2)])
    return day
