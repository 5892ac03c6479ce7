"""Apply `conf/cassandra/schema.cql` idempotently."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from cassandra.cluster import Session

from conf.settings import Settings

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "conf" / "cassandra" / "schema.cql"
#: How long the nodes of a cluster may take to agree on a schema change. The driver waits 10 s after
#: each DDL statement and then goes on regardless; three nodes on a busy 2-core box can take longer, and
#: the next statement, sent to a node that has not seen the keyspace yet, fails with "Keyspace ...
#: doesn't exist" (seen in CI's cluster tests).
SCHEMA_AGREEMENT_WAIT_S = 120.0
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
        wait_for_schema_agreement(session)
    log.info("schema applied: %d statements, keyspace %s", len(statements), settings.keyspace)
    return len(statements)


def wait_for_schema_agreement(session: Session, wait_s: float = SCHEMA_AGREEMENT_WAIT_S) -> None:
    """Block until every live node reports the same schema version, so the next statement, whichever
    node coordinates it, sees the last one's effect; fail clearly when they do not agree in time."""
    if not session.cluster.control_connection.wait_for_schema_agreement(wait_time=wait_s):
        raise RuntimeError(f"the Cassandra nodes did not agree on the schema within {wait_s:.0f} s (schema "
                           f"version by node, as one node's gossip knows them: {schema_versions(session)}); "
                           "check that every node is up (`exstreamly stack status`) and try again")


def schema_versions(session: Session) -> dict[str, str]:
    """The schema version of the node `session` asks and of each peer as its gossip knows it, by address."""
    local = session.execute("SELECT broadcast_address, schema_version FROM system.local").one()
    peers = session.execute("SELECT peer, schema_version FROM system.peers_v2")
    return {str(address): str(version) for address, version in [tuple(local), *map(tuple, peers)]}
