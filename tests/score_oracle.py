"""An independent plain-Python statement of the deal score (pipeline/deal_scores.py's docstring).

Written from the documented rule, not from the Spark code: unit tests compare whole score frames
with what this returns for the same small fixtures.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline import score_rules as sr
from tests.expected import round_half_up

DAY = timedelta(days=1)


def _median_cents(cents: list[int]) -> int:
    ordered, n = sorted(cents), len(cents)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2] + 1) // 2


def _market(v: dict[str, Any], offers: list[dict[str, Any]], rules: sr.ScoreRules) -> list[int] | None:
    """Cents of the other sellers' best last-known prices, sorted; None when too few sellers."""
    last: dict[int, dict[str, Any]] = {}
    for o in offers:
        if v["item_key"] is None or o["item_key"] != v["item_key"] or o["deal_id"] == v["deal_id"]:
            continue
        if v["merchant_id"] is not None and o["merchant_id"] == v["merchant_id"]:
            continue
        at, when = o["observed_at"], v["updated_at"]
        if at > when or when - at > sr.MARKET_FRESH_DAYS * DAY or (o["expires_at"] and o["expires_at"] <= when):
            continue
        if o["deal_id"] not in last or at > last[o["deal_id"]]["observed_at"]:
            last[o["deal_id"]] = o
    best: dict[int, float] = {}
    for o in last.values():
        seller = o["merchant_id"] if o["merchant_id"] is not None else -o["deal_id"]
        best[seller] = min(best.get(seller, float("inf")), o["price"])
    cents = sorted(round(p * 100) for p in best.values())
    return cents if len(cents) >= rules.min_other_sellers else None


def _pct(x: float) -> str:
    return f"{int(round_half_up(x * 100, 0))}%"


def _explain(s: dict[str, Any]) -> str:
    kind = s["reference_kind"]
    if kind == sr.PRIOR_30_DAY_LOW:
        evidence = f"its lowest price in the prior 30 days was ${s['prior_low_30d']:.2f}"
    elif kind in (sr.STREET_PRICE, sr.AREA_COMPARABLE):
        what = "other sellers offer it for" if kind == sr.STREET_PRICE else "comparable offers nearby cost"
        evidence = f"{s['market_sellers']} {what} ${s['market_low']:.2f}–${s['market_high']:.2f}"
    else:
        evidence = "there is no price history or other seller to check it against"
    verified, advertised = _pct(s["verified_discount_pct"]), _pct(s["advertised_discount_pct"])
    if kind == sr.CLAIMED_VALUE:
        conclusion = f"the {advertised} discount is unverified."
    elif s["is_genuine"] and verified == advertised:
        conclusion = f"the {verified} discount is genuine."
    elif s["is_genuine"]:
        conclusion = f"the real discount is {verified} (advertised {advertised}), close enough to be genuine."
    else:
        conclusion = f"the real discount is {verified}, not {advertised}."
    return f"The merchant claims ${s['value']:.2f}; {evidence}; {conclusion}"


