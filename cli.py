"""`exstreamly`: the project's command line. Every command has `--help`."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import click
from pydantic import ValidationError

from conf import Settings, Versions, load_settings, load_versions
from conf.settings import UnknownSettingError
from graphql_api.cli import api, token
from ingest.activity.cli import activity
from ingest.cli import crawl, fetcher, plan, simulate
from stack.errors import StackError
from stack.manager import Profile


class _Commands(click.Group):
    """The command group; a setting that is no setting, or a value that is invalid, ends any command with
    one `error:` line naming the variable, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (UnknownSettingError, ValidationError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """ExStreamly Cheap: real-time deals over Kafka, Spark, Cassandra and GraphQL."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("kafka", "cassandra", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.DEBUG)


@main.group()
def stack() -> None:
    """The local stack: Kafka (KRaft) + Cassandra from Maven Central jars on JDK 17.

    `--profile cluster` runs every distributed engine instead (stack/cluster.py): HDFS and YARN, a Spark
    standalone master with two workers, three Kafka nodes and a three-node Cassandra ring.
    """


PROFILE = click.option("--profile", type=click.Choice(["local", "cluster"]), default="local", show_default=True,
                       help="local: one Kafka and one Cassandra; cluster: HDFS, YARN, Spark standalone, "
                            "3 Kafka nodes, 3 Cassandra nodes")


@stack.command("up")
@PROFILE
def stack_up(profile: Profile) -> None:
    """Start the profile's services (a no-op for those already running) and wait until they answer."""
    from stack.manager import up

    _run_stack(lambda s, v: up(s, v, echo=click.echo, profile=profile))
    if profile == "cluster":
        click.echo('Point jobs and clients at it: eval "$(exstreamly stack env --profile cluster)"')


@stack.command("down")
@PROFILE
def stack_down(profile: Profile) -> None:
    """Stop the profile's own processes (by PID file)."""
    from stack.manager import down

    _run_stack(lambda s, v: down(s, v, echo=click.echo, profile=profile))


@stack.command("status")
@PROFILE
def stack_status(profile: Profile) -> None:
    """Show each service's PID and whether it answers; exit 1 unless all answer."""
    from stack.manager import status

    rows = status(load_settings(), load_versions(), profile)
    for row in rows:
        click.echo(f"{row.name:22s} pid={row.pid or '-':<8} {'ready ' + row.answer if row.answer else 'DOWN'}")
    sys.exit(0 if all(r.is_ready for r in rows) else 1)


@stack.command("env")
@PROFILE
def stack_env(profile: Profile) -> None:
    """Print `export` lines pointing jobs and clients at the profile: eval "$(exstreamly stack env …)"."""
    from stack.cluster import cluster_env, export_lines

    click.echo(export_lines(cluster_env(load_settings()) if profile == "cluster" else {}), nl=False)


@main.group()
def schema() -> None:
    """The Cassandra schema (conf/cassandra/schema.cql)."""


@schema.command("apply")
def schema_apply() -> None:
    """Create the keyspace and tables that do not exist yet (idempotent)."""
    from conf.clients import cassandra_cluster
    from stack.cql import apply_schema

    settings = load_settings()
    cluster = cassandra_cluster(settings)
    try:
        count = apply_schema(cluster.connect(), settings)
    finally:
        cluster.shutdown()
    click.echo(f"schema applied: {count} statements in keyspace {settings.keyspace}")


@main.command("run")
@click.option("--until-ready", is_flag=True,
              help="Stop everything once GraphQL serves a deal that came through Kafka and Spark.")
def run_all(until_ready: bool) -> None:
    """Run the platform end to end: simulator, crawler, Spark streaming jobs, GraphQL API.

    Needs the stack (`exstreamly stack up`) and the schema (`exstreamly schema apply`).
    """
    from stack.local_run import run

    _run_stack(lambda s, _v: sys.exit(run(s, until_ready=until_ready, echo=click.echo)))


@main.command("webhooks")
def webhooks() -> None:
    """Post each user's alerts to their webhook (signed, retried, dead-lettered): Kafka deal_alerts -> HTTP."""
    import threading

    from graphql_api.notify.worker import WebhookWorker

    stop = threading.Event()
    try:
        WebhookWorker(load_settings()).run(stop)
    except KeyboardInterrupt:
        stop.set()


def _run_stack(action: Callable[[Settings, Versions], object]) -> None:
    try:
        action(load_settings(), load_versions())
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


main.add_command(api)  # GraphQL API
main.add_command(token)  # its bearer tokens
for command in (simulate, plan, fetcher, crawl, activity):  # ingestion and activity simulators
    main.add_command(command)


if __name__ == "__main__":
    main()
