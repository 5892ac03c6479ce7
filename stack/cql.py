"""Apply `conf/cassandra/schema.cql` idempotently."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from cassandra.cluster import Session

from conf.settings import Settings

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "conf" / "cassandra" / "schema.cql"
_REPLICATION = re.compile(r"^\{\s*'class'\s*:\s*'[A-Za-z.]+'(\s*,\s*'[\w-]+'\s*:\s*'?\w+'?)*\s*\}$")


def schema_statements(settings: Settings, text: str | None = None) -> list[str]:
    """The DDL statements of the schema file with keyspace, replication and TTLs filled in."""
    if not _REPLICATION.match(settings.replication):
        raise ValueError(f"EXS_REPLICATION must be a CQL replication map, found {settings.replication!r}")
    source = text if text is not None else SCHEMA_FILE.read_text()
    body = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))
    filled = (body.replace("{keyspace}", settings.keyspace).replace("{replication}", settings.replication)
              .replace("{public_activity_ttl_s}", str(settings.activity_public_ttl_s))
              .replace("{recommend_ttl_s}", str(settings.recommend_ttl_s)))
    return [stmt.strip() for stmt in filled.split(";") if stmt.strip()]


def apply_schema(session: Session, settings: Settings) -> int:
    """Create the keyspace and every table that does not exist yet; returns statements run."""
    statements = schema_statements(settings)
    for stmt in statements:
        session.execute(stmt, timeout=60)
    session.cluster.control_connection.wait_for_schema_agreement()
    log.info("schema applied: %d statements, keyspace %s", len(statements), settings.keyspace)
    return len(statements)