def _history(v: dict[str, Any], observations: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """(age in seconds, observation) of the deal's observations strictly before the version."""
    return [((v["updated_at"] - o["observed_at"]).total_seconds(), o) for o in observations
            if o["deal_id"] == v["deal_id"] and o["observed_at"] < v["updated_at"]]


def _perpetual(v: dict[str, Any], prior: list[tuple[float, dict[str, Any]]], rules: sr.ScoreRules) -> bool:
    window = rules.perpetual_days * DAY.total_seconds()
    recent = [o["price"] for a, o in prior if a <= window]
    return bool(prior and max(a for a, _ in prior) >= window and recent and max(recent) <= v["price"]
                and v["discount_pct"] > rules.verdict_tolerance)


def _flags(v: dict[str, Any], s: dict[str, Any], prior: list[tuple[float, dict[str, Any]]],
           rules: sr.ScoreRules) -> list[str]:
    price, day = v["price"], DAY.total_seconds()
    low_90 = min((o["price"] for a, o in prior if a <= sr.LOW_WINDOW_DAYS * day), default=None)
    flags = []
    if s["market_price"] is not None and v["value"] > s["market_price"] * rules.inflation_ratio:
        flags.append(sr.INFLATED_VALUE)
    if prior:
        previous = max(prior, key=lambda p: p[1]["observed_at"])[1]["price"]
        if price < previous and s["prior_low_30d"] is not None and price >= s["prior_low_30d"]:
            flags.append(sr.RAISED_BEFORE_DISCOUNT)
        if _perpetual(v, prior, rules):
            flags.append(sr.PERPETUAL_SALE)
        if price < min(o["price"] for _, o in prior):
            flags.append(sr.NEW_HISTORIC_LOW)
        if low_90 is not None and price <= low_90:
            flags.append(sr.LOWEST_IN_90_DAYS)
    expires = v["expires_at"]
    if expires is not None and v["updated_at"] < expires <= v["updated_at"] + timedelta(hours=rules.ends_soon_hours):
        flags.append(sr.ENDS_SOON)
    week = [(a, o) for a, o in prior if a <= sr.SALES_TREND_DAYS * day]
    if week:
        age, start = max(week, key=lambda p: p[0])
        if age >= 3600 and v["number_sold"] is not None and start["number_sold"] is not None:
            if (v["number_sold"] - start["number_sold"]) / (age / day) >= rules.sell_out_units_per_day:
                flags.append(sr.LIKELY_TO_SELL_OUT)
    return flags


def score(v: dict[str, Any], observations: list[dict[str, Any]], offers: list[dict[str, Any]],
          rules: sr.ScoreRules) -> dict[str, Any]:
    """The score row of one version (DEAL_SCORE_SCHEMA's fields)."""
    prior = _history(v, observations)
    window = sr.OMNIBUS_DAYS * DAY.total_seconds()
    applied = [o["price"] for a, o in prior if a <= window]
    before = [p for p in prior if p[0] > window]
    if before:  # the price in effect when the window opened
        applied.append(min(before, key=lambda p: p[0])[1]["price"])
    low_30 = min(applied, default=None)
    moved = low_30 is not None and (low_30 < v["price"] or max(applied) > v["price"])
    own = low_30 if moved or _perpetual(v, prior, rules) else None
    cents = _market(v, offers, rules)
    market = None if cents is None else _median_cents(cents) / 100.0
    candidates = [(own, sr.PRIOR_30_DAY_LOW),
                  (market, sr.STREET_PRICE if (v["item_key"] or "").startswith("online|") else sr.AREA_COMPARABLE),
                  (v["value"], sr.CLAIMED_VALUE)]
    ref = min(p for p, _ in candidates if p is not None)
    kind = next(k for p, k in candidates if p == ref)
    verified = round_half_up(max(0.0, (ref - v["price"]) / ref), 4) if ref > 0 else 0.0
    s: dict[str, Any] = {
        "deal_id": v["deal_id"], "updated_at": v["updated_at"], "price": v["price"], "value": v["value"],
        "advertised_discount_pct": v["discount_pct"], "reference_price": ref, "reference_kind": kind,
        "verified_discount_pct": verified, "verified_saving": round_half_up(max(0.0, ref - v["price"]), 2),
        "prior_low_30d": low_30, "market_price": market, "market_sellers": None if cents is None else len(cents),
        "market_low": None if cents is None else cents[0] / 100.0,
        "market_high": None if cents is None else cents[-1] / 100.0,
        "item_key": v["item_key"],
    }
    s["is_genuine"] = round_half_up(v["discount_pct"] - verified, 4) <= rules.verdict_tolerance
    s["flags"] = _flags(v, s, prior, rules)
    s["explanation"] = _explain(s)
    return s


def at(base: datetime, days: float = 0, hours: float = 0) -> datetime:
    return base + timedelta(days=days, hours=hours)


_NOISE = (r"\(\s*\$?[0-9.,]+\s+value\s*\)", r"\$[0-9.,]+\s+for\s+(an?\s+)?(\$[0-9.,]+\s+worth\s+of\s+)?",
          r"(up\s+to\s+)?[0-9]+%\s+off(\s+at)?", r"\s+at\s+.*$")


def item_key(row: dict[str, Any]) -> str | None:
    """The documented item key of a deals_by_id-shaped row (pipeline/item_keys.py's docstring)."""
    import re

    text = row["title"].lower()
    for pattern in _NOISE:
        text = re.sub(pattern, " ", text)
    name = " ".join(re.sub(r"[^a-z0-9-]+", " ", text).split())
    if not re.search(r"[a-z]-?[0-9]|[0-9]-?[a-z]", name):
        return None
    if row["online"]:
        return f"online|{name}"
    return None if row["geohash"] is None else f"area:{row['geohash'][:3]}|{row['category_slug']}|{name}"


def scores_of_rows(rows: list[dict[str, Any]], rules: sr.ScoreRules) -> list[dict[str, Any]]:
    """Scores of every version among deals_by_id-shaped rows (one per version), all known to each other."""
    versions = [{**r, "item_key": item_key(r)} for r in rows]
    observations = [{"deal_id": v["deal_id"], "observed_at": v["updated_at"], "price": v["price"],
                     "number_sold": v["number_sold"]} for v in versions]
    offers = [{"item_key": v["item_key"], "deal_id": v["deal_id"], "merchant_id": v["merchant_id"],
               "observed_at": v["updated_at"], "price": v["price"], "expires_at": v["expires_at"]}
              for v in versions if v["item_key"]]
    return [score(v, observations, offers, rules) for v in versions]
