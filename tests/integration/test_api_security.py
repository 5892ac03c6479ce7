"""The cost budget, accounts and tokens, personal data and client errors, against the real Cassandra.

CQL reads are counted by the API's own repository (every request it sends, each page included) while
documents go through the whole app; every bound compared against is a constant of the settings or a
number worked out by hand in the test, never what the code under test computed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import Role, create_token
from graphql_api.cursors import encode_cursor
from pipeline.taxonomy import CATEGORY_NAMES, PARENTS
from tests.conftest import SECURITY_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration import security_fixtures as seed
from tests.integration.api_client import data, gql

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
BUDGET = 1000
TEXT_NOTHING = '{a}: deals(filter: {{text: "zzz{a}"}}, first: 1) {{ nodes {{ id }} }}'


@pytest.fixture(scope="module")
def sec_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"keyspace": SECURITY_TEST_KEYSPACE, "api_max_cost": BUDGET})


@pytest.fixture(scope="module")
def day(sec_settings: Settings) -> Iterator[str]:
    with keyspace_session(sec_settings) as session:
        truncate_keyspace(session, SECURITY_TEST_KEYSPACE)
        seed.seed_deal_partitions(session, SECURITY_TEST_KEYSPACE)
        seed.seed_tied_merchants(session, SECURITY_TEST_KEYSPACE)
        yield seed.seed_people(session, SECURITY_TEST_KEYSPACE, NOW)


@pytest.fixture(scope="module")
def client(sec_settings: Settings, day: str) -> Iterator[TestClient]:
    with TestClient(create_app(sec_settings)) as test_client:
        yield test_client


def reads(client: TestClient, query: str, variables: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> tuple[dict[str, Any], int]:
    """The answer to `query` and the CQL requests the API sent to produce it."""
    repo = client.app.state.repository  # type: ignore[attr-defined]
    before = repo.requests
    response = client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json(), repo.requests - before


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def bearer(settings: Settings, user: int, role: Role = Role.USER) -> dict[str, str]:
    return {"authorization": f"Bearer {create_token(settings, user, role)}"}


# -- 1. the cost budget ----------------------------------------------------------------------------------

def test_near_a_pole_is_refused_before_any_read(client: TestClient) -> None:
    # was: 4,096 cells x 15 aliases = 61,440 reads, and the API stalled for everyone
    aliases = " ".join(f"a{i}: deals(filter: {{near: {{lat: 89.9, lon: 0, radiusKm: 50}}}}, sort: NEAREST) "
                       "{ nodes { id } }" for i in range(15))
    body, cql = reads(client, f"{{ {aliases} }}")
    assert cql == 0 and body["data"] is None  # `deals` is non-null: the first refusal ends the request
    assert body["errors"][0]["message"] == ("filter.near: a 50 km circle at latitude 89.9 covers 4096 map cells; "
                                            "at most 120: use a smaller radius")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_text_search_matching_nothing_reads_pages_sized_to_the_scan(client: TestClient) -> None:
    # was: 6-row pages to the 2,000-row bound, 340 reads per alias, 5,100 for 15
    body, cql = reads(client, "{ " + " ".join(TEXT_NOTHING.format(a=f"a{i}") for i in range(15)) + " }")
    assert "errors" not in body and all(v["nodes"] == [] for v in body["data"].values())
    # 7 partitions of 300 rows: one read of 286 rows each, then one for each partition's last 14 rows
    assert cql <= 15 * 2 * len(PARENTS) <= BUDGET


def test_category_counts_are_cached_not_recounted(client: TestClient) -> None:
    query = "{ categories { slug dealCount children { slug dealCount } } }"
    first, first_cql = reads(client, query)
    again, again_cql = reads(client, query)
    assert first == again and again_cql == 0 and first_cql <= len(CATEGORY_NAMES)
    counts = {c["slug"]: c["dealCount"] for c in first["data"]["categories"]}
    assert counts == dict.fromkeys(PARENTS, seed.DEALS_PER_PARENT)


def test_a_tied_cursor_takes_a_few_reads(client: TestClient) -> None:
    # was: pages of first + 1 rows through the ties, one read per 2 merchants
    after = encode_cursor("MERCHANTS_BY_DEALS_SOLD", seed.TIED_SOLD, 500)
    body, cql = reads(client, f'{{ merchants(category: "gym", first: 1, after: "{after}") {{ nodes {{ id }} }} }}')
    assert body["data"]["merchants"]["nodes"] == [{"id": "501"}]
    assert cql <= 9  # pages of 2, 4, ..., 512 rows reach the 501st row


def test_a_merchant_cursor_out_of_range_is_an_input_error(client: TestClient) -> None:
    after = encode_cursor("MERCHANTS_BY_DEALS_SOLD", 1e300, 1)  # was a masked 500
    error = only_error(gql(client, f'{{ merchants(category: "gym", after: "{after}") {{ nodes {{ id }} }} }}'))
    assert (error["message"], error["extensions"]["code"]) == ("after: not a cursor returned by this API",
                                                               "BAD_USER_INPUT")


def test_over_budget_is_refused_naming_budget_and_cost_without_reading(client: TestClient) -> None:
    full = 'deals(first: 100) { nodes { id description priceHistory { price } } }'
    body, cql = reads(client, "{ " + " ".join(f"a{i}: {full}" for i in range(15)) + " }")
    error = only_error(body)
    assert cql == 0 and body["data"] is None and error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"].startswith("query cost ") and f"exceeds the budget of {BUDGET}" in error["message"]


WORST_ADMITTED = [
    "{ " + " ".join(TEXT_NOTHING.format(a=f"a{i}") for i in range(15)) + " }",
    "{ " + " ".join(f"a{i}: categories {{ dealCount children {{ dealCount }} }}" for i in range(6)) + " }",
    '{ a: deals(first: 100) { nodes { id description priceHistory { price } } } '
    ' b: deals(first: 100, sort: CHEAPEST) { nodes { id finePrint } } }',
    "{ " + " ".join(f'a{i}: merchants(category: "gym", first: 100) {{ nodes {{ id liveUnitsToday }} }}'
                    for i in range(8)) + " }",
    "{ " + " ".join(f"a{i}: deals(filter: {{near: {{lat: 80, lon: {i}, radiusKm: 50}}}}, sort: NEAREST) "
                    "{ nodes { id } }" for i in range(10)) + " }",
]


@pytest.mark.parametrize("document", WORST_ADMITTED)
def test_the_worst_admitted_documents_read_within_the_budget(client: TestClient, document: str) -> None:
    body, cql = reads(client, document)
    assert "errors" not in body, body["errors"]
    assert cql <= BUDGET  # (the category counts may come from the cache: 0 reads)


# -- 3. accounts and tokens ------------------------------------------------------------------------------

VIEWER = "{ viewer { userId role purchases(first: 100) { id dealId amount } } }"


def test_viewer_is_null_without_a_token(client: TestClient) -> None:
    assert data(client, VIEWER) == {"viewer": None}


def test_a_token_of_user_a_gets_only_a_s_purchases(client: TestClient, sec_settings: Settings) -> None:
    for user, other in ((1, 2), (2, 1)):
        body, _ = reads(client, VIEWER, headers=bearer(sec_settings, user))
        viewer = body["data"]["viewer"]
        mine = sorted((r for r in seed.purchase_rows(NOW) if r[0] == user), key=lambda r: r[2], reverse=True)
        assert viewer["userId"] == str(user) and viewer["role"] == "USER"
        assert [p["id"] for p in viewer["purchases"]] == [r[3] for r in mine]
        assert not any(p["id"].startswith(f"u{other}-") for p in viewer["purchases"])


def test_no_field_takes_a_user_id(client: TestClient) -> None:
    # per-user data is reachable only through the token: no argument can name another user
    schema = data(client, "{ __schema { types { fields { args { name } } } } }")["__schema"]["types"]
    names = {a["name"] for t in schema for f in (t["fields"] or []) for a in f["args"]}
    assert not {n for n in names if "user" in n.lower()}


@pytest.mark.parametrize(("authorization", "reason"), [
    ("Bearer not-a-token", "invalid token (DecodeError)"),
    ("Basic dXNlcjpwdw==", "Authorization must be 'Bearer <token>'"),
])
def test_a_bad_token_is_refused_with_401(client: TestClient, authorization: str, reason: str) -> None:
    response = client.post("/graphql", json={"query": "{ categories { slug } }"},
                           headers={"authorization": authorization})
    assert response.status_code == 401 and reason in response.text


def test_an_expired_or_foreign_token_is_refused(client: TestClient, sec_settings: Settings) -> None:
    expired = create_token(sec_settings, 1, now=NOW.timestamp() - 10 * 86_400)
    foreign = create_token(sec_settings.model_copy(update={"api_token_secret": SecretStr("x" * 40)}), 1)
    for token, reason in ((expired, "token expired"), (foreign, "InvalidSignatureError")):
        response = client.post("/graphql", json={"query": VIEWER}, headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 401 and reason in response.text


OPERATOR_QUERY = '{{ deadLetters(day: "{day}") {{ id reason }} lateEvents(day: "{day}") {{ id latenessS }} }}'


def test_operator_fields_need_the_operator_role(client: TestClient, sec_settings: Settings, day: str) -> None:
    query = OPERATOR_QUERY.format(day=day)
    anonymous = gql(client, query)["errors"]
    assert {e["extensions"]["code"] for e in anonymous} == {"UNAUTHENTICATED"}
    user, _ = reads(client, query, headers=bearer(sec_settings, 1))
    assert {e["extensions"]["code"] for e in user["errors"]} == {"FORBIDDEN"}
    operator, _ = reads(client, query, headers=bearer(sec_settings, 9, Role.OPERATOR))
    assert operator["data"] == {
        "deadLetters": [{"id": f"deals_raw-0-{i}", "reason": "empty payload"} for i in range(2)],
        "lateEvents": [{"id": f"late-{i}", "latenessS": 300.0} for i in range(2)]}


def test_operator_day_is_validated(client: TestClient, sec_settings: Settings) -> None:
    operator = bearer(sec_settings, 9, Role.OPERATOR)
    body, cql = reads(client, '{ deadLetters(day: "2026-13-01") { id } }', headers=operator)
    assert cql == 0 and only_error(body)["message"] == "day: expected a UTC day as YYYY-MM-DD, found '2026-13-01'"


# -- 4. personal data ------------------------------------------------------------------------------------

@pytest.mark.parametrize("at", [(NOW - timedelta(days=2)).isoformat(), "0001-01-01T00:00:30+01:00",
                                "0001-01-01T00:00:30Z", "9999-12-31T23:59:59-01:00"])
def test_public_activity_reads_are_bounded_to_the_last_24h(client: TestClient, caplog: pytest.LogCaptureFixture,
                                                           at: str) -> None:
    with caplog.at_level(logging.ERROR):
        body, cql = reads(client, f'{{ purchaseFeed(at: "{at}") {{ id buyer }} }}')
    error = only_error(body)
    assert cql == 0 and error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("at: must be within the last 24 h")
    assert not [r for r in caplog.records if r.exc_info]  # a client mistake logs no traceback


@pytest.mark.parametrize("field", [
    "trending(at: $at) { slug }", "salesTimeline(at: $at) { at }",
    "topSellers(category: \"restaurants\", at: $at) { name }",
    "activityMap(bbox: {south: 24, west: -125, north: 50, east: -66}, at: $at) { hour }"])
def test_every_public_activity_read_is_bounded_to_the_last_24h(client: TestClient, field: str) -> None:
    query = f"query($at: DateTime) {{ {field} }}"
    body, cql = reads(client, query, variables={"at": (NOW - timedelta(days=2)).isoformat()})
    error = only_error(body)
    assert cql == 0 and error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("at: must be within the last 24 h")


def test_public_activity_tables_have_the_ttl_of_the_settings(sec_settings: Settings, day: str) -> None:
    with keyspace_session(sec_settings) as session:
        rows = session.execute("SELECT table_name, default_time_to_live FROM system_schema.tables "
                               "WHERE keyspace_name = %s", (SECURITY_TEST_KEYSPACE,))
        ttl = {r.table_name: r.default_time_to_live for r in rows}
    public = ("purchases_by_minute", "trending_categories_by_bucket", "sales_by_second", "activity_by_cell",
              "merchant_sales_by_category")
    assert {t: ttl[t] for t in public} == dict.fromkeys(public, 7 * 86_400)


# -- 6. errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "variables", "code", "message"), [
    ("query($n: Int!) { deals(first: $n) { nodes { id } } }", {"n": 2**40}, "BAD_USER_INPUT",
     "Variable '$n' has invalid value: Int cannot represent non 32-bit signed integer value: 1099511627776"),
    ("query($p: Float) { deals(filter: {minPrice: $p}) { nodes { id } } }", {"p": "NaN"}, "BAD_USER_INPUT",
     "Variable '$p' has invalid value: Float cannot represent non numeric value: 'NaN'"),
    ("{ deal(id: ", None, "GRAPHQL_PARSE_FAILED", "Syntax Error: Unexpected <EOF>."),
    ("{ categories { " + "slug " * 2500 + "} }", None, "GRAPHQL_PARSE_FAILED",
     "Syntax Error: Document contains more than 2000 tokens. Parsing aborted."),
    ("{ " + " ".join(f'a{i}: deal(id: "{i + 1}") {{ id }}' for i in range(16)) + " }", None,
     "GRAPHQL_VALIDATION_FAILED", "16 aliases found. Allowed: 15"),
])
def test_client_mistakes_get_their_code_and_no_traceback(client: TestClient, caplog: pytest.LogCaptureFixture,
                                                         query: str, variables: Any, code: str, message: str) -> None:
    with caplog.at_level(logging.ERROR):
        error = only_error(gql(client, query, variables))
    assert (error["message"], error["extensions"]["code"]) == (message, code)
    assert not [r for r in caplog.records if r.exc_info]


def test_production_drops_field_suggestions(sec_settings: Settings, day: str) -> None:
    production = sec_settings.model_copy(update={"api_profile": "production"})
    with TestClient(create_app(production)) as prod:
        error = only_error(gql(prod, "{ deals { nodes { titl } } }"))
    assert error["message"] == "Cannot query field 'titl' on type 'Deal'."


def test_dev_keeps_field_suggestions(client: TestClient) -> None:
    error = only_error(gql(client, "{ deals { nodes { titl } } }"))
    assert error["message"] == "Cannot query field 'titl' on type 'Deal'. Did you mean 'title'?"


def test_a_body_over_the_byte_limit_is_413(client: TestClient, sec_settings: Settings) -> None:
    literal = "x" * (sec_settings.api_max_body_bytes + 1)  # one token: only a byte limit stops it
    response = client.post("/graphql", json={"query": f'{{ deal(id: "{literal}") {{ id }} }}'})
    assert response.status_code == 413


def test_health_says_up_without_versions(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "up"})
