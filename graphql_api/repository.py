"""The one module of the API that speaks CQL: statements prepared once, awaited without blocking.

Every read is a single-partition query on the full partition key, bound from prepared statements
(no CQL is ever built from request values). `Repository.start()` runs in the Starlette lifespan; if
Cassandra is down then, the API still starts, answers `StoreUnavailable`, and keeps reconnecting.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cassandra import ConsistencyLevel, DriverException, OperationTimedOut, RequestExecutionException
from cassandra.cluster import Cluster, NoHostAvailable, ResponseFuture, Session
from cassandra.connection import ConnectionException
from cassandra.query import UNSET_VALUE, PreparedStatement, dict_factory

from conf.clients import cassandra_cluster
from conf.settings import Settings
from graphql_api.errors import StoreUnavailable

log = logging.getLogger(__name__)

Row = dict[str, Any]  # as `dict_factory` builds it; the search adds derived fields (online, distance_km)
#: Driver errors that mean "Cassandra is not answering now", as opposed to a bug in a statement.
UNAVAILABLE_ERRORS = (NoHostAvailable, OperationTimedOut, RequestExecutionException, ConnectionException)
RECONNECT_EVERY_S = 2.0
#: Partition keys per `IN` read of `Repository.rows_by_key` (a page holds at most 100 deals).
KEYS_PER_READ = 100
_LISTING = "deal_id, price, value, discount_pct, title, short_title, merchant_name, image_url, expires_at"
#: The score columns every verified-sort listing row carries (so a page needs no second read).
_SCORED = ("verified_discount_pct, verified_saving, reference_price, reference_kind, advertised_discount_pct, "
           "flags, is_genuine, explanation")
#: The columns of every rating row (issue 18).
_RATED = "reviews, stars, mean, distribution, unverified_reviews"
_INTEREST = ("user_id, interest_id, category, max_price, min_discount, min_verified_discount, near_lat, near_lon, "
             "near_radius_km, keywords, delivery, max_per_day, quiet_start_hour, quiet_end_hour")
_ALERT = ("user_id, deliver_at, alert_id, interest_id, deal_id, deal_updated_at, alert_at, kind, reason, delivery, "
          "digest_id, title, price, previous_price, discount_pct, category_slug, merchant_name, distance_km")
_STATEMENTS = {
    "deals": "SELECT * FROM {ks}.deals_by_id WHERE deal_id IN ?",  # a DataLoader's keys: see `rows_by_key`
    "price_history": "SELECT deal_id, observed_at, price, value, discount_pct FROM {ks}.price_history_by_deal "
                     "WHERE deal_id = ? LIMIT ?",
    "by_discount": f"SELECT {_LISTING}, online FROM {{ks}}.deals_by_category_discount "
                   "WHERE category_slug = ? AND discount_pct >= ? AND discount_pct <= ?",
    "by_price": f"SELECT {_LISTING}, online FROM {{ks}}.deals_by_category_price "
                "WHERE category_slug = ? AND price >= ? AND price <= ?",
    "online_by_discount": f"SELECT {_LISTING}, category_slug FROM {{ks}}.online_deals_by_category "
                          "WHERE parent_category = ? AND discount_pct >= ? AND discount_pct <= ?",
    "by_geocell": f"SELECT {_LISTING}, category_slug, latitude, longitude FROM {{ks}}.deals_by_geocell "
                  "WHERE geocell = ? LIMIT ?",
    "merchants": "SELECT merchant_id, merchant_name, deals_sold, deal_count FROM {ks}.merchants_by_category "
                 "WHERE category_slug = ? AND deals_sold <= ?",
    "category_ids": "SELECT deal_id FROM {ks}.deals_by_category_discount WHERE category_slug = ? LIMIT ?",
    "ping": "SELECT release_version FROM system.local",
    # deal scores (issue 12): each a single partition of a score table
    "scores": "SELECT * FROM {ks}.deal_scores_by_id WHERE deal_id IN ?",
    "offer_prices": "SELECT deal_id, observed_at, price, value, merchant_name, provider_name "
                    "FROM {ks}.offer_prices_by_item WHERE item_key = ? LIMIT ?",
    "by_verified_discount": f"SELECT {_LISTING}, online, {_SCORED} FROM {{ks}}.deals_by_category_verified_discount "
                            "WHERE category_slug = ? AND verified_discount_pct >= ? AND verified_discount_pct <= ?",
    "by_verified_saving": f"SELECT {_LISTING}, online, {_SCORED} FROM {{ks}}.deals_by_category_verified_saving "
                          "WHERE category_slug = ? AND verified_saving <= ?",
    "merchant_honesty": "SELECT merchant_id, merchant_name, scored_deals, honest_share, verified_share, "
                        "inflation_incidents, deals_sold FROM {ks}.merchant_honesty_by_category "
                        "WHERE category_slug = ? LIMIT ?",
    # user activity (issue 6): every read is one window's partition
    "trend_bucket": "SELECT category_slug, parent_category, views, clicks, purchases, reviews, score "
                    "FROM {ks}.trending_categories_by_bucket WHERE bucket_seconds = ? AND bucket_start = ?",
    "sales_minute": "SELECT second, purchases, units, revenue FROM {ks}.sales_by_second WHERE minute = ?",
    "purchases_minute": "SELECT occurred_at, event_id, user_name, user_city, deal_id, deal_title, category_slug, "
                        "merchant_name, quantity, price, amount FROM {ks}.purchases_by_minute "
                        "WHERE minute = ? LIMIT ?",
    "activity_cells": "SELECT cell, users, events, purchases FROM {ks}.activity_by_cell "
                      "WHERE precision = ? AND region = ? AND hour = ?",
    "merchant_sales": "SELECT merchant_id, merchant_name, purchases, units, revenue "
                      "FROM {ks}.merchant_sales_by_category WHERE category_slug = ? AND day = ?",
    # per-user and operator reads (issue 11): only ever bound from the token's user or an operator's day
    "user_purchases": "SELECT occurred_at, event_id, deal_id, deal_title, category_slug, merchant_name, quantity, "
                      "price, amount FROM {ks}.purchases_by_user WHERE user_id = ? AND month = ? LIMIT ?",
    "dead_letters": "SELECT received_at, dead_letter_id, reason, raw_payload, source FROM {ks}.dead_letters_by_day "
                    "WHERE day = ? LIMIT ?",
    "late_events": "SELECT received_at, event_id, occurred_at, lateness_s, event_type, category_slug, user_id "
                   "FROM {ks}.late_events_by_day WHERE day = ? LIMIT ?",
    # recommendations (issue 13): a user's stored lists (bound from the token's user only), an area's popular deals
    "recommendations": "SELECT trained_at, rank, deal_id, score, reason, price, home_latitude, home_longitude "
                       "FROM {ks}.recommendations_by_user WHERE user_id = ? LIMIT ?",
    "popular_in_area": "SELECT trained_at, rank, deal_id, score, price, latitude, longitude "
                       "FROM {ks}.popular_deals_by_area WHERE area = ? LIMIT ?",
    # reviews (issue 18): each a single partition of a review table
    "deal_ratings": f"SELECT deal_id, category_slug, {_RATED} FROM {{ks}}.ratings_by_deal WHERE deal_id IN ?",
    "merchant_ratings": f"SELECT merchant_id, {_RATED} FROM {{ks}}.ratings_by_merchant WHERE merchant_id IN ?",
    "rating_prior": "SELECT category_slug, reviews, stars FROM {ks}.rating_priors_by_category WHERE category_slug = ?",
    "category_deal_ratings": f"SELECT deal_id, deal_category, {_RATED} FROM {{ks}}.deal_ratings_by_category "
                             "WHERE category_slug = ? LIMIT ?",
    "category_merchant_ratings": f"SELECT merchant_id, merchant_name, rated_deals, {_RATED} "
                                 "FROM {ks}.merchant_ratings_by_category WHERE category_slug = ? LIMIT ?",
    "deal_reviews": "SELECT occurred_at, user_id, event_id, rating, review_text, user_name, verified "
                    "FROM {ks}.review_feed_by_deal WHERE deal_id = ? AND occurred_at <= ? LIMIT ?",
    "merchant_reviews": "SELECT occurred_at, deal_id, user_id, event_id, rating, review_text, user_name, verified, "
                        "deal_title FROM {ks}.review_feed_by_merchant WHERE merchant_id = ? LIMIT ?",
    "cell_ratings": "SELECT cell, reviews, average_rating FROM {ks}.ratings_by_cell "
                    "WHERE precision = ? AND region = ? AND hour = ?",
    # interest alerts (issue 14): per user, bound from the token's user only
    **{name: cql for name, cql in (
        ("interests_of_user", f"SELECT {_INTEREST}, index_keys, saved_at FROM {{ks}}.interests_by_user "
                              "WHERE user_id = ? LIMIT ?"),
        ("save_interest", f"INSERT INTO {{ks}}.interests_by_user ({_INTEREST}, index_keys, saved_at) "
                          f"VALUES ({', '.join('?' * (_INTEREST.count(',') + 3))})"),
        ("file_interest", f"INSERT INTO {{ks}}.interests_by_key (index_key, {_INTEREST}) "
                          f"VALUES ({', '.join('?' * (_INTEREST.count(',') + 2))})"),
        ("drop_interest", "DELETE FROM {ks}.interests_by_user WHERE user_id = ? AND interest_id = ?"),
        ("unfile_interest", "DELETE FROM {ks}.interests_by_key "
                            "WHERE index_key = ? AND user_id = ? AND interest_id = ?"),
        ("bump_interests", "UPDATE {ks}.interest_index_version SET version = now() WHERE scope = 'all'"),
        ("alerts_until", f"SELECT {_ALERT} FROM {{ks}}.alerts_by_user WHERE user_id = ? AND deliver_at <= ? LIMIT ?"),
        ("alerts_between", f"SELECT {_ALERT} FROM {{ks}}.alerts_by_user "
                           "WHERE user_id = ? AND deliver_at >= ? AND deliver_at <= ?"),
        ("save_webhook", "INSERT INTO {ks}.webhooks_by_user (user_id, url, secret, saved_at) VALUES (?, ?, ?, ?)"),
        ("drop_webhook", "DELETE FROM {ks}.webhooks_by_user WHERE user_id = ?"),
    )},
}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows and the driver's paging state for the next one (None when done)."""

    rows: list[Row]
    paging_state: bytes | None


