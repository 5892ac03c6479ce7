"""The fault suite's checker: what the broker acknowledged against what every table and the lake hold,
each difference counted as lost, duplicated or stale (Jepsen-style: a count per kind, not a yes/no).

- Deal tables: the acknowledged deals' newest versions through the independent oracle of
  tests/expected.py. deals_by_id and price history: a wanted row missing is lost, a row of an older
  version is stale. The sorted tables: a wanted key missing is lost; an extra key is a duplicate when
  the deal is also listed at its right key, else stale.
- The lake: every acknowledged (partition, offset) of both topics, read from the files the archive's
  commit log names (`_spark_metadata`, what Spark itself reads); an offset twice is a duplicate.
- Purchases (activity): `purchases_by_minute` against the event log's own oracle.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import pyarrow.parquet as pq

from conf.settings import Settings
from tests import expected
from tests.activity_log import LoggedEvent, expected_purchases
from tests.faults.workload import Position
from tests.integration.tables import SORTED_KEY_COLUMNS, rows


@dataclass(frozen=True)
class Tally:
    acknowledged: int
    stored: int
    lost: int = 0
    duplicated: int = 0
    stale: int = 0
    unexpected: int = 0  # stored without having been acknowledged

    @property
    def exact(self) -> bool:
        return self.lost == self.duplicated == self.stale == self.unexpected == 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def deals_by_id(session: Any, acked: list[dict[str, Any]]) -> Tally:
    want = {i: expected.deal_row(raw) for i, raw in expected.latest_by_id(acked).items()}
    got = {r["deal_id"]: r for r in rows(session, "deals_by_id")}
    return Tally(len(want), len(got), lost=len(want.keys() - got.keys()),
                 stale=sum(1 for i in want.keys() & got.keys() if got[i] != want[i]),
                 unexpected=len(got.keys() - want.keys()))


def sorted_tables(session: Any, acked: list[dict[str, Any]]) -> dict[str, Tally]:
    current = [expected.deal_row(raw) for raw in expected.latest_by_id(acked).values()]
    want = expected.sorted_table_rows(current)
    tallies = {}
    for table, columns in SORTED_KEY_COLUMNS.items():
        got = {tuple(r[c] for c in columns) for r in rows(session, table)}
        listed_right = {key[-1] for key in got & want[table]}  # deal ids at their wanted key
        extra = got - want[table]
        tallies[table] = Tally(len(want[table]), len(got), lost=len(want[table] - got),
                               duplicated=sum(1 for key in extra if key[-1] in listed_right),
                               stale=sum(1 for key in extra if key[-1] not in listed_right))
    return tallies


def price_history(session: Any, acked: list[dict[str, Any]]) -> Tally:
    want = {(v["deal_id"], v["updated_at"], v["price"])
            for v in (expected.deal_row(raw) for raw in expected.latest_by_version(acked))}
    got = {(r["deal_id"], r["observed_at"], r["price"]) for r in rows(session, "price_history_by_deal")}
    return Tally(len(want), len(got), lost=len(want - got), stale=len(got - want))


def purchases(session: Any, acked: list[LoggedEvent]) -> Tally:
    want = expected_purchases(acked)
    got = {tuple(r) for r in session.execute(
        "SELECT minute, occurred_at, event_id, user_id, quantity, amount FROM purchases_by_minute")}
    return Tally(len(want), len(got), lost=len(want - got), stale=len(got - want))


def lake(lake_dir: str, acked: set[Position], *, local_copy: Path | None = None) -> Tally:
    """Positions in the committed archive files of one topic against the acknowledged ones; `local_copy`:
    the lake directory copied from a remote file system (HDFS), read in its place."""
    found = Counter(lake_positions(Path(urlparse(lake_dir).path), local_copy))
    return Tally(len(acked), sum(found.values()), lost=len(acked - found.keys()),
                 duplicated=sum(n - 1 for n in found.values() if n > 1), unexpected=len(found.keys() - acked))


def lake_positions(root: Path, local_copy: Path | None = None) -> list[Position]:
    positions: list[Position] = []
    for path in committed_files(root, local_copy):
        table = pq.read_table(path, columns=["partition", "offset"])
        positions += zip(table.column("partition").to_pylist(), table.column("offset").to_pylist(), strict=True)
    return positions


def committed_files(root: Path, local_copy: Path | None = None) -> list[Path]:
    """The files the file sink's log (`_spark_metadata/<batch>[.compact]`) adds and does not delete:
    files of a micro-batch killed before its commit are left on disk but are not part of the output.
    The log names files by their full path under `root`; with `local_copy` they are read from there."""
    log_dir = (local_copy or root) / "_spark_metadata"
    if not log_dir.is_dir():
        return []
    entries = sorted((f for f in log_dir.iterdir() if f.name[0].isdigit()),  # not Hadoop's .crc files
                     key=lambda f: int(f.name.split(".")[0]))
    newest_compact = max((i for i, f in enumerate(entries) if f.name.endswith(".compact")), default=0)
    added: set[str] = set()
    for entry in entries[newest_compact:]:  # a compact file holds every batch up to its own
        for line in entry.read_text().splitlines()[1:]:  # the first line is the log's version
            action = orjson.loads(line)
            path = urlparse(action["path"]).path
            if action["action"] == "add":
                added.add(path)
            else:
                added.discard(path)
    if local_copy is None:
        return [Path(p) for p in sorted(added)]
    return [local_copy / Path(p).relative_to(root) for p in sorted(added)]


def write_result(s: Settings, case: str, result: dict[str, object]) -> None:
    """A case's tally and recovery time, at `.runtime/faults/<case>.json` (the README's table comes from there)."""
    out = s.runtime_dir / "faults"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{case}.json").write_text(json.dumps(result, indent=2) + "\n")
