"""Settings and version pins: typed, frozen, validated, one place for every pin."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from conf.settings import (
    EXS_NAMES_OUTSIDE_SETTINGS,
    PROJECT_ROOT,
    Settings,
    UnknownSettingError,
    load_settings,
    unknown_setting_names,
)
from conf.versions import load_versions, parse_env_file
from stack.cql import apply_schema, schema_statements


def test_defaults_point_at_the_local_stack(tmp_path):
    settings = load_settings(runtime_dir=tmp_path)
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.lake_root == (tmp_path / "lake").as_uri()
    assert settings.checkpoint_root == (tmp_path / "checkpoints").as_uri()


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("EXS_KAFKA_PORT", "19092")
    monkeypatch.setenv("EXS_LAKE_URI", "hdfs://namenode:8020/lake")
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.lake_root == "hdfs://namenode:8020/lake"


def test_settings_are_frozen():
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.kafka_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value"), [("kafka_port", "0"), ("kafka_port", "abc"), ("keyspace", "Bad-Name")])
def test_invalid_values_name_the_field(monkeypatch, field, value):
    monkeypatch.setenv(f"EXS_{field.upper()}", value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_unknown_options_are_rejected():
    with pytest.raises(ValidationError, match="kafka_prot"):
        load_settings(kafka_prot=1)


def test_a_misspelt_setting_in_the_environment_is_refused_naming_the_closest_setting(monkeypatch):
    monkeypatch.setenv("EXS_ARCHIVE_TRIGER_SECONDS", "30")
    with pytest.raises(UnknownSettingError, match=r"\(did you mean EXS_ARCHIVE_TRIGGER_SECONDS\?\)"):
        load_settings()


def test_setting_names_are_matched_without_regard_to_case_as_pydantic_reads_them():
    environ = {"exs_kafka_port": "1", "Exs_Kafka_Prot": "1", "EXS_JAVA_HOME": "/jdk", "PATH": "/bin",
               "EXS_TRIGGER_SECONDS": "1"}
    assert unknown_setting_names(environ) == ["Exs_Kafka_Prot"]


def test_every_exs_name_the_project_uses_is_a_setting_or_listed_as_read_elsewhere():
    """The allow-list is complete: a switch read outside Settings and not listed would fail every start."""
    this_file = Path(__file__).relative_to(PROJECT_ROOT).as_posix()  # its misspelt names are on purpose
    tracked = subprocess.run(["git", "grep", "-ohE", r"\bEXS_[A-Z0-9_]*[A-Z0-9]\b", "--", ".", f":!{this_file}"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.split()
    used = {name for name in tracked if re.fullmatch(r"EXS_[A-Z0-9_]+", name)} - {"EXS_NAMES_OUTSIDE_SETTINGS"}
    fields = {f"EXS_{name.upper()}" for name in Settings.model_fields}
    assert used - fields - EXS_NAMES_OUTSIDE_SETTINGS == set()
    assert EXS_NAMES_OUTSIDE_SETTINGS <= used, "a name listed as read elsewhere that nothing reads"
    assert not EXS_NAMES_OUTSIDE_SETTINGS & fields


def test_secret_key_does_not_print():
    settings = load_settings(deals_api_key="s3cret")
    assert "s3cret" not in repr(settings)
    assert settings.deals_api_key.get_secret_value() == "s3cret"


def test_versions_file_pins_the_spark_packages():
    versions = load_versions()
    import pyspark

    assert versions.spark == pyspark.__version__, "SPARK_VERSION must equal the pyspark pin"
    assert versions.spark_kafka_source == f"org.apache.spark:spark-sql-kafka-0-10_2.12:{pyspark.__version__}"
    assert versions.spark_packages.endswith("spark-cassandra-connector_2.12:3.5.1")


def test_env_file_parser_rejects_garbage():
    assert parse_env_file("# c\n\nA=1\nB = two \n") == {"A": "1", "B": "two"}
    with pytest.raises(ValueError, match="KEY=value"):
        parse_env_file("just words")


def test_schema_statements_fill_keyspace_and_replication():
    settings = load_settings(keyspace="ks1", replication="{'class': 'NetworkTopologyStrategy', 'dc1': '3'}")
    statements = schema_statements(settings)
    assert statements[0].startswith("CREATE KEYSPACE IF NOT EXISTS ks1")
    assert "'dc1': '3'" in statements[0]
    assert all("{keyspace}" not in s and "--" not in s for s in statements)
    tables = [s for s in statements[1:] if not s.startswith("ALTER TABLE")]
    assert all(s.startswith("CREATE TABLE IF NOT EXISTS ks1.") for s in tables)


def test_public_activity_tables_get_the_ttl_of_the_settings():
    statements = schema_statements(load_settings(keyspace="ks1", activity_public_ttl_s=7200))
    altered = {s.split()[2] for s in statements if s.startswith("ALTER TABLE")}
    assert altered == {f"ks1.{t}" for t in ("purchases_by_minute", "trending_categories_by_bucket", "sales_by_second",
                                            "activity_by_cell", "merchant_sales_by_category")}
    assert all(s.endswith("WITH default_time_to_live = 7200") for s in statements if s.startswith("ALTER"))


def test_websockets_are_bounded_by_default(tmp_path):
    """What ships must bound a socket without any setting (issue 11): strawberry's own defaults were
    60 s for connection_init, 100 operations per socket and no lifetime, idle or server limit."""
    s = load_settings(runtime_dir=tmp_path)
    assert s.api_ws_init_timeout_s <= 5 and s.api_ws_max_subscriptions <= 10
    assert s.api_ws_max_server_subscriptions <= 1000 and s.api_ws_max_lifetime_s <= 86_400
    assert 0 < s.api_ws_idle_timeout_s <= 3600


def test_a_public_host_without_a_profile_means_production():
    secret = "k" * 32
    assert load_settings(api_host="0.0.0.0", api_token_secret=secret).api_profile == "production"
    assert load_settings(api_host="10.1.2.3", api_profile="dev").api_profile == "dev"  # explicit wins
    assert load_settings(api_host="127.0.0.1").api_profile == "dev"


def test_production_refuses_the_development_token_key_without_printing_secrets():
    with pytest.raises(ValueError, match="EXS_API_TOKEN_SECRET") as refused:
        load_settings(api_profile="production", deals_api_key="s3cret-deals-key")
    assert "s3cret-deals-key" not in str(refused.value)


def test_schema_rejects_a_replication_that_is_not_a_map():
    with pytest.raises(ValueError, match="EXS_REPLICATION"):
        schema_statements(load_settings(replication="1; DROP KEYSPACE x"))


class _Nodes:
    """The part of a driver session `apply_schema` uses: statements run, and whether the nodes agree."""

    def __init__(self, agree: bool) -> None:
        self.agree, self.log = agree, []
        self.cluster = SimpleNamespace(control_connection=self)

    def execute(self, statement, timeout=None):
        if statement.startswith("SELECT"):  # the versions the error names
            return _Rows([("127.0.0.2", "v1")] if "system.local" in statement else [("127.0.0.3", "v2")])
        self.log.append("execute")
        return _Rows([])

    def wait_for_schema_agreement(self, wait_time):
        self.log.append("agree")
        return self.agree


class _Rows(list):
    def one(self):
        return self[0]


def test_every_schema_statement_waits_for_the_nodes_to_agree():
    """On a multi-node cluster the next statement may reach a node that has not seen the last one yet."""
    nodes = _Nodes(agree=True)
    count = apply_schema(nodes, load_settings(keyspace="ks1"))
    assert nodes.log == ["execute", "agree"] * count


def test_nodes_that_never_agree_fail_with_a_clear_error():
    nodes = _Nodes(agree=False)
    with pytest.raises(RuntimeError, match="did not agree on the schema") as failed:
        apply_schema(nodes, load_settings(keyspace="ks1"))
    assert nodes.log == ["execute", "agree"]
    assert "{'127.0.0.2': 'v1', '127.0.0.3': 'v2'}" in str(failed.value)


@pytest.mark.parametrize(("name", "value", "named"), [("EXS_KAFKA_PROT", "1", "EXS_KAFKA_PROT"),
                                                      ("EXS_KAFKA_PORT", "abc", "kafka_port")])
def test_the_command_line_ends_on_a_bad_setting_with_one_error_line(monkeypatch, name, value, named):
    from click.testing import CliRunner

    from cli import main

    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["stack", "status"])
    assert result.exit_code == 2 and result.output.startswith("error: ") and named in result.output
    assert "Traceback" not in result.output