class Repository:
    """Prepared statements over one driver session, with async methods for the resolvers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests = 0  # CQL requests sent (each page counts): tests and the bench read it
        self._cluster: Cluster | None = None
        self._session: Session | None = None
        self._prepared: dict[str, PreparedStatement] = {}
        self._reconnect: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._session is not None

    async def start(self) -> None:
        """Connect and prepare; when Cassandra is down, keep retrying in the background."""
        if not await self._try_connect():
            self._reconnect = asyncio.create_task(self._reconnect_loop(), name="cassandra-reconnect")

    async def close(self) -> None:
        if self._reconnect is not None:
            self._reconnect.cancel()
        if self._cluster is not None:
            await asyncio.to_thread(self._cluster.shutdown)
        self._cluster = self._session = None

    async def _reconnect_loop(self) -> None:
        while not await self._try_connect():
            await asyncio.sleep(RECONNECT_EVERY_S)

    async def _try_connect(self) -> bool:
        try:
            self._cluster, self._session, self._prepared = await asyncio.to_thread(self._connect)
        except (DriverException, NoHostAvailable, OSError) as exc:
            log.warning("Cassandra at %s:%d unavailable (%s); API serving errors until it answers",
                        self.settings.cassandra_host, self.settings.cassandra_port, exc)
            return False
        log.info("connected to Cassandra %s:%d, keyspace %s, %d statements prepared",
                 self.settings.cassandra_host, self.settings.cassandra_port, self.settings.keyspace,
                 len(self._prepared))
        return True

    def _connect(self) -> tuple[Cluster, Session, dict[str, PreparedStatement]]:
        cluster = cassandra_cluster(self.settings)  # reconnects within 10 s of a node's return
        try:
            session = cluster.connect()
            # cassandra_cluster sets a load balancing policy, which puts the driver in legacy (non-profile)
            # mode: consistency, timeout and row factory are therefore set on the session.
            session.row_factory = dict_factory
            session.default_timeout = self.settings.api_cql_timeout_s
            prepared = {name: session.prepare(cql.format(ks=self.settings.keyspace))
                        for name, cql in _STATEMENTS.items()}
            for statement in prepared.values():
                statement.consistency_level = ConsistencyLevel.LOCAL_ONE
        except BaseException:
            cluster.shutdown()
            raise
        return cluster, session, prepared

    # -- the ResponseFuture -> asyncio bridge ----------------------------------------------------

    async def _execute(self, name: str, values: Sequence[Any], *, fetch_size: int | None = None,
                       paging_state: bytes | None = None) -> Page:
        session = self._session
        if session is None:
            raise StoreUnavailable("not connected yet")
        bound = self._prepared[name].bind(values)
        bound.fetch_size = fetch_size
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Page] = loop.create_future()
        self.requests += 1
        try:
            future = session.execute_async(bound, paging_state=paging_state)
        except UNAVAILABLE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        future.add_callbacks(_on_rows, _on_error, callback_args=(loop, waiter, future),
                             errback_args=(loop, waiter))
        try:
            return await waiter
        except UNAVAILABLE_ERRORS as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    # -- typed reads ----------------------------------------------------------------------------

    async def ping(self) -> str:
        """Cassandra's release version; raises StoreUnavailable when it does not answer."""
        page = await self._execute("ping", ())
        return str(page.rows[0]["release_version"])

    async def deals(self, deal_ids: Sequence[int]) -> list[Row | None]:
        """Deals by id, in the order of `deal_ids` (None: no such deal)."""
        return await self.rows_by_key("deals", "deal_id", deal_ids)

    async def rows_by_key(self, name: str, key: str, keys: Sequence[Any]) -> list[Row | None]:
        """The rows of a one-row-per-partition table for `keys` (`key IN ?` reads of up to KEYS_PER_READ
        keys), in the order of `keys`. A page of 20 deals' scores was 20 requests; one read costs the
        worker's CPU (the driver's Python per request) far less, and Cassandra the same partition reads."""
        pages = await asyncio.gather(*(self._execute(name, (list(keys[i:i + KEYS_PER_READ]),))
                                       for i in range(0, len(keys), KEYS_PER_READ)))
        found = {row[key]: row for page in pages for row in page.rows}
        return [found.get(k) for k in keys]

    async def price_history(self, deal_id: int, *, limit: int) -> list[Row]:
        """Observed prices of a deal, newest first."""
        return (await self._execute("price_history", (deal_id, limit))).rows

    async def deals_by_category_discount(self, category: str, low: float, high: float, *, page_size: int,
                                         paging_state: bytes | None = None) -> Page:
        """Listing rows with `low <= discount_pct <= high`, best discount first, then deal id."""
        return await self._execute("by_discount", (category, low, high), fetch_size=page_size,
                                   paging_state=paging_state)

    async def deals_by_category_price(self, category: str, low: float, high: float, *, page_size: int,
                                      paging_state: bytes | None = None) -> Page:
        """Listing rows with `low <= price <= high`, cheapest first, then deal id."""
        return await self._execute("by_price", (category, low, high), fetch_size=page_size,
                                   paging_state=paging_state)

    async def online_deals_by_category(self, parent: str, low: float, high: float, *, page_size: int,
                                       paging_state: bytes | None = None) -> Page:
        """Online deals of a top-level category with `low <= discount_pct <= high`, best first."""
        return await self._execute("online_by_discount", (parent, low, high), fetch_size=page_size,
                                   paging_state=paging_state)

    async def deals_by_geocell(self, geocell: str, *, limit: int) -> list[Row]:
        """Deals of one geohash-4 cell (at most `limit`)."""
        return (await self._execute("by_geocell", (geocell, limit), fetch_size=limit)).rows

    async def merchants_by_category(self, category: str, max_sold: int, *, page_size: int,
                                    paging_state: bytes | None = None) -> Page:
        """Merchant ranking rows with `deals_sold <= max_sold`, best seller first."""
        return await self._execute("merchants", (category, max_sold), fetch_size=page_size,
                                   paging_state=paging_state)

    async def count_category_deals(self, category: str, *, cap: int) -> int:
        """Deals listed under a category, counting at most `cap` rows of its partition."""
        page = await self._execute("category_ids", (category, cap), fetch_size=cap)
        return len(page.rows)

    # -- user activity (issue 6) ----------------------------------------------------------------

    async def trend_bucket(self, bucket_seconds: int, bucket_start: datetime) -> list[Row]:
        """Per-category counts of one trending bucket (at most one row per category)."""
        return (await self._execute("trend_bucket", (bucket_seconds, bucket_start))).rows

    async def sales_minute(self, minute: datetime) -> list[Row]:
        """Sales of each second of one minute, newest first."""
        return (await self._execute("sales_minute", (minute,))).rows

    async def purchases_minute(self, minute: datetime, *, limit: int) -> list[Row]:
        """The newest `limit` purchases of one minute, newest first."""
        return (await self._execute("purchases_minute", (minute, limit), fetch_size=limit)).rows

    async def activity_cells(self, precision: int, region: str, hour: datetime) -> list[Row]:
        """Map cells of one precision, region and hour (only cells over the anonymity floor exist)."""
        return (await self._execute("activity_cells", (precision, region, hour))).rows

    async def merchant_sales(self, category: str, day: str) -> list[Row]:
        """Live sales per merchant and hour of one category and UTC day."""
        return (await self._execute("merchant_sales", (category, day))).rows


    # -- per user and operators (issue 11) ------------------------------------------------------

    async def user_purchases(self, user_id: int, month: str, *, limit: int) -> list[Row]:
        """One user's purchases of one month (`YYYY-MM`), newest first."""
        return (await self._execute("user_purchases", (user_id, month, limit), fetch_size=limit)).rows

    async def dead_letters(self, day: str, *, limit: int) -> list[Row]:
        """Malformed records received on one UTC day, newest first."""
        return (await self._execute("dead_letters", (day, limit), fetch_size=limit)).rows

    async def late_events(self, day: str, *, limit: int) -> list[Row]:
        """Events received on one UTC day later than the allowed lateness, newest first."""
        return (await self._execute("late_events", (day, limit), fetch_size=limit)).rows


    # -- deal scores (issue 12) -----------------------------------------------------------------

    async def scores(self, deal_ids: Sequence[int]) -> list[Row | None]:
        """The scores of deals' newest versions, in the order of `deal_ids`."""
        return await self.rows_by_key("scores", "deal_id", deal_ids)

    async def offer_prices(self, item_key: str, *, limit: int) -> list[Row]:
        """Observed prices of every seller of one item (by deal, newest first within a deal)."""
        return (await self._execute("offer_prices", (item_key, limit), fetch_size=limit)).rows

    async def deals_by_category_verified_discount(self, category: str, low: float, high: float, *, page_size: int,
                                                  paging_state: bytes | None = None) -> Page:
        """Listing rows with `low <= verified_discount_pct <= high`, best verified discount first."""
        return await self._execute("by_verified_discount", (category, low, high), fetch_size=page_size,
                                   paging_state=paging_state)

    async def deals_by_category_verified_saving(self, category: str, high: float, *, page_size: int,
                                                paging_state: bytes | None = None) -> Page:
        """Listing rows with `verified_saving <= high`, biggest verified saving first."""
        return await self._execute("by_verified_saving", (category, high), fetch_size=page_size,
                                   paging_state=paging_state)

    async def merchant_honesty(self, category: str, *, limit: int) -> list[Row]:
        """Honesty rows of a category's merchants (at most `limit`)."""
        return (await self._execute("merchant_honesty", (category, limit), fetch_size=limit)).rows

    # -- recommendations (issue 13) -------------------------------------------------------------

    async def recommendations(self, user_id: int, *, limit: int) -> list[Row]:
        """A user's stored recommendations, newest training first, best first within one."""
        return (await self._execute("recommendations", (user_id, limit), fetch_size=limit)).rows

    async def popular_in_area(self, area: str, *, limit: int) -> list[Row]:
        """The popular deals of one geohash-3 area, newest training first, best first within one."""
        return (await self._execute("popular_in_area", (area, limit), fetch_size=limit)).rows
    # -- reviews (issue 18) ---------------------------------------------------------------------

    async def deal_ratings(self, deal_ids: Sequence[int]) -> list[Row | None]:
        return await self.rows_by_key("deal_ratings", "deal_id", deal_ids)

    async def merchant_ratings(self, merchant_ids: Sequence[int]) -> list[Row | None]:
        return await self.rows_by_key("merchant_ratings", "merchant_id", merchant_ids)

    async def rating_prior(self, category: str) -> Row | None:
        """Every verified review of a category's deals (reviews, stars): the prior of its ratings."""
        rows = (await self._execute("rating_prior", (category,))).rows
        return rows[0] if rows else None

    async def category_deal_ratings(self, category: str, *, limit: int) -> list[Row]:
        """Rating rows of a category's rated deals (at most `limit`)."""
        return (await self._execute("category_deal_ratings", (category, limit), fetch_size=limit)).rows

    async def category_merchant_ratings(self, category: str, *, limit: int) -> list[Row]:
        """Rating rows of a category's rated merchants (at most `limit`)."""
        return (await self._execute("category_merchant_ratings", (category, limit), fetch_size=limit)).rows

    async def deal_reviews(self, deal_id: int, newest: datetime, *, limit: int) -> list[Row]:
        """A deal's reviews written at or before `newest`, newest first."""
        return (await self._execute("deal_reviews", (deal_id, newest, limit), fetch_size=limit)).rows

    async def merchant_reviews(self, merchant_id: int, *, limit: int) -> list[Row]:
        """The newest reviews of all a merchant's deals (one per user and deal), newest first."""
        return (await self._execute("merchant_reviews", (merchant_id, limit), fetch_size=limit)).rows

    async def cell_ratings(self, precision: int, region: str, hour: datetime) -> list[Row]:
        """Average stars per map cell of one precision, region and hour (cells over the floor only)."""
        return (await self._execute("cell_ratings", (precision, region, hour))).rows
    # -- interest alerts (issue 14) --------------------------------------------------------------

    async def interests(self, user_id: int, *, limit: int) -> list[Row]:
        """One user's saved interests (at most `limit`)."""
        return (await self._execute("interests_of_user", (user_id, limit), fetch_size=limit)).rows

    async def save_interest(self, interest: Sequence[Any], index_keys: Sequence[str],
                            previous_keys: Sequence[str] | None, saved_at: datetime) -> None:
        """File the interest under its keys, unfile it from the keys its previous version (filed under
        `previous_keys`; None for a new interest) had and it left, store it, then bump the version (the
        matcher re-reads after the bump, so it never sees the bump without the rows).

        A row written for the first time leaves its absent criteria unwritten (`unset_absent`); a row
        that replaces one of the previous version binds them as nulls, which clear what it had set."""
        user_id, interest_id = interest[0], interest[1]
        previous, first_write = set(previous_keys or ()), unset_absent(interest)
        left = sorted(previous - set(index_keys))
        await asyncio.gather(
            *(self._execute("file_interest", (key, *(interest if key in previous else first_write)))
              for key in index_keys),
            *(self._execute("unfile_interest", (key, user_id, interest_id)) for key in left))
        stored = interest if previous_keys is not None else first_write
        await self._execute("save_interest", (*stored, list(index_keys), saved_at))
        await self._execute("bump_interests", ())

    async def delete_interest(self, user_id: int, interest_id: str, index_keys: Sequence[str]) -> None:
        await asyncio.gather(*(self._execute("unfile_interest", (key, user_id, interest_id)) for key in index_keys))
        await self._execute("drop_interest", (user_id, interest_id))
        await self._execute("bump_interests", ())

    async def alerts_until(self, user_id: int, until: datetime, *, limit: int) -> list[Row]:
        """One user's alerts delivered at or before `until`, newest first (at most `limit`)."""
        return (await self._execute("alerts_until", (user_id, until, limit), fetch_size=limit)).rows

    async def set_webhook(self, user_id: int, url: str | None, secret: str | None, saved_at: datetime) -> None:
        if url is None:
            await self._execute("drop_webhook", (user_id,))
        else:
            await self._execute("save_webhook", (user_id, url, secret, saved_at))

    async def alerts_between(self, user_id: int, since: datetime, until: datetime) -> list[Row]:
        """One user's alerts delivered in [since, until], newest first."""
        return (await self._execute("alerts_between", (user_id, since, until))).rows


def unset_absent(values: Sequence[Any]) -> tuple[Any, ...]:
    """The values to bind for a new row, its absent ones (None) as UNSET: left unwritten.

    A bound null writes a tombstone cell (an interest of a category and a price alone wrote nine), and
    the alerts matcher reads whole `interests_by_key` partitions: bench.alerts' 100k interests, filed
    with nulls, had reads meet 12,219 tombstone cells beside 5,000 rows. Cassandra warns from 1,000 and
    fails a read at 100,000, so about 11,000 interests under one key would have stopped the matcher."""
    return tuple(UNSET_VALUE if value is None else value for value in values)


def _on_rows(_rows: object, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Page],
             future: ResponseFuture) -> None:
    """Driver thread: hand the finished page to the event loop."""
    result = future.result()  # already complete: returns at once
    page = Page(list(result.current_rows), result.paging_state)
    loop.call_soon_threadsafe(_settle, waiter, page)


def _on_error(exc: BaseException, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Page]) -> None:
    loop.call_soon_threadsafe(_settle, waiter, exc)


def _settle(waiter: asyncio.Future[Page], outcome: Page | BaseException) -> None:
    if waiter.done():  # the request was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        waiter.set_exception(outcome)
    else:
        waiter.set_result(outcome)
